/**
 * The backup archive format (README "Keep it running"), one file:
 *
 *   header   "PARACBAK" (8 bytes) | format version (u8, = 1) | mode (u8: 0 plain, 1 encrypted)
 *            encrypted only: salt (16) | pwhash opslimit (u32 LE) | pwhash memlimit (u32 LE)
 *                            | secretstream header (24)
 *   frames   u32 LE length | body — plain: tag (u8) + data; encrypted: a secretstream
 *            xchacha20poly1305 message (the tag is inside), with the header bytes as
 *            additional data. The last frame carries the FINAL tag: a file cut short is
 *            detected even when it ends on a frame boundary.
 *
 * The frames carry the payload: u32 LE manifest length | manifest JSON | the files' bytes in
 * manifest order. Plain archives end with a frame holding the SHA-256 of the payload; every
 * file is also checked against the SHA-256 in the manifest. Encrypted archives use a key
 * derived from the passphrase with Argon2id (crypto_pwhash) and a random salt.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import sodium from 'sodium-native';
import { fsReason } from '../util/fs-reason.ts';

export const MAGIC = Buffer.from('PARACBAK', 'latin1');
export const FORMAT_VERSION = 1;
export const ARCHIVE_FORMAT = 'paracord-backup';
/** Payload bytes per frame. */
const CHUNK = 64 * 1024;
/** A frame longer than this is damage, not data. */
const MAX_FRAME = CHUNK + 1024;
const TAG_MESSAGE = 0;
const TAG_FINAL = 3;
/** sodium-native 5's secretstream (its bundled typings describe an older API: states are buffers, tags numbers). */
interface SecretStream {
  crypto_secretstream_xchacha20poly1305_HEADERBYTES: number;
  crypto_secretstream_xchacha20poly1305_ABYTES: number;
  crypto_secretstream_xchacha20poly1305_KEYBYTES: number;
  crypto_secretstream_xchacha20poly1305_STATEBYTES: number;
  crypto_secretstream_xchacha20poly1305_TAG_MESSAGE: number;
  crypto_secretstream_xchacha20poly1305_TAG_FINAL: number;
  crypto_secretstream_xchacha20poly1305_init_push(state: Buffer, header: Buffer, key: Buffer): void;
  crypto_secretstream_xchacha20poly1305_push(state: Buffer, ciphertext: Buffer, message: Buffer, ad: Buffer | null, tag: number): number;
  crypto_secretstream_xchacha20poly1305_init_pull(state: Buffer, header: Buffer, key: Buffer): void;
  crypto_secretstream_xchacha20poly1305_pull(state: Buffer, message: Buffer, tag: Buffer, ciphertext: Buffer, ad: Buffer | null): number;
}
const ss = sodium as unknown as SecretStream;
const SS = {
  HEADERBYTES: ss.crypto_secretstream_xchacha20poly1305_HEADERBYTES,
  ABYTES: ss.crypto_secretstream_xchacha20poly1305_ABYTES,
  KEYBYTES: ss.crypto_secretstream_xchacha20poly1305_KEYBYTES,
  STATEBYTES: ss.crypto_secretstream_xchacha20poly1305_STATEBYTES,
  TAG_MESSAGE: ss.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
  TAG_FINAL: ss.crypto_secretstream_xchacha20poly1305_TAG_FINAL,
};
/** Argon2id "moderate" limits: about a second and 256 MiB, once per backup or restore; a reader allows no more. */
export const PWHASH_OPSLIMIT = sodium.crypto_pwhash_OPSLIMIT_MODERATE;
export const PWHASH_MEMLIMIT = sodium.crypto_pwhash_MEMLIMIT_MODERATE;

export interface ManifestFile {
  /** Relative to the data dir, with forward slashes. */
  path: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  format: typeof ARCHIVE_FORMAT;
  format_version: number;
  server_name: string;
  key_id: string;
  created_at: number;
  /** The paracord-node version that made it. */
  node_version: string;
  /** SQLite user_version of the database in the archive. */
  schema_version: number;
  encrypted: boolean;
  files: ManifestFile[];
}

/** A refusal the user can act on: one clear line, nothing written. */
export class BackupError extends Error {
  override name = 'BackupError';
}

function deriveKey(passphrase: Buffer, salt: Buffer, opslimit: number, memlimit: number): Buffer {
  const key = sodium.sodium_malloc(SS.KEYBYTES) as Buffer;
  sodium.crypto_pwhash(key, passphrase, salt, opslimit, memlimit, sodium.crypto_pwhash_ALG_ARGON2ID13);
  return key;
}

