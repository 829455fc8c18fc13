/**
 * What peering says on the wire (docs/PROTOCOL.md "Peering links and pinning"): the redeemer's
 * request, the inviter's answer, and the proof a request left at a mailbox gives instead of the
 * link's token.
 */
import { createHash, createHmac } from 'node:crypto';
import { canonicalJson } from '../crypto/canonical-json.ts';

/**
 * What a redeeming server tells the inviter about itself, signed with the key it names. Sent
 * directly it carries the link's token; left at a mailbox it carries the token's hash and a proof
 * made with a key derived from the token instead (peeringProof), so the mailbox, which can read
 * it, cannot use the token for a server of its own.
 */
export type PeeringRequest = PeeringRequestFields & ({ token: string; token_sha256?: undefined; proof?: undefined } | { token?: undefined; token_sha256: string; proof: string });

export interface PeeringRequestFields {
  server_name: string;
  endpoint: string;
  key_id: string;
  public_key: string;
  tls_fingerprint: string | null;
}

/** The inviter's answer to `POST /peering`. */
export interface PeeringAnswer {
  server_name: string;
  key_id: string;
  public_key: string;
  /** Whether the inviter could call the redeemer back at the endpoint it named (absent: an older node, which only answers when it could). */
  reachable?: boolean;
  /** Why not, in words. */
  reach_error?: string;
  /** Where the inviter receives while nobody can reach it (issue #32); absent otherwise. */
  mailboxes?: string[];
}

/** The inviter's answer to a peering request carried by a mailbox, signed by the inviter (`POST /peering/answer`). */
export interface PeeringAnswerMessage {
  /** sha256 (hex) of the link's token: which request this answers. */
  token_sha256: string;
  accepted: boolean;
  /** When accepted: whether the inviter could call the redeemer back. */
  reachable?: boolean;
  reach_error?: string;
  /** When accepted: where the inviter receives while nobody can reach it. */
  mailboxes?: string[];
  /** When refused: the refusal's code and words. */
  error?: string;
  message?: string;
}

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
/** The key of a link's proofs: known to the inviter (stored) and to whoever holds the link. */
export const proofKey = (token: string) => createHmac('sha256', token).update('paracord peering proof v1').digest('hex');
/** The proof that the sender of `fields` holds the link whose proof key is `key`. */
export const peeringProof = (key: string, fields: PeeringRequestFields) =>
  createHmac('sha256', Buffer.from(key, 'hex')).update(canonicalJson({ server_name: fields.server_name, endpoint: fields.endpoint, key_id: fields.key_id, public_key: fields.public_key, tls_fingerprint: fields.tls_fingerprint })).digest('hex');

