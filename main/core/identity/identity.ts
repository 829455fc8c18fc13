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
import type { PoolSigningKey } from '../crypto/verify-pool.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { newKeyId } from './key-id.ts';
import { KEY_ID, HEX_PUBLIC_KEY, isServerName } from '../../../shared/identifiers.ts';

/** How far ahead the published `valid_until` of the active key reaches; renewed on every fetch. */
export const KEY_VALIDITY_MS = 24 * 60 * 60 * 1000;
/**
 * `valid_until` of the keys in the reference-form `keys[]` list. A Paracord reference pins
 * keys[0] once, when its admin adds us, and refuses us after that entry's valid_until
 * (crates/paracord-api/src/routes/federation.rs:2495-2516, :434): a long deadline, so the pin
 * outlives a hobbyist's uptime. Rotating the key cuts such peers off until their admin re-adds us.
 */
export const REFERENCE_PIN_VALIDITY_MS = 10 * 365 * 24 * 60 * 60 * 1000;

const SEED_HEX = /^[0-9a-f]{64}$/;
/** A plaintext seed (hex), or a sealed one (base64) when the file says `sealed_by`. */
const seedHex = z.string().regex(/^([0-9a-f]{64}|[A-Za-z0-9+/=]{16,4096})$/);
const identityFileSchema = z.object({
  version: z.literal(1),
  server_name: z.string(),
  /** Name of the KeySealer that sealed the seeds; absent for plaintext seeds (file mode 0600). */
  sealed_by: z.string().optional(),
  active: z.object({ key_id: z.string().regex(KEY_ID), seed: seedHex, created_at: z.number().int() }),
  next: z.array(z.object({ key_id: z.string().regex(KEY_ID), seed: seedHex, created_at: z.number().int() })),
  old: z.array(z.object({ key_id: z.string().regex(KEY_ID), public_key: z.string().regex(HEX_PUBLIC_KEY), expired_at: z.number().int() })),
});
type IdentityFile = z.infer<typeof identityFileSchema>;

/**
 * Protects the private seeds at rest (docs/ARCHITECTURE.md §The desktop app, "Keys at rest"): the desktop app passes one backed by
 * Electron's safeStorage (the OS keychain); headless nodes keep plaintext seeds in a 0600 file.
 */
export interface KeySealer {
  readonly name: string;
  seal(seedHex: string): Promise<string>;
  open(sealed: string): Promise<string>;
}

export interface PublishedKey {
  key_id: string;
  public_key: string;
  valid_until: number;
}
export interface PublishedOldKey extends PublishedKey {
  expired_at: number;
}
/** A key in the reference's form (FederationServerKey, crates/paracord-federation/src/lib.rs:74-80) plus `algorithm`. */
export interface ReferenceFormKey {
  server_name: string;
  key_id: string;
  public_key: string;
  valid_until: number;
  algorithm: 'ed25519';
}
export interface KeysDocument {
  server_name: string;
  /** Every key valid now, the active one FIRST (the reference reads keys[0] only). */
  keys: ReferenceFormKey[];
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
  private readonly sealer: KeySealer | undefined;
  /** Sealed form of each seed, so a persist does not re-seal keys that did not change. */
  private readonly sealedSeeds = new Map<string, string>();

  /** `data` holds plaintext seeds here, whatever the file holds. */
  private constructor(file: string, data: IdentityFile, sealer?: KeySealer) {
    this.file = file;
    this.serverName = data.server_name;
    this.active = loadKey(data.active);
    this.next = data.next.map(loadKey);
    this.old = data.old;
    this.sealer = sealer;
  }

