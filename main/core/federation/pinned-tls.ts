/**
 * TLS certificate pinning for peers added through an invite link (DESIGN.md §5): home servers
 * rarely have a CA-signed certificate, so the invite carries the SHA-256 fingerprint of the
 * peer's (often self-signed) certificate, and we accept exactly that certificate — checked on
 * every new connection, before a single byte of the request is sent.
 */
import type { TLSSocket } from 'node:tls';
import type { Agent } from 'undici';

export class CertificatePinError extends Error {
  constructor(host: string, expected: string, got: string | undefined) {
    super(`TLS certificate of ${host} does not match the pinned fingerprint (expected ${expected.slice(0, 23)}…, got ${got ? `${got.slice(0, 23)}…` : 'none'}): refusing to talk to it`);
    this.name = 'CertificatePinError';
  }
}

const agents = new Map<string, Agent>();

/** An undici dispatcher that accepts only a certificate with this fingerprint. */
export async function pinnedAgent(fingerprint256: string): Promise<Agent> {
  const key = fingerprint256.toUpperCase();
  let agent = agents.get(key);
  if (agent) return agent;
  const { Agent, buildConnector } = await import('undici');
  // Chain validation is replaced by the fingerprint check; no session resumption, so every
  // connection presents its certificate.
  const base = buildConnector({ rejectUnauthorized: false, maxCachedSessions: 0 });
  agent = new Agent({
    connect: (options, callback) => {
      base(options, (error, socket) => {
        if (error || !socket) return callback(error ?? new Error('TLS connection failed'), null);
        const got = (socket as TLSSocket).getPeerCertificate?.()?.fingerprint256;
        if (got?.toUpperCase() !== key) {
          socket.destroy();
          return callback(new CertificatePinError(options.hostname, key, got), null);
        }
        callback(null, socket);
      });
    },
  });
  agents.set(key, agent);
  return agent;
}
