/**
 * The keys we know of a server directly: pinned by the owner (admin POST /peers, invite links) or
 * fetched from the server itself, in `federation_server_keys` (docs/ARCHITECTURE.md "Remote
 * keys", docs/SECURITY.md item 8). Only they verify signed requests. Direct knowledge supersedes
 * what relaying hosts said about a server (relayed-keys.ts): storing it drops theirs.
 */
import type { Statement } from 'better-sqlite3';
import { conflict } from '../../errors.ts';
import type { Db } from '../../store/database.ts';
import type { RemoteKeysDocument } from '../keys-document.ts';
import type { ReplacedKeys } from '../reference/key-replacement.ts';

export interface ServerKeyRow {
  server_name: string;
  key_id: string;
  public_key: string;
  valid_until: number;
  expired_at: number | null;
  source: 'pinned' | 'fetched' | 'relayed';
  fetched_at: number;
}

export interface DirectKeysOptions {
  /** Whether a server speaks the reference dialect (ServerKeys.isReference, read at each use). */
  isReference: (serverName: string) => boolean;
  /** Keys a reference peer replaced under the same id (ServerKeys.replaced). */
  replaced: ReplacedKeys;
  /** Called when keys of a server were stored (the look-ups' negative cache forgets that server). */
  learnt: (serverName: string) => void;
}

export class DirectKeys {
  private readonly db: Db;
  private readonly options: DirectKeysOptions;
  private readonly getStmt;

  constructor(db: Db, options: DirectKeysOptions) {
    this.db = db;
    this.options = options;
    this.getStmt = db.prepare<[string, string], ServerKeyRow>('SELECT * FROM federation_server_keys WHERE server_name = ? AND key_id = ?');
  }

  private isReference(serverName: string): boolean {
    return this.options.isReference(serverName);
  }

  private get replaced(): ReplacedKeys {
    return this.options.replaced;
  }

  /** Key rows are read for every signed request and event; cached, dropped on every write. */
  private readonly cache = new Map<string, ServerKeyRow | undefined>();

