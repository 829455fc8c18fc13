/**
 * Why another server could not be reached, as a code of a closed set (shared/contract/unreachable.ts),
 * and the admin API's 502 `peer_unreachable` answer that carries it: `{error, message, reason,
 * server}`. Read from the error itself (its codes, its classes, through its causes), never from
 * its words, so a client need not parse the message either.
 */
import { HttpError } from '../errors.ts';
import type { UnreachableReason } from '../../../shared/contract/unreachable.ts';
import { AddressRefusedError } from './address-policy.ts';
import { FederationRequestError } from './http-client.ts';
import { CertificatePinError } from './pinned-tls.ts';

/** Node's and undici's codes, each for its reason (first match wins: see unreachableReason). */
const CODES: ReadonlyArray<[UnreachableReason, ReadonlySet<string>]> = [
  ['name_not_found', new Set(['ENOTFOUND', 'EAI_NONAME', 'EAI_NODATA'])],
  ['name_lookup_failed', new Set(['EAI_AGAIN', 'EAI_FAIL'])],
  ['refused', new Set(['ECONNREFUSED'])],
  ['timeout', new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])],
  ['no_route', new Set(['EHOSTUNREACH', 'EHOSTDOWN', 'EADDRNOTAVAIL', 'EAFNOSUPPORT'])],
  ['network_down', new Set(['ENETUNREACH', 'ENETDOWN'])],
  ['connection_cut', new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])],
];

/** OpenSSL's certificate verdicts (node's `code` of a refused certificate) and node's TLS errors. */
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE', 'HOSTNAME_MISMATCH', 'EPROTO',
]);
const isTlsCode = (code: string) => TLS_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_');

/** An error and its causes, six deep at most. */
function* causes(error: unknown): Generator<Error & { code?: unknown }> {
  for (let e = error as (Error & { code?: unknown; cause?: unknown }) | undefined, depth = 0; e && typeof e === 'object' && depth < 6; e = e.cause as typeof e, depth++) yield e;
}

/**
 * Why a request to another server failed, from the error an HttpClient (or Discovery) threw. Our
 * own refusals first (the address policy, a pinned certificate), then the network's codes, then a
 * timeout (a request's deadline or its caller's signal), then an answer that was not acceptable.
 */
export function unreachableReason(error: unknown): UnreachableReason {
  const chain = [...causes(error)];
  for (const e of chain) {
    if (e instanceof AddressRefusedError) return e.byPolicy ? 'address_refused' : 'name_not_found';
    if (e instanceof CertificatePinError) return 'tls';
  }
  const codes = chain.map((e) => e.code).filter((c): c is string => typeof c === 'string');
  for (const [reason, known] of CODES) if (codes.some((c) => known.has(c))) return reason;
  if (codes.some(isTlsCode)) return 'tls';
  if (chain.some((e) => e.name === 'TimeoutError')) return 'timeout';
  if (chain.some((e) => e instanceof FederationRequestError && e.answered)) return 'bad_answer';
  return 'other';
}

/**
 * The admin API's 502 for a server that could not be reached: `message` as ever (`<server> could
 * not be reached: <why>`), with `reason` and `server` beside it for clients.
 */
export function peerUnreachable(server: string, reason: UnreachableReason, message: string): HttpError {
  return new HttpError(502, 'peer_unreachable', message, {}, { reason, server });
}
