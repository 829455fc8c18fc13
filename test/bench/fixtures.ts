/**
 * Large data sets for the scale benchmarks, written straight into a stopped node's database:
 * real signed events (signed with the node's own key), exactly as the node would have stored
 * them, in one transaction.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { canonicalJson } from '../../main/core/crypto/canonical-json.ts';
import { contentHash, envelopeSigningBytes, signEnvelope } from '../../main/core/federation/envelope.ts';
import { Identity } from '../../main/core/identity/identity.ts';
import { SearchIndex } from '../../main/core/rooms/search-index.ts';

/** Adds `count` events to `roomId`: 90 % messages, the rest reactions and edits of recent ones. */
export function addRoomHistory(dataDir: string, roomId: string, count: number, onProgress?: (done: number) => void): { eventIds: string[] } {
  const identity = Identity.load(join(dataDir, 'identity.json'));
  const db = new Database(join(dataDir, 'paracord.db'));
  db.pragma('journal_mode = WAL');
  const insert = db.prepare(
    `INSERT INTO federation_events (event_id, room_id, event_type, sender, origin_server, origin_ts, depth, state_key, content, signatures, content_hash, received_from, received_at, relates_to)
     VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, NULL, ?, ?)`,
  );
  const sender = `@owner:${identity.serverName}`;
  const start = Date.now() - count;
  const messages: string[] = [];
  const ids: string[] = [];
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const kind = i % 10;
      const target = messages.length > 0 ? messages[messages.length - 1 - (i % Math.min(messages.length, 20))]! : undefined;
      const [type, content]: [string, Record<string, unknown>] =
        kind === 7 && target ? ['m.reaction.add', { target, key: ['👍', '🎉', '❤️'][i % 3]! }]
        : kind === 9 && target ? ['m.message.edit', { target, body: `edited ${i}` }]
        : ['m.message', { body: `message ${i}: some text of an ordinary length for a chat message`, format: 'plain' }];
      const event = signEnvelope(
        {
          event_id: `$bulk${i.toString(36)}:${identity.serverName}`, room_id: roomId, event_type: type, sender,
          origin_server: identity.serverName, origin_ts: start + i, depth: start + i, state_key: null, content,
        },
        identity,
      );
      insert.run(event.event_id, roomId, type, sender, identity.serverName, event.origin_ts, event.depth, canonicalJson(event.content),
        canonicalJson(event.signatures), contentHash(envelopeSigningBytes(event)), Date.now(), typeof content.target === 'string' ? content.target : null);
      if (type === 'm.message') messages.push(event.event_id);
      ids.push(event.event_id);
      if (onProgress && i % 100_000 === 99_999) onProgress(i + 1);
    }
    db.prepare('UPDATE rooms SET last_depth = MAX(last_depth, ?) WHERE room_id = ?').run(start + count, roomId);
  })();
  // Searchable, as a node that stored the history itself would have it: the node's own index
  // folds it in (rooms/search-index.ts), here rather than in the node's first minutes.
  const search = new SearchIndex(db);
  search.catchUp();
  search.stop();
  // Fold the bulk write into the database now, as a node that wrote it over time would have;
  // otherwise the node's first checkpoint copies it all in the middle of a measurement.
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { eventIds: ids };
}

/** Makes `server` a joined member that cannot be reached, with `count` deliveries queued for it. */
export function addDeadPeerBacklog(dataDir: string, roomId: string, server: string, eventIds: readonly string[], count: number): void {
  const db = new Database(join(dataDir, 'paracord.db'));
  db.pragma('journal_mode = WAL');
  const now = Date.now();
  db.transaction(() => {
    db.prepare("INSERT INTO federation_servers (server_name, trust, endpoint, added_at, updated_at) VALUES (?, 'allow', 'http://127.0.0.1:9', ?, ?)").run(server, now, now);
    db.prepare(
      "INSERT INTO room_members (room_id, user_id, server_name, membership, role, event_id, event_depth, event_origin, updated_at) VALUES (?, ?, ?, 'join', 'member', '$none:x', 0, ?, ?)",
    ).run(roomId, `@u:${server}`, server, server, now);
    const insert = db.prepare('INSERT INTO federation_outbox (destination, event_id, room_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)');
    for (let i = 0; i < count; i++) insert.run(server, eventIds[i % eventIds.length]!, roomId, now, now);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}
