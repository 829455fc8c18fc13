/**
 * What a file chosen as an identity backup in the setup looks like, read before it is sent (a user
 * trial: any JSON file was announced as "Restoring the keys from …"). The same fields the node
 * checks (main/core/identity/identity.ts checkBackup); the node still has the last word.
 */
export type KeyBackupLook =
  | { kind: 'backup'; serverName: string }
  /** The app's own key file, sealed to the installation that wrote it: not a portable backup. */
  | { kind: 'sealed'; serverName: string }
  | { kind: 'other' };

const SEED = /^[0-9a-f]{64}$/;
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isKey = (value: unknown): boolean => isObject(value) && typeof value.key_id === 'string' && typeof value.seed === 'string';

export function lookAtKeyBackup(text: string): KeyBackupLook {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { kind: 'other' };
  }
  if (!isObject(raw) || raw.version !== 1 || typeof raw.server_name !== 'string' || raw.server_name === '') return { kind: 'other' };
  if (!isKey(raw.active) || !Array.isArray(raw.next) || !raw.next.every(isKey) || !Array.isArray(raw.old)) return { kind: 'other' };
  if (typeof raw.sealed_by === 'string') return { kind: 'sealed', serverName: raw.server_name };
  const seeds = [raw.active, ...raw.next].map((key) => (key as { seed: string }).seed);
  return seeds.every((seed) => SEED.test(seed)) ? { kind: 'backup', serverName: raw.server_name } : { kind: 'other' };
}
