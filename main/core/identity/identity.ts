/**
 * The node's signing identity: the active ed25519 key, announced next keys, and old keys
 * (public halves only) that still verify events signed before they expired. Stored in
 * DIR/identity.json, mode 0600. Private key material never leaves this module except as
 * signatures.
 */
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { canonicalBytes } from '../crypto/canonical-json.ts';
import { keyPairFromSeed, randomSeed, sign, type SigningKeyPair } from '../crypto/ed25519.ts';
import { encodeHex } from '../crypto/hex.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { newKeyId } from './key-id.ts';
import { KEY_ID, HEX_PUBLIC_KEY } from '../../../shared/identifiers.ts';

/** How far ahead the published `valid_until` of the active key reaches; renewed on every fetch. */
export const KEY_VALIDITY_MS = 24 * 60 * 60 * 1000;

const seedHex = z.string().regex(/^[0-9a-f]{64}$/);
const identityFileSchema = z.object({
  version: z.literal(1),
  server_name: z.string(),
  active: z.object({ key_id: z.string().regex(KEY_ID), seed: seedHex, created_at: z.number().int() }),
  next: z.array(z.object({ key_id: z.string().regex(KEY_ID), seed: seedHex, created_at: z.number().int() })),
  old: z.array(z.object({ key_id: z.string().regex(KEY_ID), public_key: z.string().regex(HEX_PUBLIC_KEY), expired_at: z.number().int() })),
});
type IdentityFile = z.infer<typeof identityFileSchema>;

export interface PublishedKey {
  key_id: string;
  public_key: string;
  valid_until: number;
}
export interface PublishedOldKey extends PublishedKey {
  expired_at: number;
}
export interface KeysDocument {
  server_name: string;
  active_key: PublishedKey;
  next_keys: PublishedKey[];
  old_keys: PublishedOldKey[];
  signatures: Record<string, Record<string, string>>;
}

interface LoadedKey {
  keyId: string;
  pair: SigningKeyPair;
  publicKeyHex: string;
  createdAt: number;
  seedHex: string;
}

export class Identity {
  readonly serverName: string;
  private readonly file: string;
  private active: LoadedKey;
  private next: LoadedKey[];
  private old: IdentityFile['old'];

  private constructor(file: string, data: IdentityFile) {
    this.file = file;
    this.serverName = data.server_name;
    this.active = loadKey(data.active);
    this.next = data.next.map(loadKey);
    this.old = data.old;
  }

  static exists(file: string): boolean {
    return existsSync(file);
  }

  static create(file: string, serverName: string, now = Date.now()): Identity {
    if (existsSync(file)) throw new Error(`identity already exists at ${file}`);
    const data: IdentityFile = {
      version: 1,
      server_name: serverName,
      active: { key_id: newKeyId(), seed: encodeHex(randomSeed()), created_at: now },
      next: [],
      old: [],
    };
    writeFileAtomic(file, JSON.stringify(data, null, 2) + '\n');
    return new Identity(file, data);
  }

