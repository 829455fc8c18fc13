import type { Db } from './database.ts';

/**
 * Versioned schema migrations, applied in order at start. PRAGMA user_version records the
 * last one applied. Never edit a released migration: add a new one.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'federation core',
    sql: `
      CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );

      -- Every remote server we know of, with the owner's trust decision about it.
      CREATE TABLE federation_servers (
        server_name      TEXT PRIMARY KEY,
        trust            TEXT NOT NULL CHECK (trust IN ('allow', 'block', 'quarantine')),
        endpoint         TEXT,            -- explicit federation endpoint (LAN hosts); NULL = discovery
        tls_fingerprint  TEXT,            -- pinned SHA-256 certificate fingerprint, if any
        reason           TEXT,
        until_ms         INTEGER,
        rate_per_second  REAL,
        rate_burst       INTEGER,
        added_at         INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL,
        last_seen_at     INTEGER
      );

      -- Verify keys of remote servers (and nothing of ours: our keys live in identity.json).
      CREATE TABLE federation_server_keys (
        server_name  TEXT NOT NULL,
        key_id       TEXT NOT NULL,
        public_key   TEXT NOT NULL,
        valid_until  INTEGER NOT NULL,
        expired_at   INTEGER,             -- set once the key is an old key: verifies events before it only
        source       TEXT NOT NULL CHECK (source IN ('pinned', 'fetched', 'relayed')),
        fetched_at   INTEGER NOT NULL,
        PRIMARY KEY (server_name, key_id)
      );

      CREATE TABLE federation_events (
        event_id       TEXT PRIMARY KEY,
        room_id        TEXT NOT NULL,
        event_type     TEXT NOT NULL,
        sender         TEXT NOT NULL,
        origin_server  TEXT NOT NULL,
        origin_ts      INTEGER NOT NULL,
        depth          INTEGER NOT NULL,
        state_key      TEXT,
        content        TEXT NOT NULL,     -- canonical JSON
        signatures     TEXT NOT NULL,     -- canonical JSON
        content_hash   TEXT NOT NULL,     -- sha256 of the signed bytes: same id + other hash = conflict
        received_from  TEXT,              -- NULL for events made here
        received_at    INTEGER NOT NULL
      );
      CREATE INDEX federation_events_room_order ON federation_events (room_id, depth, origin_server, event_id);

      -- Signed requests already seen, kept for the skew window so a replay is refused (409)
      -- even across a restart.
      CREATE TABLE federation_request_replay (
        signature   TEXT PRIMARY KEY,
        origin      TEXT NOT NULL,
        expires_at  INTEGER NOT NULL
      );
      CREATE INDEX federation_request_replay_expiry ON federation_request_replay (expires_at);
    `,
  },
];

export function runMigrations(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  if (current > latest) {
    throw new Error(`database schema version ${current} is newer than this program (${latest}); upgrade paracord-node`);
  }
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
}
