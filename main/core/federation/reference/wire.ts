/**
 * Bodies sent to a reference server, byte-identical to what it re-serialises before hashing
 * (crates/paracord-api/src/routes/federation.rs:775,2050,2100,2180: `serde_json::to_vec` of the
 * parsed struct): top level in struct order, nested keys sorted, Option fields present as null,
 * and NO other field (an unknown field is dropped by its parse and breaks the hash).
 * Structs: FederationInviteRequest / FederationJoinRequest / FederationLeaveRequest,
 * crates/paracord-federation/src/client.rs:423-443.
 */
import { wireJson } from '../wire-json.ts';

export function referenceInviteBody(body: { origin_server: string; room_id: string; sender: string; max_age_seconds: number | null }): string {
  // max_age_seconds is Option<i64>: always present (null when absent), or the hash differs.
  return wireJson({ origin_server: body.origin_server, room_id: body.room_id, sender: body.sender, max_age_seconds: body.max_age_seconds }, ['origin_server', 'room_id', 'sender', 'max_age_seconds']);
}

/** /join and /leave: exactly three fields (our nodes accept more after them, the reference does not: docs/PROTOCOL.md §Interop with the Paracord reference). */
export function referenceMembershipBody(body: { origin_server: string; room_id: string; user_id: string }): string {
  return wireJson({ origin_server: body.origin_server, room_id: body.room_id, user_id: body.user_id }, ['origin_server', 'room_id', 'user_id']);
}
