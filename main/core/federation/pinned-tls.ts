/**
 * TLS certificate pinning for peers added through an invite link (docs/PROTOCOL.md §Peering links and pinning): home servers
 * rarely have a CA-signed certificate, so the invite carries the SHA-256 fingerprint of the
 * peer's (often self-signed) certificate, and we accept exactly that certificate — checked on
 * every new connection, before a single byte of the request is sent. The connection itself is
 * made by HttpClient's guarded connector (address-policy.ts), which calls `checkPin`.
 */
import type { TLSSocket } from 'node:tls';

export class CertificatePinError extends Error {
  constructor(host: string, expected: string, got: string | undefined) {
    super(`TLS certificate of ${host} does not match the pinned fingerprint (expected ${expected.slice(0, 23)}…, got ${got ? `${got.slice(0, 23)}…` : 'none'}): refusing to talk to it`);
    this.name = 'CertificatePinError';
  }
}

/** Null when the socket presents the pinned certificate, else the error to fail the connection with. */
export function checkPin(socket: unknown, host: string, fingerprint256: string): Error | null {
  const key = fingerprint256.toUpperCase();
  const got = (socket as TLSSocket).getPeerCertificate?.()?.fingerprint256;
  return got?.toUpperCase() === key ? null : new CertificatePinError(host, key, got);
}

/** Options for the connector of a pinned connection: chain validation is replaced by the pin; no session resumption. */
export const PINNED_CONNECT_OPTIONS = { rejectUnauthorized: false, maxCachedSessions: 0 } as const;
