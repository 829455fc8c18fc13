/**
 * A bare stored event (a federation_events row, no signature worth checking) for tests of what
 * is noted about our own events and the ones we relay: ours (received_from NULL, origin
 * alpha.test) or another server's received from beta.test.
 */
import type { Db } from '../../main/core/store/database.ts';

export function storeBareEvent(db: Db, eventId: string, receivedFrom: string | null): void {
  db.prepare(`INSERT INTO federation_events (event_id, room_id, event_type, sender, origin_server, origin_ts, depth, state_key, content, signatures, content_hash, received_from, received_at)
              VALUES (?, '!r:alpha.test', 'm.message', '@u:alpha.test', ?, 1, 1, NULL, '{}', '{}', 'h', ?, 1)`).run(eventId, receivedFrom === null ? 'alpha.test' : 'beta.test', receivedFrom);
}