/** Writes an archive frame by frame to a file descriptor. */
export class ArchiveWriter {
  private readonly fd: number;
  private readonly header: Buffer;
  private readonly state: Buffer | null;
  private readonly payloadHash = createHash('sha256');
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(fd: number, passphrase: Buffer | null) {
    this.fd = fd;
    const fixed = Buffer.from([FORMAT_VERSION, passphrase ? 1 : 0]);
    if (!passphrase) {
      this.header = Buffer.concat([MAGIC, fixed]);
      this.state = null;
    } else {
      const salt = Buffer.alloc(sodium.crypto_pwhash_SALTBYTES);
      sodium.randombytes_buf(salt);
      const limits = Buffer.alloc(8);
      limits.writeUInt32LE(PWHASH_OPSLIMIT, 0);
      limits.writeUInt32LE(PWHASH_MEMLIMIT, 4);
      const key = deriveKey(passphrase, salt, PWHASH_OPSLIMIT, PWHASH_MEMLIMIT);
      const ssHeader = Buffer.alloc(SS.HEADERBYTES);
      this.state = Buffer.alloc(SS.STATEBYTES);
      ss.crypto_secretstream_xchacha20poly1305_init_push(this.state, ssHeader, key);
      sodium.sodium_memzero(key);
      this.header = Buffer.concat([MAGIC, fixed, salt, limits, ssHeader]);
    }
    writeAll(fd, this.header);
  }

  /** Adds payload bytes. */
  write(data: Buffer): void {
    this.payloadHash.update(data);
    this.pending.push(data);
    this.pendingBytes += data.length;
    while (this.pendingBytes >= CHUNK) {
      const all = Buffer.concat(this.pending);
      this.frame(all.subarray(0, CHUNK), false);
      const rest = all.subarray(CHUNK);
      this.pending = rest.length > 0 ? [Buffer.from(rest)] : [];
      this.pendingBytes = rest.length;
    }
  }

  /** Writes the last frames; the caller fsyncs and closes. */
  finish(): void {
    const rest = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    if (this.state) {
      this.frame(rest, true);
    } else {
      if (rest.length > 0) this.frame(rest, false);
      this.frame(this.payloadHash.digest(), true);
    }
  }

  private frame(data: Buffer, final: boolean): void {
    let body: Buffer;
    if (this.state) {
      body = Buffer.alloc(data.length + SS.ABYTES);
      ss.crypto_secretstream_xchacha20poly1305_push(this.state, body, data, this.header, final ? SS.TAG_FINAL : SS.TAG_MESSAGE);
    } else {
      body = Buffer.concat([Buffer.from([final ? TAG_FINAL : TAG_MESSAGE]), data]);
    }
    const length = Buffer.alloc(4);
    length.writeUInt32LE(body.length);
    writeAll(this.fd, length);
    writeAll(this.fd, body);
  }
}

function writeAll(fd: number, data: Buffer): void {
  let offset = 0;
  while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
}

/** Reads an archive's payload frame by frame; every failure is a BackupError with a clear reason. */
export class ArchiveReader {
  private readonly fd: number;
  private position = 0;
  readonly encrypted: boolean;
  private header: Buffer = Buffer.alloc(0);
  private state: Buffer | null = null;
  private buffered: Buffer = Buffer.alloc(0);
  private ended = false;
  private readonly payloadHash = createHash('sha256');
  /** Plain archives: the payload checksum from the final frame. */
  private trailer: Buffer | null = null;

  constructor(fd: number) {
    this.fd = fd;
    // A file that does not start like a backup is not one, however short: "ends early" is only
    // for a file that starts like one and stops.
    const start = Buffer.alloc(MAGIC.length);
    const read = readSync(fd, start, 0, MAGIC.length, 0);
    if (!start.subarray(0, read).equals(MAGIC.subarray(0, read)) || read === 0) throw new BackupError('this is not a Paracord backup file (it does not start like one)');
    const fixed = this.readExactly(MAGIC.length + 2, 'this is not a complete backup');
    const version = fixed[MAGIC.length]!;
    if (version !== FORMAT_VERSION) throw new BackupError(`this backup has format version ${version}; this paracord-node reads version ${FORMAT_VERSION} (upgrade paracord-node)`);
    const mode = fixed[MAGIC.length + 1]!;
    if (mode !== 0 && mode !== 1) throw new BackupError(`this backup has an unknown mode ${mode}; the file is damaged`);
    this.encrypted = mode === 1;
    this.header = fixed;
  }