  /** A key we know directly (pinned, or fetched from the server itself); never a relayed one. */
  get(serverName: string, keyId: string): ServerKeyRow | undefined {
    const key = `${serverName} ${keyId}`;
    if (this.cache.has(key)) return this.cache.get(key);
    let row = this.getStmt.get(serverName, keyId);
    if (row?.source === 'relayed') row = undefined; // none since migration 16; never trusted directly
    // Unknown ids are not cached: the negative cache in lookup() handles them.
    if (row) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, row);
    }
    return row;
  }

  private forget(serverName: string): void {
    for (const key of this.cache.keys()) if (key.startsWith(`${serverName} `)) this.cache.delete(key);
  }

  list(serverName: string): ServerKeyRow[] {
    return this.db.prepare<[string], ServerKeyRow>('SELECT * FROM federation_server_keys WHERE server_name = ? ORDER BY fetched_at').all(serverName);
  }

  /** Whether we know any key of `serverName` directly (pinned by the owner, or fetched from it). */
  hasDirectKeys(serverName: string): boolean {
    this.directStmt ??= this.db.prepare<[string], { one: number }>("SELECT 1 AS one FROM federation_server_keys WHERE server_name = ? AND source IN ('pinned', 'fetched') LIMIT 1");
    return this.directStmt.get(serverName) !== undefined;
  }
  private directStmt: Statement<[string], { one: number }> | undefined;

  /**
   * Pins a key the owner gave us (admin POST /peers, invite links). The ONE writer that binds a
   * public key to a key id: an id once bound to a public key is never re-bound to another
   * (docs/PROTOCOL.md "Pinned keys"): 409 `key_id_bound`, nothing changed. The one exception is
   * `referenceReplacement`, for a peer already stored as a reference (it names every key
   * `ed25519:auto`, reference/key-replacement.ts): the replaced key is retired, not forgotten.
   */
  pin(serverName: string, keyId: string, publicKey: string, now = Date.now(), options: { referenceReplacement?: boolean } = {}): void {
    const previous = this.getStmt.get(serverName, keyId);
    const rebinding = previous !== undefined && previous.public_key !== publicKey;
    const replacing = options.referenceReplacement === true && this.isReference(serverName);
    if (rebinding && !replacing) {
      throw conflict(
        'key_id_bound',
        `${serverName}'s key ${keyId} is already bound here to another public key (${previous.public_key.slice(0, 16)}…, not ${publicKey.slice(0, 16)}…); a key id is never re-bound: nothing was changed`,
      );
    }
    this.forget(serverName);
    if (replacing) {
      // The key this one replaces keeps verifying older events, from when the new key was first
      // seen (a change the owner now confirms) or from now.
      const pending = this.replaced.pending(serverName);
      if (rebinding) this.replaced.retire(serverName, keyId, previous.public_key, pending?.public_key === publicKey ? pending.seen_at : now);
      if (pending?.public_key === publicKey) this.replaced.clearPending(serverName);
    }
    this.db
      .prepare(
        `INSERT INTO federation_server_keys (server_name, key_id, public_key, valid_until, expired_at, source, fetched_at)
         VALUES (?, ?, ?, ?, NULL, 'pinned', ?)
         ON CONFLICT (server_name, key_id) DO UPDATE SET public_key = excluded.public_key, source = 'pinned', fetched_at = excluded.fetched_at`,
      )
      .run(serverName, keyId, publicKey, Number.MAX_SAFE_INTEGER, now);
    this.db.prepare('DELETE FROM federation_relayed_keys WHERE server_name = ?').run(serverName);
  }

  /** The verbatim keys document last fetched from a server, if any. */
  cachedDocument(serverName: string): unknown {
    const row = this.db.prepare<[string], { document: string }>('SELECT document FROM federation_key_documents WHERE server_name = ?').get(serverName);
    return row ? JSON.parse(row.document) : undefined;
  }

  /**
   * Stores a verified keys document. A pinned key must still be listed (active or old):
   * a document that drops it is refused, so whoever answers at the endpoint cannot swap
   * the identity the owner pinned. Expiry only moves forward: an old key never becomes
   * current again. A document that expires a current key of ours (listing it as old) is taken
   * only with `rotation`: read at the address we know the server by (its own rotation), or a
   * change the owner confirmed; otherwise 409 `already_peer`, nothing changed.
   */
  store(document: RemoteKeysDocument, now = Date.now(), raw?: unknown, options: { rotation?: boolean } = {}): void {
    const source = 'fetched';
    const server = document.server_name;
    if (options.rotation !== true) {
      const expiring = document.old_keys.find((k) => {
        const held = this.get(server, k.key_id);
        return held !== undefined && held.expired_at === null && held.public_key === k.public_key;
      });
      if (expiring) {
        throw conflict('already_peer', `keys of ${server} served there expire its key ${expiring.key_id}, which it holds here as current; only its own rotation (read at the address this server knows it by) or the owner's confirmed change does that: nothing was changed`);
      }
    }
    const listed = new Map<string, string>();
    listed.set(document.active_key.key_id, document.active_key.public_key);
    for (const k of document.next_keys) listed.set(k.key_id, k.public_key);
    for (const k of document.old_keys) listed.set(k.key_id, k.public_key);
    for (const pinned of this.list(server).filter((k) => k.source === 'pinned')) {
      if (listed.get(pinned.key_id) !== pinned.public_key) {
        throw new Error(`keys of ${server} no longer list the pinned key ${pinned.key_id}`);
      }
    }
    this.forget(server);
    const upsert = this.db.prepare(
      `INSERT INTO federation_server_keys (server_name, key_id, public_key, valid_until, expired_at, source, fetched_at)
       VALUES (@server, @key_id, @public_key, @valid_until, @expired_at, @source, @now)
       ON CONFLICT (server_name, key_id) DO UPDATE SET
         valid_until = MAX(federation_server_keys.valid_until, excluded.valid_until),
         expired_at = CASE
           WHEN federation_server_keys.expired_at IS NULL THEN excluded.expired_at
           WHEN excluded.expired_at IS NULL THEN federation_server_keys.expired_at
           ELSE MIN(federation_server_keys.expired_at, excluded.expired_at) END,
         fetched_at = excluded.fetched_at
       WHERE federation_server_keys.public_key = excluded.public_key`,
    );
    this.db.transaction(() => {
      const current = [document.active_key, ...document.next_keys];
      for (const k of current) upsert.run({ server, key_id: k.key_id, public_key: k.public_key, valid_until: k.valid_until, expired_at: null, now, source });
      for (const k of document.old_keys) upsert.run({ server, key_id: k.key_id, public_key: k.public_key, valid_until: k.valid_until, expired_at: k.expired_at, now, source });
      // Direct knowledge of the server supersedes whatever relaying hosts said about it.
      this.db.prepare('DELETE FROM federation_relayed_keys WHERE server_name = ?').run(server);
      if (raw !== undefined) {
        this.db
          .prepare('INSERT INTO federation_key_documents (server_name, document, fetched_at) VALUES (?, ?, ?) ON CONFLICT (server_name) DO UPDATE SET document = excluded.document, fetched_at = excluded.fetched_at')
          .run(server, JSON.stringify(raw), now);
      }
    })();
    this.options.learnt(server);
  }
}