  /** Checks a backed-up identity file's contents; returns its server name or a reason. */
  static checkBackup(text: string): { ok: true; serverName: string } | { ok: false; reason: string } {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return { ok: false, reason: 'the backup is not a valid identity.json (not JSON)' };
    }
    const parsed = identityFileSchema.safeParse(raw);
    if (!parsed.success) return { ok: false, reason: `the backup is not a valid identity.json: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}` };
    return { ok: true, serverName: parsed.data.server_name };
  }

  /** Writes a checked backup as this data directory's identity (0600). */
  static restore(file: string, text: string): Identity {
    if (existsSync(file)) throw new Error(`identity already exists at ${file}`);
    const check = Identity.checkBackup(text);
    if (!check.ok) throw new Error(check.reason);
    writeFileAtomic(file, JSON.stringify(JSON.parse(text), null, 2) + '\n');
    return Identity.load(file);
  }

  /** The identity file's contents, for a backup the owner keeps somewhere safe. */
  backup(): string {
    return readFileSync(this.file, 'utf8');
  }

  static load(file: string): Identity {
    const parsed = identityFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) throw new Error(`identity file ${file} is not valid: ${parsed.error.issues[0]?.message}`);
    return new Identity(file, parsed.data);
  }

  get keyId(): string {
    return this.active.keyId;
  }

  get publicKeyHex(): string {
    return this.active.publicKeyHex;
  }

  /** Signs bytes with the active key; returns lowercase hex. */
  signHex(message: Buffer): string {
    return encodeHex(sign(message, this.active.pair.secretKey));
  }

  /** Signs the canonical JSON of `value` (without a `signatures` member) with the active key. */
  signJson(value: object): string {
    return this.signHex(canonicalBytes(value));
  }

  /** Every public key this server ever used, for verifying our own stored events. */
  allPublicKeys(): Array<{ key_id: string; public_key: string; expired_at: number | null }> {
    return [
      { key_id: this.active.keyId, public_key: this.active.publicKeyHex, expired_at: null },
      ...this.old.map((k) => ({ key_id: k.key_id, public_key: k.public_key, expired_at: k.expired_at })),
    ];
  }

  /** Publishes a next key so peers can learn it before the switch. */
  announceNextKey(now = Date.now()): PublishedKey {
    const key = loadKey({ key_id: newKeyId(), seed: encodeHex(randomSeed()), created_at: now });
    this.next.push(key);
    this.persist();
    return { key_id: key.keyId, public_key: key.publicKeyHex, valid_until: now + KEY_VALIDITY_MS };
  }

  /**
   * Rotation: the next announced key (or a new one) becomes active; the previous key becomes
   * an old key with `expired_at = now`, verifying events with origin_ts before that only.
   */
  rotate(now = Date.now()): { key_id: string; public_key: string; previous_key_id: string } {
    const previous = this.active;
    const promoted = this.next.shift() ?? loadKey({ key_id: newKeyId(), seed: encodeHex(randomSeed()), created_at: now });
    this.old.unshift({ key_id: previous.keyId, public_key: previous.publicKeyHex, expired_at: now });
    this.active = promoted;
    this.persist();
    return { key_id: promoted.keyId, public_key: promoted.publicKeyHex, previous_key_id: previous.keyId };
  }

  /** The self-signed keys document served at /_paracord/federation/v1/keys. */
  keysDocument(now = Date.now()): KeysDocument {
    const validUntil = now + KEY_VALIDITY_MS;
    const unsigned = {
      server_name: this.serverName,
      active_key: { key_id: this.active.keyId, public_key: this.active.publicKeyHex, valid_until: validUntil },
      next_keys: this.next.map((k) => ({ key_id: k.keyId, public_key: k.publicKeyHex, valid_until: validUntil })),
      old_keys: this.old.map((k) => ({ key_id: k.key_id, public_key: k.public_key, expired_at: k.expired_at, valid_until: k.expired_at })),
    };
    return { ...unsigned, signatures: { [this.serverName]: { [this.active.keyId]: this.signJson(unsigned) } } };
  }

  private persist(): void {
    const data: IdentityFile = {
      version: 1,
      server_name: this.serverName,
      active: toFileKey(this.active),
      next: this.next.map(toFileKey),
      old: this.old,
    };
    writeFileAtomic(this.file, JSON.stringify(data, null, 2) + '\n');
  }
}

function loadKey(key: { key_id: string; seed: string; created_at: number }): LoadedKey {
  const pair = keyPairFromSeed(Buffer.from(key.seed, 'hex'));
  return { keyId: key.key_id, pair, publicKeyHex: encodeHex(pair.publicKey), createdAt: key.created_at, seedHex: key.seed };
}

function toFileKey(key: LoadedKey): IdentityFile['active'] {
  return { key_id: key.keyId, seed: key.seedHex, created_at: key.createdAt };
}
