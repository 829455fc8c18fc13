/**
 * A peer's refusal as our own admin error (issue #37 item 11). The code and the status are
 * ours: a peer that answers `invalid_token` or 401 must not tell our UI that the owner is signed
 * out. The peer's code and words are kept only as a detail of the message, cleaned and cut
 * (util/untrusted-text.ts). Every place that turns a peer's answer into our error goes through here.
 */
import { HttpError } from '../errors.ts';
import { cleanText, peerCode } from '../util/untrusted-text.ts';
import type { FederationResponse } from './http-client.ts';

/** How much of a peer's words a message keeps. */
export const PEER_TEXT_MAX = 300;

export interface PeerRefusalOptions {
  /** Peer codes that are ours too and mean the same for this call (a used invite link): answered as they are. */
  keep?: readonly string[];
  /** Our own words after the peer's (already clean). */
  hint?: string;
}

/** Our status for a peer's refusal: its 4xx (401/407 become 403: our caller is signed in), else 502. */
function ourStatus(status: number): number {
  if (status === 401 || status === 407) return 403;
  return status >= 400 && status < 500 ? status : 502;
}

type PeerAnswer = Pick<FederationResponse, 'status' | 'json' | 'text'>;
type OurCode = 'peer_refused' | 'peering_refused';

export function peerRefusal(server: string, response: PeerAnswer, code: OurCode, options: PeerRefusalOptions = {}): HttpError {
  const answer = (response.json !== null && typeof response.json === 'object' ? response.json : {}) as { error?: unknown; message?: unknown };
  const theirCode = peerCode(answer.error);
  const words =
    typeof answer.message === 'string' ? answer.message
      : typeof answer.error === 'string' && theirCode === null ? answer.error
        : response.json === undefined && response.text ? response.text
          : `HTTP ${response.status}`;
  const ours = theirCode !== null && options.keep?.includes(theirCode) ? theirCode : code;
  const detail = `${theirCode ? ` (${theirCode})` : ''}: ${cleanText(words, PEER_TEXT_MAX)}`;
  return new HttpError(ourStatus(response.status), ours, `${cleanText(server, 255)} refused${detail}${options.hint ?? ''}`);
}
