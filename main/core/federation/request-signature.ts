/**
 * Request signatures (docs/PROTOCOL.md §Request signatures): the signed string is
 *   METHOD \n path[?query] \n timestamp_ms \n hex(sha256(raw body bytes))
 * and travels in four X-Paracord-* headers.
 *
 * Destination binding (docs/PROTOCOL.md "Request signatures", docs/SECURITY.md §14): a request
 * may carry `X-Paracord-Destination: <server name of the receiver>`; its lowercased value is then
 * a FIFTH line of the signed string, so a request signed for B fails verification at C. This is
 * the form newer versions of the Paracord reference use (crates/paracord-federation/src/transport.rs
 * `canonical_transport_bytes_with_destination`, which appends the lowercased destination as a trailing
 * line; crates/paracord-api/src/routes/federation.rs `parse_transport_headers`/`verify_transport_request`,
 * which lowercase the header, require it to name the receiver, and verify the five-line form; and
 * crates/paracord-federation/src/client.rs `FederationTarget::destination`, the peer's server_name
 * lowercased). The snapshots of github:Scdouglas1999/Paracord at v0.8.5 (29d7f47) and of
 * github:Scoduglas1999/Paracord at v0.9.0 (9c9aafc) still sign four lines only. We send the header
 * only to servers that advertise DESTINATION_BINDING_CAPABILITY (paths.ts) in discovery, and with
 * a redeemer's POST /peering always (peering-service.ts).
 */
import { sha256Hex } from '../crypto/sha256.ts';

export const HEADER_ORIGIN = 'x-paracord-origin';
export const HEADER_KEY_ID = 'x-paracord-key-id';
export const HEADER_TIMESTAMP = 'x-paracord-timestamp';
export const HEADER_SIGNATURE = 'x-paracord-signature';
export const HEADER_DESTINATION = 'x-paracord-destination';

/** Requests whose timestamp is further than this from our clock are refused (401). */
export const MAX_CLOCK_SKEW_MS = 60_000;

/** The signed string: four lines, or five with the (lowercased) destination. */
export function signingString(method: string, pathAndQuery: string, timestampMs: number, body: Uint8Array | string, destination?: string): string {
  const base = `${method.toUpperCase()}\n${pathAndQuery}\n${timestampMs}\n${sha256Hex(body)}`;
  return destination === undefined ? base : `${base}\n${destination.toLowerCase()}`;
}

export interface RequestSigner {
  serverName: string;
  keyId: string;
  signHex(message: Buffer): string;
}

export function signRequestHeaders(
  signer: RequestSigner,
  method: string,
  pathAndQuery: string,
  body: Uint8Array | string,
  now = Date.now(),
  destination?: string,
): Record<string, string> {
  const signature = signer.signHex(Buffer.from(signingString(method, pathAndQuery, now, body, destination), 'utf8'));
  return {
    'X-Paracord-Origin': signer.serverName,
    'X-Paracord-Key-Id': signer.keyId,
    'X-Paracord-Timestamp': String(now),
    'X-Paracord-Signature': signature,
    ...(destination === undefined ? {} : { 'X-Paracord-Destination': destination.toLowerCase() }),
  };
}
