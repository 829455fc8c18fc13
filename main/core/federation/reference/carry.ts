/**
 * What a Paracord reference 3.x would refuse or drop, never pushed to it (docs/PROTOCOL.md
 * "Interop with the Paracord reference"): it refuses an event signed more than 7 days ago
 * (crates/paracord-federation/src/lib.rs @e6f874b0, event_origin_ts_is_fresh: 400), and accepts
 * but drops a message or edit whose text is empty or over 2,000 UTF-8 bytes
 * (crates/paracord-util/src/validation.rs, validate_message_content: 202, not stored as chat).
 * The reason is said in words: the queue entry fails with it, so the owner sees what was not carried.
 */
import type { Envelope } from '../envelope.ts';

/** How far back a 3.x takes an event's origin_ts; a little less here, for the request in flight and clock skew. */
export const REFERENCE3_MAX_EVENT_AGE_MS = 7 * 86_400_000;
const AGE_MARGIN_MS = 10 * 60_000;
/** A 3.x message's text: 1 to 2,000 UTF-8 bytes. */
export const REFERENCE3_MAX_BODY_BYTES = 2_000;

/** Whether a 3.x would refuse an event signed at `originTs` as too old (kept out of what we push and serve it). */
export function tooOldForReference3(originTs: number, now = Date.now()): boolean {
  return originTs < now - (REFERENCE3_MAX_EVENT_AGE_MS - AGE_MARGIN_MS);
}

/** Whether a 3.x would refuse an event as from the future: origin_ts or depth over 60 s ahead (lib.rs, depth bounds). */
export function aheadOfReference3(event: Pick<Envelope, 'origin_ts' | 'depth'>, now = Date.now()): boolean {
  return event.origin_ts > now + 60_000 || event.depth > now + 60_000;
}

/** Why `event` cannot be carried to the 3.x reference `peer`, or null when it can. */
export function reference3Refusal(event: Envelope, peer: string, now = Date.now()): string | null {
  if (tooOldForReference3(event.origin_ts, now)) {
    return `not carried to ${peer}: the event is more than 7 days old, and a Paracord reference 3.x refuses events signed that long ago`;
  }
  if (event.event_type === 'm.message' || event.event_type === 'm.message.edit') {
    const body = event.content.body;
    const bytes = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : 0;
    if (bytes === 0) {
      return `not carried to ${peer}: a message without text (attachments only) is dropped by a Paracord reference 3.x, which takes messages of 1 to ${REFERENCE3_MAX_BODY_BYTES} bytes of text`;
    }
    if (bytes > REFERENCE3_MAX_BODY_BYTES) {
      return `not carried to ${peer}: the message text is ${bytes} bytes, and a Paracord reference 3.x drops messages over ${REFERENCE3_MAX_BODY_BYTES} bytes (about 2,000 letters, fewer with accents or emoji)`;
    }
  }
  return null;
}
