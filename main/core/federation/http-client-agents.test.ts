/**
 * The client keeps one dispatcher per (vouch, pin), and a pin can come from a peer (a peering
 * request's `tls_fingerprint`, peering-service.ts): a holder of one invite link could add one
 * agent per fingerprint it tried, for ever (a helper's review, 2026-11-28). They are an LRU of
 * MAX_AGENTS; the least used is closed. A real loopback port with nothing listening (each request
 * fails at once, after its agent was made).
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HttpClient, MAX_AGENTS } from './http-client.ts';
import { AddressPolicy } from './address-policy.ts';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('HttpClient dispatchers', () => {
  it('keeps at most MAX_AGENTS, whatever pins its callers name', async () => {
    const http = new HttpClient({ allowInsecureHttp: false, policy: new AddressPolicy({ insecureHttp: false, allowPrivateAddresses: false, endpointVouch: () => ({ vouch: 'owner', addresses: 'any' }) }) });
    const url = `https://127.0.0.1:${await closedPort()}/x`;
    const kept = () => (http as unknown as { agents: { size: number } }).agents.size;
    for (let i = 0; i < MAX_AGENTS + 300; i++) {
      await expect(http.send('GET', url, {}, undefined, { pin: randomBytes(32).toString('hex'), vouch: 'owner' })).rejects.toThrow();
    }
    expect(kept()).toBe(MAX_AGENTS);
    http.dropConnections();
    expect(kept()).toBe(0);
  }, 60_000);

  it('requests that start together for the same pin share one kept dispatcher, none closed under the other', async () => {
    let served = 0;
    const { createServer: createHttpServer } = await import('node:http');
    const server = createHttpServer((_req, res) => {
      served++;
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const http = new HttpClient({ allowInsecureHttp: true, policy: new AddressPolicy({ insecureHttp: true, allowPrivateAddresses: false, endpointVouch: () => ({ vouch: 'owner', addresses: 'any' }) }) });
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
      // Several at once after a network change (dropConnections): each found no dispatcher kept.
      http.dropConnections();
      const answers = await Promise.all(Array.from({ length: 8 }, () => http.send('GET', url, {}, undefined, { vouch: 'owner' })));
      expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
      expect(served).toBe(8);
      expect((http as unknown as { agents: { size: number } }).agents.size).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('HttpClient deadline', () => {
  it('ends a request whose answer trickles in (a byte within every idle timeout) by its deadline (4 × 300 ms here, before the 5 s the answer takes), in words', async () => {
    const { createServer: createHttpServer } = await import('node:http');
    const timers = new Set<NodeJS.Timeout>();
    // Headers at once, then one byte every 100 ms for 5 s: never quiet for the 300 ms timeout.
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      let sent = 0;
      const timer = setInterval(() => {
        if (++sent > 50 || res.destroyed) {
          clearInterval(timer);
          res.end();
          return;
        }
        res.write(' ');
      }, 100);
      timers.add(timer);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const http = new HttpClient({ allowInsecureHttp: true, policy: new AddressPolicy({ insecureHttp: true, allowPrivateAddresses: true, endpointVouch: () => ({ vouch: 'owner', addresses: 'any' }) }) });
    try {
      await expect(http.send('GET', `http://127.0.0.1:${port}/slow`, {}, undefined, { vouch: 'owner', timeoutMs: 300, maxResponseBytes: 1_000 })).rejects.toThrow(/no whole answer within 1 s/);
    } finally {
      for (const timer of timers) clearInterval(timer);
      http.dropConnections();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  }, 30_000);
});
