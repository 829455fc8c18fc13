import { randomInt } from 'node:crypto';
import { KEY_ID } from '../../../shared/identifiers.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `ed25519:<12 random alphanumerics>` — unique enough that rotations never collide. */
export function newKeyId(): string {
  let id = '';
  for (let i = 0; i < 12; i++) id += ALPHABET[randomInt(ALPHABET.length)];
  return `ed25519:${id}`;
}

export function isKeyId(value: string): boolean {
  return KEY_ID.test(value);
}