  /** Encrypted archives: derives the key and checks the stream header (wrong passphrases show at the first frame). */
  unlock(passphrase: Buffer | null): void {
    // A passphrase given for a plain archive: not the encrypted backup the owner made (a file put
    // in its place, with a key and admin token of someone else's, was restored as if it were, the
    // passphrase ignored: a red-team review, 2026-11-30).
    if (!this.encrypted && passphrase) throw new BackupError('this backup is not encrypted, but a passphrase was given: it is not an encrypted backup you made (it may have been replaced); to restore a backup you know is unencrypted, leave out --passphrase-file');
    if (!this.encrypted) return;
    if (!passphrase) throw new BackupError('this backup is encrypted: give its passphrase with --passphrase-file');
    const rest = this.readExactly(sodium.crypto_pwhash_SALTBYTES + 8 + SS.HEADERBYTES, 'the backup header is incomplete');
    const salt = rest.subarray(0, sodium.crypto_pwhash_SALTBYTES);
    const opslimit = rest.readUInt32LE(sodium.crypto_pwhash_SALTBYTES);
    const memlimit = rest.readUInt32LE(sodium.crypto_pwhash_SALTBYTES + 4);
    // Read before anything is authenticated: never more work than the node itself asks when writing.
    if (opslimit < sodium.crypto_pwhash_OPSLIMIT_MIN || opslimit > PWHASH_OPSLIMIT || memlimit < sodium.crypto_pwhash_MEMLIMIT_MIN || memlimit > PWHASH_MEMLIMIT) {
      throw new BackupError(
        `the backup header asks for key-derivation limits paracord-node never writes (opslimit ${opslimit}, memlimit ${Math.round(memlimit / 1024 ** 2)} MiB; ` +
          `at most ${PWHASH_OPSLIMIT} and ${PWHASH_MEMLIMIT / 1024 ** 2} MiB): the file is damaged or was not made by paracord-node`,
      );
    }
    const key = deriveKey(passphrase, Buffer.from(salt), opslimit, memlimit);
    this.state = Buffer.alloc(SS.STATEBYTES);
    ss.crypto_secretstream_xchacha20poly1305_init_pull(this.state, rest.subarray(rest.length - SS.HEADERBYTES), key);
    sodium.sodium_memzero(key);
    this.header = Buffer.concat([this.header, rest]);
  }

  /** Exactly `n` payload bytes. */
  read(n: number): Buffer {
    while (this.buffered.length < n) {
      if (this.ended) throw new BackupError('the backup ends early: it is truncated or damaged');
      this.buffered = Buffer.concat([this.buffered, this.nextFrame()]);
    }
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    this.payloadHash.update(out);
    return Buffer.from(out);
  }

  /** Checks that the payload ended exactly here, with its final frame (and, plain, its checksum). */
  finish(): void {
    const expected = this.payloadHash.digest();
    if (!this.ended && this.buffered.length === 0) this.buffered = this.nextFrame();
    if (!this.ended || this.buffered.length > 0) throw new BackupError('the backup has data past its end: it is damaged');
    if (!this.state && (!this.trailer || !this.trailer.equals(expected))) throw new BackupError('the backup checksum does not match: the file is damaged');
    const extra = Buffer.alloc(1);
    if (readSync(this.fd, extra, 0, 1, this.position) !== 0) throw new BackupError('the backup has bytes after its final frame: it is damaged');
  }

  private nextFrame(): Buffer {
    const length = this.readExactly(4, 'the backup is incomplete').readUInt32LE(0);
    if (length === 0 || length > MAX_FRAME + SS.ABYTES) throw new BackupError('the backup has a frame of impossible size: it is damaged');
    const body = this.readExactly(length, 'the backup is incomplete');
    if (this.state) {
      if (body.length < SS.ABYTES) throw new BackupError('the backup has a frame of impossible size: it is damaged');
      const plain = Buffer.alloc(body.length - SS.ABYTES);
      const tag = Buffer.alloc(1);
      try {
        ss.crypto_secretstream_xchacha20poly1305_pull(this.state, plain, tag, body, this.header);
      } catch {
        throw new BackupError('cannot decrypt the backup: wrong passphrase, or the file is damaged');
      }
      if (tag[0] === SS.TAG_FINAL) this.ended = true;
      return plain;
    }
    if (body[0] === TAG_FINAL) {
      this.ended = true;
      // The final frame of a plain archive is the checksum trailer, not payload.
      this.trailer = Buffer.from(body.subarray(1));
      return Buffer.alloc(0);
    }
    if (body[0] !== TAG_MESSAGE) throw new BackupError('the backup has a frame with an unknown tag: it is damaged');
    return body.subarray(1);
  }

  private readExactly(n: number, what: string): Buffer {
    const out = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const r = readSync(this.fd, out, got, n - got, this.position);
      if (r === 0) throw new BackupError(`${what}: the file ends early (truncated or damaged)`);
      got += r;
      this.position += r;
    }
    return out;
  }
}

export function openForReading(file: string): number {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new BackupError(`cannot read ${file}: ${fsReason(error)}`);
  }
  if (fstatSync(fd).isDirectory()) {
    closeSync(fd);
    throw new BackupError(`${file} is a folder, not a backup file: give the backup file's name`);
  }
  return fd;
}

export { closeSync };