  /**
   * Loads an identity, opening sealed seeds with `sealer`. A plaintext file opened with a
   * sealer is sealed on the spot (migration); a sealed file cannot be opened without its sealer.
   */
  static async open(file: string, sealer?: KeySealer): Promise<Identity> {
    const data = readIdentityFile(file);
    if (data.sealed_by) {
      if (!sealer || sealer.name !== data.sealed_by) {
        throw new Error(`the keys in ${file} are sealed by ${data.sealed_by}; open them with it (the desktop app), or restore a backup`);
      }
      const openSeed = async (key: IdentityFile['active']) => {
        const seed = await sealer.open(key.seed);
        if (!SEED_HEX.test(seed)) throw new Error(`the sealed key ${key.key_id} in ${file} did not open to a valid seed`);
        return { ...key, seed };
      };
      const plain: IdentityFile = { ...data, active: await openSeed(data.active), next: await Promise.all(data.next.map(openSeed)) };
      const identity = new Identity(file, plain, sealer);
      identity.sealedSeeds.set(data.active.key_id, data.active.seed);
      data.next.forEach((k) => identity.sealedSeeds.set(k.key_id, k.seed));
      return identity;
    }
    checkPlainSeeds(data, file);
    const identity = new Identity(file, data, sealer);
    if (sealer) await identity.persist();
    return identity;
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
    if (parsed.data.sealed_by) return { ok: false, reason: 'this file is sealed to another installation; use the backup made with "Download a backup of your keys"' };
    if (![parsed.data.active, ...parsed.data.next].every((k) => SEED_HEX.test(k.seed))) return { ok: false, reason: 'the backup has no valid keys' };
    // Its name is said back to the user (the setup's refusal names it): a server name, or no backup.
    if (!isServerName(parsed.data.server_name)) return { ok: false, reason: 'the backup\'s server name is not a server name' };
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

  /**
   * A portable backup: the identity with plaintext seeds (restorable on any machine), whatever
   * protects them at rest here. The owner keeps it somewhere safe, like a password.
   */
  backup(): string {
    return JSON.stringify(this.fileData((key) => key.seedHex), null, 2) + '\n';
  }

  /** Whether the seeds are sealed at rest (by which sealer), for the status shown to the owner. */
  get sealedBy(): string | null {
    return this.sealer?.name ?? null;
  }

  /** Loads a plaintext identity file (headless nodes, tools and tests). */
  static load(file: string): Identity {
    const data = readIdentityFile(file);
    if (data.sealed_by) throw new Error(`the keys in ${file} are sealed by ${data.sealed_by}; they can only be opened by the app that sealed them`);
    checkPlainSeeds(data, file);
    return new Identity(file, data);
  }

  get keyId(): string {
    return this.active.keyId;
  }

  get publicKeyHex(): string {
    return this.active.publicKeyHex;
  }

  /**
   * The active key for the crypto pool's workers (crypto/verify-pool.ts `sign`), which sign a
   * client's batch off the main thread. Nothing else may take the secret key out of here.
   */
  poolSigningKey(): PoolSigningKey {
    return { keyId: this.active.keyId, secretKey: this.active.pair.secretKey };
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

  /** Publishes a next key so peers can learn it before the switch (stored before it is used). */
  async announceNextKey(now = Date.now()): Promise<PublishedKey> {
    const key = loadKey({ key_id: newKeyId(), seed: encodeHex(randomSeed()), created_at: now });
    await this.persist({ next: [...this.next, key] });
    this.next.push(key);
    return { key_id: key.keyId, public_key: key.publicKeyHex, valid_until: now + KEY_VALIDITY_MS };
  }

  /**
   * Rotation: the next announced key (or a new one) becomes active; the previous key becomes
   * an old key with `expired_at = now`, verifying events with origin_ts before that only.
   */
  async rotate(now = Date.now()): Promise<{ key_id: string; public_key: string; previous_key_id: string }> {
    const previous = this.active;
    const promoted = this.next[0] ?? loadKey({ key_id: newKeyId(), seed: encodeHex(randomSeed()), created_at: now });
    const old = [{ key_id: previous.keyId, public_key: previous.publicKeyHex, expired_at: now }, ...this.old];
    // Stored first: the new key never signs anything the file does not know.
    await this.persist({ active: promoted, next: this.next.slice(1), old });
    this.active = promoted;
    this.next = this.next.slice(1);
    this.old = old;
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
      keys: [this.active, ...this.next].map((k): ReferenceFormKey => ({
        server_name: this.serverName, key_id: k.keyId, public_key: k.publicKeyHex, valid_until: now + REFERENCE_PIN_VALIDITY_MS, algorithm: 'ed25519',
      })),
    };
    return { ...unsigned, signatures: { [this.serverName]: { [this.active.keyId]: this.signJson(unsigned) } } };
  }

  /** Writes the identity (with `changes` applied), sealing the seeds when a sealer is set. */
  private async persist(changes: { active?: LoadedKey; next?: LoadedKey[]; old?: IdentityFile['old'] } = {}): Promise<void> {
    const active = changes.active ?? this.active;
    const next = changes.next ?? this.next;
    const sealed = new Map<string, string>();
    if (this.sealer) {
      for (const key of [active, ...next]) sealed.set(key.keyId, this.sealedSeeds.get(key.keyId) ?? (await this.sealer.seal(key.seedHex)));
    }
    const data = this.fileData((key) => sealed.get(key.keyId) ?? key.seedHex, { active, next, old: changes.old ?? this.old });
    if (this.sealer) data.sealed_by = this.sealer.name;
    writeFileAtomic(this.file, JSON.stringify(data, null, 2) + '\n');
    this.sealedSeeds.clear();
    for (const [keyId, value] of sealed) this.sealedSeeds.set(keyId, value);
  }

  private fileData(seedOf: (key: LoadedKey) => string, state = { active: this.active, next: this.next, old: this.old }): IdentityFile {
    const fileKey = (key: LoadedKey) => ({ key_id: key.keyId, seed: seedOf(key), created_at: key.createdAt });
    return { version: 1, server_name: this.serverName, active: fileKey(state.active), next: state.next.map(fileKey), old: state.old };
  }
}

/**
 * identity.json parsed, or an Error saying why not that never quotes the file: Node's JSON.parse
 * messages show the text around the fault ("Unexpected token 'Z', ..."seed": Z"126f4fd7"..."),
 * which is the signing key. Only the position of a syntax error is said. Every reader of the file
 * that reports why it failed (the node, `init`, doctor) goes through here.
 */
export function readIdentityJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`identity file ${file} cannot be read: ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const where = /at position \d+(?: \(line \d+ column \d+\))?/.exec((error as Error).message)?.[0];
    // Not attached as the cause: its message is what must not be shown or logged.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`identity file ${file} cannot be read: it is not valid JSON${where ? ` (${where})` : ''}`);
  }
}

function readIdentityFile(file: string): IdentityFile {
  const raw = readIdentityJson(file);
  const parsed = identityFileSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`identity file ${file} is not valid: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

function checkPlainSeeds(data: IdentityFile, file: string): void {
  for (const key of [data.active, ...data.next]) {
    if (!SEED_HEX.test(key.seed)) throw new Error(`identity file ${file}: key ${key.key_id} has no valid seed`);
  }
}

function loadKey(key: { key_id: string; seed: string; created_at: number }): LoadedKey {
  const pair = keyPairFromSeed(Buffer.from(key.seed, 'hex'));
  return { keyId: key.key_id, pair, publicKeyHex: encodeHex(pair.publicKey), createdAt: key.created_at, seedHex: key.seed };
}

