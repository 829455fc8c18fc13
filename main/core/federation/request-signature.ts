/**
 * Request signatures (DESIGN.md §3): the signed string is
 *   METHOD \n path[?query] \n timestamp_ms \n hex(sha256(raw body bytes))
 * and travels in four X-Paracord-* headers.
 */
import { sha256Hex } from '../crypto/sha256.ts';

export const HEADER_ORIGIN = 'x-paracord-origin';
export const HEADER_KEY_ID = 'x-paracord-key-id';
export const HEADER_TIMESTAMP = 'x-paracord-timestamp';
export const HEADER_SIGNATURE = 'x-paracord-signature';

/** Requests whose timestamp is further than this from our clock are refused (401). */
export const MAX_CLOCK_SKEW_MS = 60_000;

export function signingString(method: string, pathAndQuery: string, timestampMs: number, body: Uint8Array | string): string {
  return `${method.toUpperCase()}\n${pathAndQuery}\n${timestampMs}\n${sha256Hex(body)}`;
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
): Record<string, string> {
  const signature = signer.signHex(Buffer.from(signingString(method, pathAndQuery, now, body), 'utf8'));
  return {
    'X-Paracord-Origin': signer.serverName,
    'X-Paracord-Key-Id': signer.keyId,
    'X-Paracord-Timestamp': String(now),
    'X-Paracord-Signature': signature,
  };
}
