/**
 * Key replacement for Paracord reference peers (docs/PROTOCOL.md "Interop with the Paracord
 * reference"). The reference names its one key `ed25519:auto` whatever key it holds
 * (federation.rs:730-761), so a new key arrives under the id we already pinned. The rule:
 *
 * - a changed key is accepted under the same trust rule as the first one: an authenticated
 *   transport (https: a CA-valid certificate, or the certificate the owner pinned), or the
 *   owner's confirmation (re-adding the peer with `key_id` + `public_key`). Until then it is a
 *   pending change, shown with its reason in the peer's status, and not used;
 * - the key it replaces is kept with the time we learnt of the replacement and verifies only
 *   events whose origin_ts is before that time (never a request);
 * - a pending change, once confirmed, dates the replacement from when the new key was first seen.
 */
import type { Db } from '../../store/database.ts';

/** Replaced keys kept per server (the newest): a server that keeps changing keys cannot grow the table. */
export const MAX_REPLACED_KEYS_PER_SERVER = 16;

export interface PendingKeyChange {
  server_name: string;
  key_id: string;
  public_key: string;
  seen_at: number;
  reason: string;
}

export class ReplacedKeys {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /** Keeps a key the server no longer serves: it verifies events before `replacedAt` only. */
  retire(serverName: string, keyId: string, publicKey: string, replacedAt: number): void {
    this.db
      .prepare(
        `INSERT INTO federation_replaced_keys (server_name, key_id, public_key, replaced_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (server_name, key_id, public_key) DO UPDATE SET replaced_at = MIN(replaced_at, excluded.replaced_at)`,
      )
      .run(serverName, keyId, publicKey, replacedAt);
    this.db
      .prepare(
        `DELETE FROM federation_replaced_keys WHERE server_name = ? AND public_key NOT IN (
           SELECT public_key FROM federation_replaced_keys WHERE server_name = ? ORDER BY replaced_at DESC LIMIT ?)`,
      )
      .run(serverName, serverName, MAX_REPLACED_KEYS_PER_SERVER);
  }

  /** Public keys once served under `keyId` that may verify an event made at `originTs`. */
  usableFor(serverName: string, keyId: string, originTs: number): string[] {
    this.usableStmt ??= this.db.prepare<[string, string, number], { public_key: string }>(
      'SELECT public_key FROM federation_replaced_keys WHERE server_name = ? AND key_id = ? AND replaced_at > ? ORDER BY replaced_at DESC LIMIT 8',
    );
    return this.usableStmt.all(serverName, keyId, originTs).map((r) => r.public_key);
  }
  private usableStmt: import('better-sqlite3').Statement<[string, string, number], { public_key: string }> | undefined;

  list(serverName: string): Array<{ key_id: string; public_key: string; replaced_at: number }> {
    return this.db.prepare<[string], { key_id: string; public_key: string; replaced_at: number }>('SELECT key_id, public_key, replaced_at FROM federation_replaced_keys WHERE server_name = ? ORDER BY replaced_at').all(serverName);
  }

  /** A changed key seen over an unauthenticated transport: waits for the owner (first sighting kept). */
  recordPending(change: PendingKeyChange): void {
    this.db
      .prepare(
        `INSERT INTO reference_key_changes (server_name, key_id, public_key, seen_at, reason) VALUES (@server_name, @key_id, @public_key, @seen_at, @reason)
         ON CONFLICT (server_name) DO UPDATE SET reason = excluded.reason,
           seen_at = CASE WHEN reference_key_changes.public_key = excluded.public_key THEN reference_key_changes.seen_at ELSE excluded.seen_at END,
           key_id = excluded.key_id, public_key = excluded.public_key`,
      )
      .run(change);
  }

  pending(serverName: string): PendingKeyChange | undefined {
    return this.db.prepare<[string], PendingKeyChange>('SELECT * FROM reference_key_changes WHERE server_name = ?').get(serverName);
  }

  clearPending(serverName: string): void {
    this.db.prepare('DELETE FROM reference_key_changes WHERE server_name = ?').run(serverName);
  }
}

/** Why a changed key was not taken, in the words the peer's status shows. */
export function pendingKeyChangeReason(serverName: string, keyId: string, oldKey: string, newKey: string): string {
  return (
    `${serverName} now serves a different key under ${keyId} (${newKey.slice(0, 16)}…, was ${oldKey.slice(0, 16)}…) over plain http, where anyone on the path could swap it. ` +
    'Its events signed with the new key are not accepted until you confirm it: check the new key with its admin, then add the server again with key_id and public_key (or reach it over https)'
  );
}
