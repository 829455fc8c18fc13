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
  {
    version: 2,
    name: 'rooms, memberships, invites, outbox',
    sql: `
      -- What an event relates to (content.target of edits, deletes, reactions), for the read model.
      ALTER TABLE federation_events ADD COLUMN relates_to TEXT;
      CREATE INDEX federation_events_relates_to ON federation_events (relates_to) WHERE relates_to IS NOT NULL;
      CREATE INDEX federation_events_room_type_order ON federation_events (room_id, event_type, depth, origin_server, event_id);

      CREATE TABLE local_users (
        user_id     TEXT PRIMARY KEY,
        localpart   TEXT NOT NULL UNIQUE,
        created_at  INTEGER NOT NULL
      );

      -- Rooms this server hosts or takes part in.
      CREATE TABLE rooms (
        room_id     TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        host_server TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        last_depth  INTEGER NOT NULL DEFAULT 0,  -- hybrid logical clock of the room
        synced_depth INTEGER NOT NULL DEFAULT 0  -- catch-up watermark: host events up to here were pulled
      );

      -- Membership per (room, user); the event with the greatest display key wins, so the
      -- result does not depend on the order events arrived in.
      CREATE TABLE room_members (
        room_id        TEXT NOT NULL REFERENCES rooms (room_id),
        user_id        TEXT NOT NULL,
        server_name    TEXT NOT NULL,
        membership     TEXT NOT NULL CHECK (membership IN ('invite', 'join', 'leave')),
        role           TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'moderator', 'member')),
        invite_expires_at INTEGER,
        event_id       TEXT NOT NULL,
        event_depth    INTEGER NOT NULL,
        event_origin   TEXT NOT NULL,
        updated_at     INTEGER NOT NULL,
        PRIMARY KEY (room_id, user_id)
      );
      CREATE INDEX room_members_server ON room_members (room_id, server_name, membership);

      -- Invites received for our local users, waiting for them to accept.
      CREATE TABLE room_invites (
        invite_id    TEXT PRIMARY KEY,
        room_id      TEXT NOT NULL,
        room_name    TEXT NOT NULL,
        host_server  TEXT NOT NULL,
        inviter      TEXT NOT NULL,
        invitee      TEXT NOT NULL,
        event_id     TEXT NOT NULL,
        state        TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'declined')),
        expires_at   INTEGER NOT NULL,
        created_at   INTEGER NOT NULL,
        UNIQUE (room_id, invitee)
      );

      -- Durable outbound delivery: one row per (destination, event), written in the same
      -- transaction as the event.
      CREATE TABLE federation_outbox (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        destination      TEXT NOT NULL,
        event_id         TEXT NOT NULL,
        room_id          TEXT NOT NULL,
        state            TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed', 'expired')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  INTEGER NOT NULL DEFAULT 0,
        last_error       TEXT,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL,
        UNIQUE (destination, event_id)
      );
      CREATE INDEX federation_outbox_ready ON federation_outbox (destination, state, id);

      -- Verbatim self-signed keys documents of other servers, served to room members that
      -- cannot reach an event's origin themselves.
      CREATE TABLE federation_key_documents (
        server_name  TEXT PRIMARY KEY,
        document     TEXT NOT NULL,
        fetched_at   INTEGER NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'delivery attempts',
    sql: `
      -- Every delivery attempt, one row per event per attempt (a batch writes one per event).
      CREATE TABLE federation_delivery_attempts (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        destination  TEXT NOT NULL,
        event_id     TEXT NOT NULL,
        status       INTEGER,              -- HTTP status, NULL for a network error
        error        TEXT,
        latency_ms   INTEGER NOT NULL,
        batch_size   INTEGER NOT NULL DEFAULT 1,
        attempted_at INTEGER NOT NULL
      );
      CREATE INDEX federation_delivery_attempts_destination ON federation_delivery_attempts (destination, id);
    `,
  },
  {
    version: 4,
    name: 'peer invites, quarantine',
    sql: `
      -- One-click peering links we issued. Only a hash of the token is kept.
      CREATE TABLE peer_invites (
        id          TEXT PRIMARY KEY,
        token_hash  TEXT NOT NULL UNIQUE,
        note        TEXT,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        used_at     INTEGER,
        used_by     TEXT,
        revoked_at  INTEGER
      );

      -- Events from quarantined servers: held, unapplied and unrelayed, until released or purged.
      CREATE TABLE quarantined_events (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        origin        TEXT NOT NULL,          -- the quarantined server (event origin)
        received_from TEXT NOT NULL,
        event_id      TEXT NOT NULL UNIQUE,
        envelope      TEXT NOT NULL,          -- wire JSON, signature intact
        content_hash  TEXT NOT NULL,
        received_at   INTEGER NOT NULL
      );
      CREATE INDEX quarantined_events_origin ON quarantined_events (origin, id);

      -- Status counts the queue by state on every refresh of the UI.
      CREATE INDEX federation_outbox_state ON federation_outbox (state);
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
