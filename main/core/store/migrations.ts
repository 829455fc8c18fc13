import type { Db } from './database.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Versioned schema migrations, applied in order at start. PRAGMA user_version records the
 * last one applied. Never edit a released migration: add a new one.
 */
export const MIGRATIONS: readonly Migration[] = [
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
  {
    version: 5,
    name: 'repair insane depths',
    // Before issue #14 a peer could store an event with depth up to 2^53 - 1; the room's next
    // depth then overflowed and the room answered 500 forever. Such events keep their signed
    // depth (signed_depth: what is relayed and served, byte for byte) and get a local ordering
    // depth from the time they were received; the rooms' clocks are recomputed.
    sql: `
      ALTER TABLE federation_events ADD COLUMN signed_depth INTEGER;
      CREATE TEMP TABLE depth_limit AS SELECT CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 86400000 AS max_depth;
      UPDATE federation_events SET signed_depth = depth, depth = received_at
        WHERE depth > (SELECT max_depth FROM depth_limit) OR depth < 0 OR typeof(depth) <> 'integer';
      UPDATE room_members SET event_depth = (SELECT e.depth FROM federation_events e WHERE e.event_id = room_members.event_id)
        WHERE event_id IN (SELECT event_id FROM federation_events WHERE signed_depth IS NOT NULL);
      UPDATE rooms SET last_depth = (SELECT COALESCE(MAX(e.depth), 0) FROM federation_events e WHERE e.room_id = rooms.room_id)
        WHERE last_depth > (SELECT max_depth FROM depth_limit) OR last_depth < 0;
      UPDATE rooms SET synced_depth = MIN(synced_depth, last_depth) WHERE synced_depth > (SELECT max_depth FROM depth_limit);
      DROP TABLE depth_limit;
    `,
  },
  {
    version: 6,
    name: 'reaction index, per-peer storage quota',
    sql: `
      -- Current reactions (issue #14 item 4): per (room, target, sender, key) the reaction event
      -- with the greatest display key decides, as the fold of adds and removes in display order.
      CREATE TABLE room_reactions (
        room_id       TEXT NOT NULL,
        target        TEXT NOT NULL,
        sender        TEXT NOT NULL,
        key           TEXT NOT NULL,
        present       INTEGER NOT NULL CHECK (present IN (0, 1)),
        event_id      TEXT NOT NULL,
        event_depth   INTEGER NOT NULL,
        event_origin  TEXT NOT NULL,
        PRIMARY KEY (room_id, target, sender, key)
      ) WITHOUT ROWID;
      -- The cap per user per message counts only present reactions; aggregation reads only them.
      CREATE INDEX room_reactions_by_sender ON room_reactions (room_id, target, sender, present);
      CREATE INDEX room_reactions_present ON room_reactions (room_id, target, present, key, sender);
      INSERT INTO room_reactions (room_id, target, sender, key, present, event_id, event_depth, event_origin)
        SELECT room_id, relates_to, sender, reaction_key, event_type = 'm.reaction.add', event_id, depth, origin_server
        FROM (
          SELECT *, json_extract(content, '$.key') AS reaction_key,
                 ROW_NUMBER() OVER (PARTITION BY room_id, relates_to, sender, json_extract(content, '$.key')
                                    ORDER BY depth DESC, origin_server DESC, event_id DESC) AS latest
          FROM federation_events
          WHERE event_type IN ('m.reaction.add', 'm.reaction.remove') AND relates_to IS NOT NULL
        )
        WHERE latest = 1 AND typeof(reaction_key) = 'text';

      -- Edits and deletes of a message, found without visiting its reactions.
      CREATE INDEX federation_events_relates_type ON federation_events (relates_to, event_type) WHERE relates_to IS NOT NULL;

      -- Bytes each origin server made this node store (issue #14 item 5): today (UTC day
      -- number) and in total, held events included. Written with the events.
      CREATE TABLE peer_storage (
        server_name  TEXT PRIMARY KEY,
        day          INTEGER NOT NULL,
        day_bytes    INTEGER NOT NULL,
        total_bytes  INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL
      );
      INSERT INTO peer_storage (server_name, day, day_bytes, total_bytes, updated_at)
        SELECT origin, CAST(strftime('%s', 'now') AS INTEGER) / 86400, 0, SUM(bytes), CAST(strftime('%s', 'now') AS INTEGER) * 1000
        FROM (
          SELECT origin_server AS origin, length(CAST(content AS BLOB)) + 512 AS bytes FROM federation_events WHERE received_from IS NOT NULL
          UNION ALL
          SELECT json_extract(envelope, '$.origin_server'), length(CAST(json_extract(envelope, '$.content') AS BLOB)) + 512 FROM quarantined_events
        )
        WHERE origin IS NOT NULL
        GROUP BY origin;
    `,
  },
  {
    // Issue #19: federation with the Paracord reference server (docs/PROTOCOL.md "Interop with the Paracord reference").
    version: 9,
    name: 'reference-interop',
    sql: `
      -- Which dialect a peer speaks, decided from its discovery document when it was added or
      -- last read (never guessed per message), and the id suffix ("domain") its owner bound to it.
      CREATE TABLE IF NOT EXISTS peer_dialects (
        server_name  TEXT PRIMARY KEY,
        dialect      TEXT NOT NULL CHECK (dialect IN ('node', 'reference')),
        domain       TEXT,
        version      TEXT,
        updated_at   INTEGER NOT NULL
      );
      -- The reference names edit/delete/reaction targets by the message_id its origin put into the
      -- m.message content: (room, origin, message_id) -> event id.
      CREATE TABLE IF NOT EXISTS reference_message_ids (
        room_id        TEXT NOT NULL,
        origin_server  TEXT NOT NULL,
        message_id     TEXT NOT NULL,
        event_id       TEXT NOT NULL,
        PRIMARY KEY (room_id, origin_server, message_id)
      ) WITHOUT ROWID;
      -- The poller's cursor per (reference peer, room): since_depth of its GET /events.
      CREATE TABLE IF NOT EXISTS reference_poll_cursors (
        server_name  TEXT NOT NULL,
        room_id      TEXT NOT NULL,
        since_depth  INTEGER NOT NULL DEFAULT 0,
        failures     INTEGER NOT NULL DEFAULT 0,
        next_at      INTEGER NOT NULL DEFAULT 0,
        last_error   TEXT,
        PRIMARY KEY (server_name, room_id)
      ) WITHOUT ROWID;
      -- What a reference host answered to our users' POST /join (its local id names them in kicks).
      CREATE TABLE IF NOT EXISTS reference_joins (
        room_id        TEXT NOT NULL,
        user_id        TEXT NOT NULL,
        host_server    TEXT NOT NULL,
        guild_id       TEXT NOT NULL,
        local_user_id  TEXT NOT NULL,
        joined_at      INTEGER NOT NULL,
        PRIMARY KEY (room_id, user_id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 11,
    name: 'persisted login sessions',
    sql: `
      -- Browser UI sessions (issue #16 item 1): they survive restarts, expire, and can be revoked.
      -- Only a SHA-256 hash of the cookie's token is kept; id is what the UI shows and revokes by.
      CREATE TABLE admin_sessions (
        id            TEXT PRIMARY KEY,
        token_hash    BLOB NOT NULL UNIQUE,
        created_at    INTEGER NOT NULL,
        last_used_at  INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        user_agent    TEXT,
        revoked_at    INTEGER
      );
      CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);
      -- A room's page of messages shows each own message's delivery from its outbox rows (item 5).
      CREATE INDEX federation_outbox_event ON federation_outbox (event_id);
    `,
  },
  {
    version: 12,
    name: 'room bans, read markers',
    sql: `
      -- Bans per (room, user) (issue #20): the m.member.ban / m.member.unban event with the
      -- greatest display key decides, so every server computes the same list whatever order
      -- the events arrived in. banned = 0 rows remember the unban (for that ordering).
      CREATE TABLE room_bans (
        room_id       TEXT NOT NULL,
        user_id       TEXT NOT NULL,
        banned        INTEGER NOT NULL CHECK (banned IN (0, 1)),
        by_user       TEXT NOT NULL,
        reason        TEXT,
        at            INTEGER NOT NULL,
        event_id      TEXT NOT NULL,
        event_depth   INTEGER NOT NULL,
        event_origin  TEXT NOT NULL,
        PRIMARY KEY (room_id, user_id)
      ) WITHOUT ROWID;

      -- Read markers of local users (never federated): the last message they have seen.
      CREATE TABLE room_read_markers (
        room_id       TEXT NOT NULL,
        user_id       TEXT NOT NULL,
        event_id      TEXT NOT NULL,
        depth         INTEGER NOT NULL,
        origin_server TEXT NOT NULL,
        updated_at    INTEGER NOT NULL,
        PRIMARY KEY (room_id, user_id)
      ) WITHOUT ROWID;
      -- Unread counts walk a room's messages after a position in display order
      -- (federation_events_room_type_order, from version 2).
    `,
  },
  {
    version: 13,
    name: 'message search (FTS5)',
    sql: `
      -- Full-text index of the current text of every message (issue #20 item 5): edits replace
      -- it, deletes remove it. rowid is the message's federation_events rowid.
      CREATE VIRTUAL TABLE message_search USING fts5 (
        body, room_id UNINDEXED, event_id UNINDEXED,
        tokenize = 'unicode61 remove_diacritics 2'
      );
      INSERT INTO message_search (rowid, body, room_id, event_id)
        SELECT m.rowid, COALESCE(
            (SELECT json_extract(e.content, '$.body') FROM federation_events e
              WHERE e.relates_to = m.event_id AND e.event_type = 'm.message.edit' AND e.sender = m.sender
                AND typeof(json_extract(e.content, '$.body')) = 'text'
              ORDER BY e.depth DESC, e.origin_server DESC, e.event_id DESC LIMIT 1),
            json_extract(m.content, '$.body')), m.room_id, m.event_id
        FROM federation_events m
        WHERE m.event_type = 'm.message' AND typeof(json_extract(m.content, '$.body')) = 'text'
          AND NOT EXISTS (SELECT 1 FROM federation_events d WHERE d.relates_to = m.event_id AND d.event_type = 'm.message.delete');
    `,
  },
  {
    version: 14,
    name: 'pull mode (issue #15)',
    // pull_receivers: peers that receive from us by pull (they called GET /pull); their outbox
    // rows wait to be pulled and are deleted on their ack. pull_sources: the peers we pull from,
    // with the cursor of the last page we stored (written in the transaction that stores it).
    sql: `
      CREATE TABLE IF NOT EXISTS pull_receivers (
        server_name   TEXT PRIMARY KEY,
        last_pull_at  INTEGER NOT NULL,
        acked_cursor  INTEGER NOT NULL DEFAULT 0,
        last_ack_at   INTEGER
      );
      CREATE TABLE IF NOT EXISTS pull_sources (
        server_name   TEXT PRIMARY KEY,
        cursor        INTEGER NOT NULL DEFAULT 0,
        last_pull_at  INTEGER,
        last_error    TEXT,
        updated_at    INTEGER NOT NULL
      );
    `,
  },
  {
    version: 16,
    name: 'relayed keys apart, attributed to their relaying host',
    sql: `
      -- Keys learnt from a relaying host's /keys/cache (docs/SECURITY.md item 8): never mixed with
      -- what we know directly (federation_server_keys: pinned or fetched from the server itself),
      -- attributed to the host that served them (they verify only events that host relays) and
      -- counted per host. The relayed rows of the old table cannot be attributed: dropped (they
      -- are fetched again from the host's cache when one of its events needs them).
      CREATE TABLE IF NOT EXISTS federation_relayed_keys (
        relayed_by   TEXT NOT NULL,
        server_name  TEXT NOT NULL,
        key_id       TEXT NOT NULL,
        public_key   TEXT NOT NULL,
        valid_until  INTEGER NOT NULL,
        expired_at   INTEGER,
        fetched_at   INTEGER NOT NULL,
        PRIMARY KEY (relayed_by, server_name, key_id)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS federation_relayed_keys_server ON federation_relayed_keys (server_name);
      -- Servers a host made us look keys up for (origins of events it relayed that we knew no key
      -- of): at most maxRelayedOriginsPerHost per host, whether the keys came from the origin
      -- itself or from the host's cache.
      CREATE TABLE IF NOT EXISTS federation_relayed_origins (
        relayed_by   TEXT NOT NULL,
        server_name  TEXT NOT NULL,
        first_at     INTEGER NOT NULL,
        PRIMARY KEY (relayed_by, server_name)
      ) WITHOUT ROWID;
      DELETE FROM federation_server_keys WHERE source = 'relayed';
    `,
  },
  {
    version: 17,
    name: 'Paracord reference peers: replaced keys, channel rooms',
    sql: `
      -- A Paracord reference reuses its key id ("ed25519:auto") when its key changes: the key it
      -- no longer serves is kept here with the time we learnt of its replacement, and verifies
      -- only events whose origin_ts is before that time (federation/reference/keys.ts).
      CREATE TABLE IF NOT EXISTS federation_replaced_keys (
        server_name  TEXT NOT NULL,
        key_id       TEXT NOT NULL,
        public_key   TEXT NOT NULL,
        replaced_at  INTEGER NOT NULL,
        PRIMARY KEY (server_name, key_id, public_key)
      ) WITHOUT ROWID;
      -- A changed key a reference served over an unauthenticated transport: not used until the
      -- owner confirms it (re-adding the peer with key_id and public_key); shown in its status.
      -- A reference guild's channels as rooms here (federation/reference/channel-rooms.ts): the
      -- guild room !G:D shows its default channel (row room_id = guild_room_id), channel C another
      -- room !G~C:D. Guilds joined before this version held every channel in the guild room: the
      -- channel most of their messages came from is recorded as the one it shows, so that room
      -- goes on as before; new messages of the other channels go to their own rooms, and what was
      -- polled before stays where it was (relations to it still resolve: the target lookup spans
      -- the guild room and its channel rooms). No event row moves.
      CREATE TABLE IF NOT EXISTS reference_channel_rooms (
        room_id        TEXT PRIMARY KEY,
        guild_room_id  TEXT NOT NULL,
        channel_id     TEXT NOT NULL,
        created_at     INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS reference_channel_rooms_guild ON reference_channel_rooms (guild_room_id, channel_id);
      INSERT OR IGNORE INTO reference_channel_rooms (room_id, guild_room_id, channel_id, created_at)
        SELECT g.room_id, g.room_id, (
            SELECT CAST(json_extract(e.content, '$.channel_id') AS TEXT) AS channel FROM federation_events e
            WHERE e.room_id = g.room_id AND e.event_type = 'm.message' AND json_valid(e.content) AND json_extract(e.content, '$.channel_id') IS NOT NULL
            GROUP BY channel ORDER BY COUNT(*) DESC, channel LIMIT 1),
          CAST(strftime('%s', 'now') AS INTEGER) * 1000
        FROM (SELECT DISTINCT room_id FROM reference_joins) g
        WHERE EXISTS (SELECT 1 FROM federation_events e WHERE e.room_id = g.room_id AND e.event_type = 'm.message' AND json_valid(e.content) AND json_extract(e.content, '$.channel_id') IS NOT NULL);
      CREATE TABLE IF NOT EXISTS reference_key_changes (
        server_name  TEXT PRIMARY KEY,
        key_id       TEXT NOT NULL,
        public_key   TEXT NOT NULL,
        seen_at      INTEGER NOT NULL,
        reason       TEXT NOT NULL
      );
    `,
  },
  {
    version: 18,
    name: 'who named a peer endpoint; peers known to bind requests to their destination',
    sql: `
      -- Issue #14 item 8: an endpoint is trusted by who named it and by address, not by name.
      -- 'owner' (admin POST /peers, CLI peer add), 'peer' (its invite link or POST /peering),
      -- 'discovery' (its discovery document). endpoint_addresses: JSON array of the non-public
      -- addresses an owner endpoint's host name resolved to when the owner added the peer.
      -- Rows from before cannot tell who named them: they count as the owner's with no vouched
      -- name addresses, so a literal address keeps working and a host name must resolve to public
      -- addresses until the owner adds the peer again (docs/SECURITY.md §8).
      ALTER TABLE federation_servers ADD COLUMN endpoint_source TEXT CHECK (endpoint_source IN ('owner', 'peer', 'discovery'));
      ALTER TABLE federation_servers ADD COLUMN endpoint_addresses TEXT;
      UPDATE federation_servers SET endpoint_source = 'owner' WHERE endpoint IS NOT NULL;
      -- Issue #14 item 14: servers whose discovery advertised destination binding. From then on
      -- an unbound request from them is refused even when their discovery cannot be read; a
      -- discovery read later that no longer advertises it removes the row (a downgrade).
      CREATE TABLE IF NOT EXISTS destination_binding_peers (
        server_name  TEXT PRIMARY KEY,
        seen_at      INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 19,
    name: 'when a ban reached the banned user\'s server',
    sql: `
      -- The host's time its ban event was acknowledged by the banned user's server (NULL: not
      -- yet). Only that server's events signed after it count as abuse (docs/SECURITY.md item 9):
      -- a backlog typed while it was cut off from the host is refused but not held against it.
      ALTER TABLE room_bans ADD COLUMN known_at INTEGER;
    `,
  },
  {
    version: 20,
    name: 'message search ordered by time',
    sql: `
      -- The search index's rowid becomes a time-ordered key, depth * 2^20 + a tie-breaker among
      -- messages of the same depth, so a search walks the matches newest first and stops at its
      -- page (rooms/search-index.ts). message_search_rows maps each message (its
      -- federation_events rowid) to that key.
      CREATE TABLE message_search_rows (
        event_rowid   INTEGER PRIMARY KEY,
        search_rowid  INTEGER NOT NULL UNIQUE
      );
      INSERT INTO message_search_rows (event_rowid, search_rowid)
        SELECT s.rowid, MIN(MAX(e.depth, 0), 8796093022207) * 1048576 + ROW_NUMBER() OVER (PARTITION BY MIN(MAX(e.depth, 0), 8796093022207) ORDER BY s.rowid) - 1
        FROM message_search s JOIN federation_events e ON e.rowid = s.rowid;
      CREATE VIRTUAL TABLE message_search_by_time USING fts5 (
        body, room_id UNINDEXED, event_id UNINDEXED,
        tokenize = 'unicode61 remove_diacritics 2'
      );
      INSERT INTO message_search_by_time (rowid, body, room_id, event_id)
        SELECT r.search_rowid, s.body, s.room_id, s.event_id FROM message_search s JOIN message_search_rows r ON r.event_rowid = s.rowid;
      DROP TABLE message_search;
      ALTER TABLE message_search_by_time RENAME TO message_search;
    `,
  },
  {
    version: 21,
    name: 'client transaction ids of sends',
    sql: `
      -- A send that names a client transaction id is stored once: the same id again (a retry
      -- after a connection closed before the answer) answers the event stored the first time
      -- (rooms/client-txns.ts). Kept a day; the row is written in the send's own transaction.
      CREATE TABLE IF NOT EXISTS client_txns (
        user_id     TEXT NOT NULL,
        txn_id      TEXT NOT NULL,
        event_id    TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        PRIMARY KEY (user_id, txn_id)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS client_txns_by_age ON client_txns (created_at);
    `,
  },
  {
    version: 22,
    name: 'invites whose join was sent',
    sql: `
      -- When a join was sent to the host for an invite: a retry (its answer may have been lost)
      -- is sent again whatever the invite's expiry (rooms/room-service.ts acceptInvite).
      CREATE TABLE IF NOT EXISTS room_invite_joins (
        invite_id  TEXT PRIMARY KEY,
        sent_at    INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 23,
    name: 'peers whose endpoint was never reached',
    sql: `
      -- A friend that redeemed our invite link from behind a router we could not call back
      -- (issue #32): peered, but nothing is pushed to the endpoint it named until a reach-probe
      -- through us proves it (outbox/pull-queue.ts); its events wait to be pulled.
      CREATE TABLE IF NOT EXISTS unreached_peers (
        server_name TEXT PRIMARY KEY,
        endpoint    TEXT NOT NULL,
        since       INTEGER NOT NULL,
        reason      TEXT
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 24,
    name: 'mailboxes',
    sql: `
      -- A friend's node as a mailbox (issue #32, main/core/mailbox/). As the mailbox: signed
      -- requests other peers left for a client (a peer that fetches from us), in arrival order,
      -- deleted on the client's acknowledgement or after 7 days.
      CREATE TABLE IF NOT EXISTS mailbox_items (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        recipient  TEXT NOT NULL,
        depositor  TEXT NOT NULL,
        path       TEXT NOT NULL,
        headers    TEXT NOT NULL,
        body       BLOB NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS mailbox_items_by_recipient ON mailbox_items (recipient, id);
      CREATE INDEX IF NOT EXISTS mailbox_items_by_age ON mailbox_items (created_at);
      CREATE TABLE IF NOT EXISTS mailbox_clients (
        server_name   TEXT PRIMARY KEY,
        last_fetch_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      -- As a client: the cursor of each mailbox we fetch from.
      CREATE TABLE IF NOT EXISTS mailbox_sources (
        server_name   TEXT PRIMARY KEY,
        cursor        INTEGER NOT NULL DEFAULT 0,
        last_fetch_at INTEGER,
        last_error    TEXT,
        updated_at    INTEGER NOT NULL
      ) WITHOUT ROWID;
      -- As a sender: the mailbox that took a peer's requests last (tried first next time).
      CREATE TABLE IF NOT EXISTS peer_mailboxes (
        server_name TEXT PRIMARY KEY,
        mailbox     TEXT NOT NULL,
        since       INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 25,
    name: 'reference 3.x history cursor',
    sql: `
      -- A reference 3.x pages GET /events by (depth, event_id) and answers next_depth/next_event_id
      -- (issue #33): the event id half of the cursor; no row for a v0.8.5 peer (depth only).
      CREATE TABLE IF NOT EXISTS reference_poll_cursor_ids (
        server_name    TEXT NOT NULL,
        room_id        TEXT NOT NULL,
        since_event_id TEXT NOT NULL,
        PRIMARY KEY (server_name, room_id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 26,
    name: 'peering requests and events waiting at a mailbox',
    sql: `
      -- A friend's link redeemed while its node could not be reached (issue #32): our signed
      -- peering request waits at one of the mailboxes the link names. The friend is peered (bound
      -- and pinned) only when its own signed answer comes back; until then this row says where
      -- the request waits, and the request is left there again now and then.
      -- The key of the proof a carried peering request gives instead of the link's token (a
      -- mailbox must not learn the token): HMAC-SHA256(token, 'paracord peering proof v1').
      CREATE TABLE IF NOT EXISTS peer_invite_proofs (
        invite_id TEXT PRIMARY KEY REFERENCES peer_invites (id),
        proof_key TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS pending_peerings (
        server_name     TEXT PRIMARY KEY,
        key_id          TEXT NOT NULL,
        public_key      TEXT NOT NULL,
        endpoint        TEXT NOT NULL,
        tls_fingerprint TEXT,
        token_hash      TEXT NOT NULL,
        request         TEXT NOT NULL,
        mailboxes       TEXT NOT NULL,
        waiting_at      TEXT,
        requested_at    INTEGER NOT NULL,
        expires_at      INTEGER NOT NULL,
        answered_at     INTEGER,
        error           TEXT
      ) WITHOUT ROWID;
      -- As a sender: events left at a friend's mailbox for a peer, until the mailbox says the peer
      -- took them (POST /mailbox/held) or 7 days pass: "waiting at carol.example for bob.example".
      CREATE TABLE IF NOT EXISTS mailbox_deposits (
        event_id     TEXT NOT NULL,
        destination  TEXT NOT NULL,
        mailbox      TEXT NOT NULL,
        deposit_id   INTEGER NOT NULL,
        deposited_at INTEGER NOT NULL,
        PRIMARY KEY (event_id, destination)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS mailbox_deposits_by_mailbox ON mailbox_deposits (mailbox, deposit_id);
    `,
  },
  {
    version: 27,
    name: 'members',
    sql: `
      -- Members of a small server (issue #34, main/core/members/): local users who sign in from
      -- their own devices. Passphrases only as Argon2id hashes (libsodium's crypto_pwhash_str).
      CREATE TABLE IF NOT EXISTS member_credentials (
        user_id               TEXT PRIMARY KEY REFERENCES local_users (user_id),
        passphrase_hash       TEXT NOT NULL,
        passphrase_changed_at INTEGER NOT NULL,
        display_name          TEXT,
        disabled_at           INTEGER,
        last_seen_at          INTEGER
      ) WITHOUT ROWID;
      -- One-time member links: to join (choose a name and a passphrase) or to set a new passphrase.
      -- Only the SHA-256 of the token is kept.
      CREATE TABLE IF NOT EXISTS member_links (
        id         TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        purpose    TEXT NOT NULL CHECK (purpose IN ('join', 'reset')),
        user_id    TEXT,
        note       TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at    INTEGER,
        used_by    TEXT,
        revoked_at INTEGER
      ) WITHOUT ROWID;
      -- Signed-in devices: the SHA-256 of the cookie's token, bound to the host it was issued for.
      CREATE TABLE IF NOT EXISTS member_sessions (
        id           TEXT PRIMARY KEY,
        token_hash   TEXT NOT NULL UNIQUE,
        user_id      TEXT NOT NULL,
        host         TEXT NOT NULL,
        user_agent   TEXT,
        created_at   INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS member_sessions_by_user ON member_sessions (user_id);
    `,
  },
  {
    version: 28,
    name: 'member passkeys',
    sql: `
      -- Members' passkeys (WebAuthn, issue #34, main/core/members/passkeys.ts): the public key of
      -- each credential, for the relying party (the host) it was made for; the private key never
      -- leaves the member's device. A member's user handle is random, the same for all its passkeys
      -- (its own table, not a column: every statement here may run again on a database that had it).
      CREATE TABLE IF NOT EXISTS member_passkey_handles (
        user_id TEXT PRIMARY KEY REFERENCES local_users (user_id),
        handle  TEXT NOT NULL UNIQUE
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS member_passkeys (
        id           TEXT PRIMARY KEY,
        user_id      TEXT NOT NULL REFERENCES local_users (user_id),
        rp_id        TEXT NOT NULL,
        public_key   BLOB NOT NULL,
        counter      INTEGER NOT NULL,
        transports   TEXT,
        name         TEXT,
        created_at   INTEGER NOT NULL,
        last_used_at INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS member_passkeys_by_user ON member_passkeys (user_id);
    `,
  },
  {
    version: 29,
    name: 'mailbox choices',
    sql: `
      -- As a mailbox (issue #32, main/core/mailbox/choice.ts): each client's statement, signed with
      -- its own key, that it chose us; shown to senders, who leave nothing without it. And what one
      -- depositor left for one recipient, counted for its share of the recipient's quota.
      CREATE TABLE IF NOT EXISTS mailbox_choices (
        recipient  TEXT PRIMARY KEY,
        statement  TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS mailbox_items_by_depositor ON mailbox_items (recipient, depositor);
    `,
  },
  {
    version: 30,
    name: 'relations in display order',
    sql: `
      -- A message's first delete and its author's latest edit are index lookups (red team
      -- 2026-11-26): the timeline, search and unread counts folded every edit of a message, so
      -- 20,000 edits of one message (a day's quota of one peer) made its room's page 50 times slower.
      DROP INDEX IF EXISTS federation_events_relates_type;
      CREATE INDEX federation_events_relates_type ON federation_events (relates_to, event_type, depth, origin_server, event_id)
        WHERE relates_to IS NOT NULL;
    `,
  },
  {
    version: 31,
    name: 'deposits seen held',
    sql: `
      -- When a mailbox last said it still held a deposit of ours (mailbox/deposits.ts): one its
      -- recipient takes once our event in it is too old for a room's host is sent again, re-signed.
      CREATE TABLE IF NOT EXISTS mailbox_deposits_held (
        mailbox     TEXT NOT NULL,
        deposit_id  INTEGER NOT NULL,
        seen_at     INTEGER NOT NULL,
        PRIMARY KEY (mailbox, deposit_id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 32,
    name: 'reaction counts',
    sql: `
      -- How many users have each reaction key on a message (rooms/reaction-index.ts): a page
      -- shows a message's most used keys with their counts and a few names each, read from here,
      -- so many users reacting (a member server may bring as many as it likes) cost a page no more
      -- than a few (red team 2026-11-26: 400 users x 20 keys took a page 11 -> 77 ms, 459 B -> 408 KB).
      CREATE TABLE IF NOT EXISTS room_reaction_counts (
        room_id  TEXT NOT NULL,
        target   TEXT NOT NULL,
        key      TEXT NOT NULL,
        n        INTEGER NOT NULL CHECK (n > 0),
        PRIMARY KEY (room_id, target, key)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS room_reaction_counts_by_n ON room_reaction_counts (room_id, target, n DESC, key);
      INSERT INTO room_reaction_counts (room_id, target, key, n)
        SELECT room_id, target, key, COUNT(*) FROM room_reactions WHERE present = 1 GROUP BY room_id, target, key;
    `,
  },
  {
    version: 33,
    name: 'mailbox retries',
    sql: `
      -- Requests a mailbox carried for us that our listener answered "not yet" (a limit, keys not
      -- readable now, a failure here), kept to be handed over again without holding the other
      -- depositors' mail behind them (mailbox/carried-retries.ts); each depositor's in order.
      CREATE TABLE IF NOT EXISTS mailbox_retries (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        from_server     TEXT NOT NULL,
        mailbox         TEXT NOT NULL,
        path            TEXT NOT NULL,
        key_id          TEXT NOT NULL,
        timestamp       TEXT NOT NULL,
        signature       TEXT NOT NULL UNIQUE,
        body            TEXT NOT NULL,
        kept_at         INTEGER NOT NULL,
        next_at         INTEGER NOT NULL,
        unchecked_since INTEGER
      );
      CREATE INDEX IF NOT EXISTS mailbox_retries_by_from ON mailbox_retries (from_server, id);
      CREATE INDEX IF NOT EXISTS mailbox_retries_by_next ON mailbox_retries (next_at);
    `,
  },
  {
    version: 34,
    name: 'mailbox retries: the last answer, one queue per mailbox and depositor',
    sql: `
      -- What our listener last answered a kept request (its status and error code; null for one
      -- that only queues behind its depositor's earlier ones): the owner's view says why it waits.
      ALTER TABLE mailbox_retries ADD COLUMN last_status INTEGER;
      ALTER TABLE mailbox_retries ADD COLUMN last_error TEXT;
      -- A queue is a depositor's requests through one mailbox (what one mailbox hands over in a
      -- depositor's name cannot hold what comes through the others).
      DROP INDEX IF EXISTS mailbox_retries_by_from;
      CREATE INDEX IF NOT EXISTS mailbox_retries_by_queue ON mailbox_retries (mailbox, from_server, id);
    `,
  },
  {
    version: 35,
    name: 'the search index in a file of its own',
    sql: `
      -- The search index moves to paracord-search.db (rooms/search-db.ts), rebuilt there from the
      -- events; this database names itself so that file knows which events it indexes.
      DROP TABLE IF EXISTS main.message_search;
      DROP TABLE IF EXISTS main.message_search_rows;
      DELETE FROM settings WHERE key = 'search_indexed_rowid';
      INSERT OR IGNORE INTO settings (key, value) VALUES ('database_instance', lower(hex(randomblob(16))));
    `,
  },
  {
    version: 36,
    name: 'deposits taken late, until sent again',
    sql: `
      -- Our events a mailbox held past the point a room's host accepts them (mailbox/deposits.ts),
      -- noted in the transaction that forgets their deposits and kept until the rooms queued them
      -- again, re-signed: a crash between the two no longer loses the message.
      CREATE TABLE IF NOT EXISTS mailbox_taken_late (
        event_id     TEXT NOT NULL,
        destination  TEXT NOT NULL,
        noted_at     INTEGER NOT NULL,
        PRIMARY KEY (event_id, destination)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 37,
    name: 'what became of a join sent',
    sql: `
      -- Where a join sent for an invite stands, shown with the invite (rooms/room-joins.ts): the
      -- mailbox it was left at while the host is away, or the host's refusal (a direct answer, or
      -- one carried back through a mailbox), so an invite no longer looks untouched, or as if it
      -- waits forever, once our user accepted it.
      -- The join's event id: a refusal counts only for the join sent last; \`resent\`: how often it
      -- was signed again and sent by itself after the host took it too late. Both tables are made
      -- anew and filled from the old ones (not ALTER TABLE … ADD COLUMN), so that running this
      -- again over a database that has the columns (a test's older version) works too.
      CREATE TABLE room_invite_joins_37 (
        invite_id        TEXT PRIMARY KEY,
        sent_at          INTEGER NOT NULL,
        event_id         TEXT,
        mailbox          TEXT,
        refused_at       INTEGER,
        refused_error    TEXT,
        refused_message  TEXT,
        resent           INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      INSERT INTO room_invite_joins_37 (invite_id, sent_at) SELECT invite_id, sent_at FROM room_invite_joins;
      DROP TABLE room_invite_joins;
      ALTER TABLE room_invite_joins_37 RENAME TO room_invite_joins;
      -- When each late deposit was last told to the rooms (mailbox/deposits.ts): the longest untold first.
      CREATE TABLE mailbox_taken_late_37 (
        event_id     TEXT NOT NULL,
        destination  TEXT NOT NULL,
        noted_at     INTEGER NOT NULL,
        told_at      INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (event_id, destination)
      ) WITHOUT ROWID;
      INSERT INTO mailbox_taken_late_37 (event_id, destination, noted_at) SELECT event_id, destination, noted_at FROM mailbox_taken_late;
      DROP TABLE mailbox_taken_late;
      ALTER TABLE mailbox_taken_late_37 RENAME TO mailbox_taken_late;
    `,
  },
  {
    version: 38,
    name: 'a user\'s own changes of a message',
    sql: `
      -- A message's changes (edits, deletes, reactions) by one user of one server, read for each
      -- page to say which of the viewer's still wait for a server (rooms/message-delivery.ts
      -- changesNotDelivered): without it, a message another server (or another user) changed
      -- 20,000 times made every page read them all.
      CREATE INDEX IF NOT EXISTS federation_events_relates_sender ON federation_events (relates_to, origin_server, sender) WHERE relates_to IS NOT NULL;
    `,
  },
  {
    version: 39,
    name: 'an outbox row in four b-trees, not six',
    sql: `
      -- Every queued event is written into, then removed from, each b-tree of the outbox: six made
      -- it 12 of the ~20 pages a message wrote at a chat's rate (test/bench/wal-pages-probe.ts,
      -- issue #36 goal 3). The unique key starts with the event id, so it also serves a page's
      -- delivery lookup by event id (rooms/message-delivery.ts) and its own index goes; the index on
      -- the state alone goes too (the queue's counts by state read as many entries through the
      -- ready index). Made anew (a constraint cannot be altered) and filled from the old table.
      CREATE TABLE federation_outbox_39 (
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
        UNIQUE (event_id, destination)
      );
      INSERT INTO federation_outbox_39 (id, destination, event_id, room_id, state, attempts, next_attempt_at, last_error, created_at, updated_at)
        SELECT id, destination, event_id, room_id, state, attempts, next_attempt_at, last_error, created_at, updated_at FROM federation_outbox ORDER BY id;
      -- Ids never go back: a puller acknowledges up to an id (pull/pull-queue.ts), and an id the
      -- owner saw must never name a newer entry. The old table's counter is kept, not its highest row's.
      DELETE FROM sqlite_sequence WHERE name = 'federation_outbox_39';
      INSERT INTO sqlite_sequence (name, seq) SELECT 'federation_outbox_39', seq FROM sqlite_sequence WHERE name = 'federation_outbox';
      DROP TABLE federation_outbox;
      ALTER TABLE federation_outbox_39 RENAME TO federation_outbox;
      CREATE INDEX federation_outbox_ready ON federation_outbox (destination, state, id);
    `,
  },
  {
    version: 40,
    name: 'mailboxes chosen',
    sql: `
      -- When this node last sent each mailbox its signed choice (mailbox/fetcher.ts): the choice
      -- holds a week, and out of pull mode the node goes on fetching from the mailboxes chosen in
      -- that week. Not mailbox_sources.last_fetch_at: that one says a page came (the mailboxes a
      -- node names while in pull mode), and a choice is made when asked. Seeded from it.
      CREATE TABLE IF NOT EXISTS mailbox_chosen (
        server_name TEXT PRIMARY KEY,
        chosen_at   INTEGER NOT NULL
      ) WITHOUT ROWID;
      INSERT OR IGNORE INTO mailbox_chosen (server_name, chosen_at)
        SELECT server_name, last_fetch_at FROM mailbox_sources WHERE last_fetch_at IS NOT NULL;
    `,
  },
  {
    version: 41,
    name: 'delivery notes',
    sql: `
      -- What the outbox no longer says once its rows are gone (a row is removed when its
      -- destination took the event, outbox/outbox.ts): an own message stored when no other server
      -- was to receive it ('nobody', destination ''), and an entry the owner dropped ('dropped').
      -- The message page reads them by key (rooms/message-delivery.ts): "Sent", "not delivered".
      CREATE TABLE IF NOT EXISTS delivery_notes (
        event_id    TEXT NOT NULL,
        destination TEXT NOT NULL,
        note        TEXT NOT NULL CHECK (note IN ('nobody', 'dropped')),
        PRIMARY KEY (event_id, destination)
      ) WITHOUT ROWID;
      -- Own messages stored before: those of rooms hosted here that never had a member of another server.
      -- (Rooms first, once each: a room with such a member is skipped without reading its events.)
      INSERT OR IGNORE INTO delivery_notes (event_id, destination, note)
        SELECT e.event_id, '', 'nobody'
          FROM (SELECT r.room_id, r.host_server FROM rooms r
                 WHERE NOT EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = r.room_id AND m.server_name <> r.host_server)) lonely
          JOIN federation_events e INDEXED BY federation_events_room_type_order ON e.room_id = lonely.room_id AND e.event_type = 'm.message'
         WHERE e.origin_server = lonely.host_server AND e.received_from IS NULL;
    `,
  },
  {
    version: 42,
    name: 'invites at most 31 days',
    sql: `
      -- An invite is offered at most 30 days, a relayed one a day more (rooms/authorize.ts,
      -- RoomStore.apply): one a member's server signed for "for ever" before that limit kept a
      -- no-event join open to its users. Those stored end 31 days from now.
      UPDATE room_members SET invite_expires_at = CAST(unixepoch('now') AS INTEGER) * 1000 + 31 * 86400000
       WHERE membership = 'invite' AND invite_expires_at > CAST(unixepoch('now') AS INTEGER) * 1000 + 31 * 86400000;
    `,
  },
  {
    version: 43,
    name: 'pull refusals until acknowledged',
    sql: `
      -- Events of a pulled page this node refused for good (pull/pull-refusals.ts): kept with the
      -- page's cursor, written in the transaction that saves that cursor in pull_sources, until an
      -- ack naming them (POST /pull/ack {cursor, refused}) is answered. In memory only, a crash
      -- between a page and its ack lost them, and the sender counted those events as delivered.
      CREATE TABLE IF NOT EXISTS pull_refusals (
        server_name TEXT NOT NULL,
        cursor      INTEGER NOT NULL,
        event_id    TEXT NOT NULL,
        status      INTEGER NOT NULL,
        error       TEXT NOT NULL,
        PRIMARY KEY (server_name, cursor, event_id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 44,
    name: 'a member link names the member',
    sql: `
      -- The display name the owner gave a join link (POST /members/invites {display_name}): the
      -- member's display name once it joins with that link (members/member-store.ts).
      CREATE TABLE IF NOT EXISTS member_link_names (
        link_id      TEXT PRIMARY KEY REFERENCES member_links(id) ON DELETE CASCADE,
        display_name TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 45,
    name: 'mailbox refusals',
    sql: `
      -- The recipient's side (mailbox/fetcher.ts): events of carried requests this node refused
      -- for good, per mailbox and item id (a mailbox's cursor is an item id: "up to a cursor" holds),
      -- kept until an ack naming them (POST /mailbox/ack {cursor, refused}) is answered. Written in
      -- the commit that records the request's replay entry (a copy handed over again after a crash
      -- answers "taken before" and could not say it again), and with the page's cursor. Forgotten
      -- 7 days after they were kept (kept_at): the mailbox no longer holds their items by then (a
      -- mailbox we stopped fetching from would otherwise keep them here for good).
      CREATE TABLE IF NOT EXISTS mailbox_refusals_out (
        server_name TEXT NOT NULL,
        item_id     INTEGER NOT NULL,
        event_id    TEXT NOT NULL,
        status      INTEGER NOT NULL,
        error       TEXT NOT NULL,
        kept_at     INTEGER NOT NULL,
        PRIMARY KEY (server_name, item_id, event_id)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS mailbox_refusals_out_by_age ON mailbox_refusals_out (kept_at);
      -- The mailbox's side (mailbox/mailbox-store.ts): what a recipient said it refused of an item
      -- deposited here, for that item's depositor to read with POST /mailbox/held; forgotten 10
      -- minutes after it was first read (an answer lost on the way is read again), or after 7 days.
      CREATE TABLE IF NOT EXISTS mailbox_refusals (
        item_id    INTEGER NOT NULL,
        event_id   TEXT NOT NULL,
        recipient  TEXT NOT NULL,
        depositor  TEXT NOT NULL,
        status     INTEGER NOT NULL,
        error      TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        read_at    INTEGER,
        PRIMARY KEY (item_id, event_id)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS mailbox_refusals_by_depositor ON mailbox_refusals (depositor, item_id);
      CREATE INDEX IF NOT EXISTS mailbox_refusals_by_recipient ON mailbox_refusals (recipient, depositor, item_id);
      -- The event ids each item carries (an event push's, a batch's), read from its body once at
      -- deposit: what a recipient's refusals may name, checked by index without reading a body.
      -- Deleted with their item (ack, expiry); an item deposited before this version has none.
      CREATE TABLE IF NOT EXISTS mailbox_item_events (
        item_id  INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        PRIMARY KEY (item_id, event_id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 46,
    name: 'room display names',
    sql: `
      -- A user's display name in a room: the \`display_name\` of their latest m.member.join in
      -- display order (rooms/room-store.ts folds it with the memberships; NULL when that join
      -- carries none). The join event decides, whatever membership came after it, so a member who
      -- left keeps the name their messages were sent under. Deleted with the room.
      CREATE TABLE IF NOT EXISTS room_member_names (
        room_id      TEXT NOT NULL,
        user_id      TEXT NOT NULL,
        display_name TEXT,
        event_id     TEXT NOT NULL,
        event_depth  INTEGER NOT NULL,
        event_origin TEXT NOT NULL,
        PRIMARY KEY (room_id, user_id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 47,
    name: 'events of one origin in a room',
    sql: `
      -- A member serving a restored host its own events (GET /own-events, store/federation-events.ts
      -- ofOrigin): that origin's events of the room after a cursor, in (depth, event_id) order,
      -- without a pass over every other server's events of the room.
      CREATE INDEX IF NOT EXISTS federation_events_room_origin ON federation_events (room_id, origin_server, depth, event_id);
    `,
  },
  {
    version: 48,
    name: 'membership events of one user, reaction events of one (sender, key)',
    sql: `
      -- A user who left a room reads it up to the end of its latest join (rooms/room-store.ts
      -- latestJoinEnd): that join, and the first leave or ban of the user after it, are each one
      -- seek here, however many members the room has.
      CREATE INDEX IF NOT EXISTS federation_events_room_state ON federation_events (room_id, state_key, event_type, depth, origin_server, event_id)
        WHERE state_key IS NOT NULL;
      -- Reactions as they stood at that end (rooms/reaction-index.ts aggregateUpTo): the latest add
      -- or remove of one (sender, key) on a message before a position is one seek, however many
      -- reaction events the message has (a toggling flood made each lookup a scan of all of them).
      CREATE INDEX IF NOT EXISTS federation_events_reaction_pair ON federation_events (relates_to, sender, json_extract(content, '$.key'), depth, origin_server, event_id)
        WHERE event_type IN ('m.reaction.add', 'm.reaction.remove');
    `,
  },
  {
    version: 49,
    name: 'events a destination took and held for review',
    sql: `
      -- Our events a destination answered as held (it keeps our server in quarantine: its owner
      -- decides whether they are applied there). Its outbox row is gone like any delivered one;
      -- this says it took it and has not shown it yet (rooms/message-delivery.ts \`held_there\`).
      -- Written with the rows' deletion (outbox/outbox.ts settle).
      CREATE TABLE IF NOT EXISTS delivery_held_there (
        event_id    TEXT NOT NULL,
        destination TEXT NOT NULL,
        held_at     INTEGER NOT NULL,
        PRIMARY KEY (event_id, destination)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 50,
    name: 'destinations that held our latest delivery for review',
    sql: `
      -- A destination whose node answered our latest direct delivery of our own events as held
      -- (it keeps our server in quarantine): since the first of that run, and the latest. Deleted
      -- when a later direct delivery there is taken as any other (outbox/outbox.ts settle); its
      -- peer line says so (admin peers view \`holds_ours_for_review\`).
      CREATE TABLE IF NOT EXISTS delivery_held_by (
        destination TEXT PRIMARY KEY,
        since       INTEGER NOT NULL,
        last_at     INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 51,
    name: 'carried requests their recipient keeps to take later',
    sql: `
      -- The mailbox's side (mailbox/mailbox-store.ts): items their recipient acknowledged as
      -- waiting there to be taken later (POST /mailbox/ack {waiting}): kept past its acks, still
      -- held for their depositor (named apart: POST /mailbox/held {waiting: true}), until an ack
      -- names them settled; deleted with their item (settled, or its week's end).
      CREATE TABLE IF NOT EXISTS mailbox_items_waiting (
        item_id   INTEGER PRIMARY KEY,
        recipient TEXT NOT NULL
      );
      -- The recipient's side (mailbox/carried-retries.ts): the mailbox item each kept carried
      -- request came in, to name it settled in an ack once it is taken, refused or given up.
      CREATE TABLE IF NOT EXISTS mailbox_retry_items (
        retry_id INTEGER PRIMARY KEY,
        mailbox  TEXT NOT NULL,
        item_id  INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS mailbox_retry_items_by_item ON mailbox_retry_items (mailbox, item_id);
    `,
  },
  {
    version: 52,
    name: 'deposits their recipient took to take in later',
    sql: `
      -- The depositor's side (mailbox/deposits.ts): deposits their mailbox said the recipient took
      -- and keeps to take in later (POST /mailbox/held {waiting: true}), since when: the message
      -- says so instead of "waiting at the mailbox". Deleted with their deposit.
      CREATE TABLE IF NOT EXISTS mailbox_deposits_taken (
        mailbox    TEXT NOT NULL,
        deposit_id INTEGER NOT NULL,
        since      INTEGER NOT NULL,
        PRIMARY KEY (mailbox, deposit_id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 53,
    name: 'peer rows that auto-quarantine wrote for strangers',
    sql: `
      -- When auto-quarantine (trust/abuse-monitor.ts) wrote the row of a server that had none (a
      -- stranger, under an open policy); null for every other row, and once anything else writes
      -- it (the owner, a peering). At most MAX_STRANGERS_QUARANTINED such rows: past it the
      -- oldest goes (trust/trust-store.ts quarantineAbuser).
      ALTER TABLE federation_servers ADD COLUMN auto_stranger_at INTEGER;
      CREATE INDEX IF NOT EXISTS federation_servers_auto_strangers ON federation_servers (auto_stranger_at) WHERE auto_stranger_at IS NOT NULL;
    `,
  },
  {
    version: 54,
    name: 'devices members signed in from',
    sql: `
      -- A device a member signed in from (members/member-store.ts rememberDevice): only the SHA-256
      -- of its token (the paracord_device cookie) is kept. Its sign-in attempts count against it,
      -- not against the account (members/sign-in-limiter.ts). Forgotten when the passphrase
      -- changes or the member is turned off, when the member ends the session it last opened
      -- from another device, after 400 days unused, and past 20 per member.
      CREATE TABLE IF NOT EXISTS member_devices (
        token_hash   TEXT PRIMARY KEY,
        user_id      TEXT NOT NULL,
        session_id   TEXT,
        created_at   INTEGER NOT NULL,
        last_used_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS member_devices_user ON member_devices (user_id, last_used_at);
    `,
  },
  {
    version: 55,
    name: 'what a mailbox holds, counted as it changes',
    sql: `
      -- As a mailbox (mailbox/mailbox-store.ts): the share of a recipient's quota each item counts
      -- against: its depositor's own (a server the owner allows), or '*', the one share every other
      -- depositor has together (under an open policy any server that signs may deposit, and made-up
      -- names had a share each). Decided at the deposit; the item keeps it until it goes.
      ALTER TABLE mailbox_items ADD COLUMN share TEXT NOT NULL DEFAULT '';
      UPDATE mailbox_items SET share = depositor;
      -- What is held for each recipient, and for each share of it, kept by the triggers below on
      -- every insert and delete (a deposit read COUNT and SUM over up to 20,000 items, twice, even
      -- one refused 429).
      CREATE TABLE IF NOT EXISTS mailbox_usage (
        recipient TEXT NOT NULL PRIMARY KEY,
        items     INTEGER NOT NULL,
        bytes     INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS mailbox_share_usage (
        recipient TEXT NOT NULL,
        share     TEXT NOT NULL,
        items     INTEGER NOT NULL,
        bytes     INTEGER NOT NULL,
        PRIMARY KEY (recipient, share)
      ) WITHOUT ROWID;
      INSERT INTO mailbox_usage (recipient, items, bytes) SELECT recipient, COUNT(*), SUM(LENGTH(body)) FROM mailbox_items GROUP BY recipient;
      INSERT INTO mailbox_share_usage (recipient, share, items, bytes) SELECT recipient, share, COUNT(*), SUM(LENGTH(body)) FROM mailbox_items GROUP BY recipient, share;
      CREATE TRIGGER IF NOT EXISTS mailbox_items_counted AFTER INSERT ON mailbox_items BEGIN
        INSERT INTO mailbox_usage (recipient, items, bytes) VALUES (new.recipient, 1, LENGTH(new.body))
          ON CONFLICT (recipient) DO UPDATE SET items = items + 1, bytes = bytes + excluded.bytes;
        INSERT INTO mailbox_share_usage (recipient, share, items, bytes) VALUES (new.recipient, new.share, 1, LENGTH(new.body))
          ON CONFLICT (recipient, share) DO UPDATE SET items = items + 1, bytes = bytes + excluded.bytes;
      END;
      -- An item is deposited and deleted, never changed: the counts could not follow a change.
      CREATE TRIGGER IF NOT EXISTS mailbox_items_unchanged BEFORE UPDATE OF recipient, share, body ON mailbox_items BEGIN
        SELECT RAISE(ABORT, 'a mailbox item is not changed (its counts would drift): delete it and deposit another');
      END;
      CREATE TRIGGER IF NOT EXISTS mailbox_items_uncounted AFTER DELETE ON mailbox_items BEGIN
        UPDATE mailbox_usage SET items = items - 1, bytes = bytes - LENGTH(old.body) WHERE recipient = old.recipient;
        DELETE FROM mailbox_usage WHERE recipient = old.recipient AND items <= 0;
        UPDATE mailbox_share_usage SET items = items - 1, bytes = bytes - LENGTH(old.body) WHERE recipient = old.recipient AND share = old.share;
        DELETE FROM mailbox_share_usage WHERE recipient = old.recipient AND share = old.share AND items <= 0;
      END;
    `,
  },
  {
    version: 56,
    name: 'invite links: refused call-backs counted',
    sql: `
      -- Redemptions of a link refused at the call-back (what answers at the redeemer's endpoint is
      -- not its server, or an address we do not connect to): a link that gathered
      -- MAX_REFUSED_CALLBACKS of them ends (invite-links.ts), so a holder cannot keep using it to
      -- learn which addresses of the owner's network answer TLS. refused_last: a hash of the last
      -- refused request's name, endpoint and certificate (the same request left again at a
      -- mailbox counts once).
      ALTER TABLE peer_invites ADD COLUMN refused_callbacks INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE peer_invites ADD COLUMN refused_last TEXT;
    `,
  },
];

/**
 * Brings the database to the latest version. An existing database is migrated one version per
 * transaction (each step lands whole, as its version says). A new one (version 0) gets every
 * step in one transaction: one commit, and one flush to disk, instead of one per version (39
 * then); interrupted, it is still empty and starts over.
 */
export function runMigrations(db: Db, migrations: readonly Migration[] = MIGRATIONS): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  if (current > latest) {
    throw new Error(`database schema version ${current} is newer than this program (${latest}); upgrade paracord-node`);
  }
  const step = (migration: Migration) => {
    db.exec(migration.sql);
    db.pragma(`user_version = ${migration.version}`);
  };
  if (current === 0) {
    db.transaction(() => migrations.forEach(step))();
    return;
  }
  for (const migration of migrations) {
    if (migration.version > current) db.transaction(() => step(migration))();
  }
}
