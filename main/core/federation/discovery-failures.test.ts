/**
 * A failed discovery is remembered for a minute, doubling with each failure in a row up to an
 * hour (2026-11-27). It was an hour from the first failure: a server without an endpoint of its own
 * (a room member's, whose events its host relays) hit by one network blip had its keys unreadable
 * for an hour (503 keys_unavailable: its events, and the host's queue to us behind them, held).
 * Seen again (a request from it, an answer to ours), it is asked again at once; seen again and
 * again while it keeps failing, at most once per 10 s, doubling with each failure up to 5 minutes
 * (a peer that keeps talking to us with a broken discovery, or one pointing its name at someone
 * else's address, got a lookup per 10 s).
 * A real Discovery and HttpClient over real SQLite; the name lookup stands in for DNS (it fails),
 * and the cache's clock is the `now` each call is given.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Db } from '../store/database.ts';
import { Settings } from '../store/settings.ts';
import { TrustStore } from '../trust/trust-store.ts';
import { AddressPolicy } from './address-policy.ts';
import { DISCOVERY_MAX_BYTES, Discovery } from './discovery.ts';
import { HttpClient } from './http-client.ts';
import { vi } from 'vitest';
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';

/** A real Discovery whose every name lookup fails, and how many lookups it made. */
function failingDiscovery(db: Db) {
  const trust = new TrustStore(db, new Settings(db));
  let lookups = 0;
  const lookup = async () => {
    lookups++;
    throw Object.assign(new Error('getaddrinfo ENOTFOUND member.test'), { code: 'ENOTFOUND' });
  };
  const http = new HttpClient({ allowInsecureHttp: false, policy: new AddressPolicy({ insecureHttp: false, allowPrivateAddresses: false, lookup }) });
  return { trust, discovery: new Discovery(http, trust), lookups: () => lookups };
}

describe('a server whose discovery fails', () => {
  it('is asked again after 1, then 2, then 4 minutes (at most an hour), not an hour after the first failure', async ({ tempDb }) => {
    const { discovery, lookups } = failingDiscovery(tempDb.db);
    const minute = 60_000;
    const t0 = Date.now();
    const ask = (at: number) => discovery.documentOf('member.test', at).then(() => 'found', (error: Error) => error.message);

    expect(await ask(t0)).toMatch(/member\.test/);
    expect(lookups()).toBe(1);
    // Within the first minute: the failure is remembered, nothing is asked.
    expect(await ask(t0 + 59_000)).toMatch(/member\.test/);
    expect(lookups()).toBe(1);
    // After it: asked again (it was an hour).
    await ask(t0 + minute + 1);
    expect(lookups()).toBe(2);
    // Failed twice in a row: two minutes.
    const t1 = t0 + minute + 1;
    await ask(t1 + 2 * minute - 1);
    expect(lookups()).toBe(2);
    await ask(t1 + 2 * minute);
    expect(lookups()).toBe(3);
    // Then four; and never longer than an hour.
    const t2 = t1 + 2 * minute;
    await ask(t2 + 4 * minute - 1);
    expect(lookups()).toBe(3);
    let at = t2 + 4 * minute;
    for (let i = 0; i < 10; i++) {
      await ask(at);
      at += 60 * minute;
    }
    expect(lookups()).toBe(13);
  });

  it('is asked again at once when the server is seen (a request from it, an answer to ours), however long its failure was to be remembered', async ({ tempDb }) => {
    const { trust, discovery, lookups } = failingDiscovery(tempDb.db);
    const ask = () => discovery.documentOf('member.test').then(() => 'found', (error: Error) => error.message);
    await ask();
    expect(lookups()).toBe(1);
    // Remembered now (a minute): asked again only after the server is seen.
    await ask();
    expect(lookups()).toBe(1);
    trust.markSeen('member.test');
    await ask();
    expect(lookups()).toBe(2);
    // Seen again within 10 s: not tried again, so a chatty peer cannot make us read its discovery
    // once per request.
    trust.markSeen('member.test');
    await ask();
    expect(lookups()).toBe(2);
    // The count of failures in a row stayed: this second one is remembered two minutes, not one.
    const now = Date.now();
    await discovery.documentOf('member.test', now + 61_000).catch(() => undefined);
    expect(lookups()).toBe(2);
    await discovery.documentOf('member.test', now + 121_000).catch(() => undefined);
    expect(lookups()).toBe(3);
  });

  it('seen again and again while it keeps failing: asked again at most once per 10 s, doubling with each failure, up to 5 minutes', async ({ tempDb }) => {
    const { trust, discovery, lookups } = failingDiscovery(tempDb.db);
    let now = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now });
    try {
      const at = async (ms: number) => {
        now += ms;
        vi.setSystemTime(now);
        trust.markSeen('member.test');
        await discovery.documentOf('member.test').catch(() => undefined);
        return lookups();
      };
      expect(await at(0)).toBe(1);
      // Seen: asked again at once (the second failure).
      expect(await at(1)).toBe(2);
      // The next after 20 s, not 10 (two failures), then 40 s, then 80 s.
      expect(await at(11_000)).toBe(2);
      expect(await at(9_000)).toBe(3);
      expect(await at(39_000)).toBe(3);
      expect(await at(1_000)).toBe(4);
      expect(await at(79_000)).toBe(4);
      expect(await at(1_000)).toBe(5);
      // Never more than 5 minutes apart while it is seen (its remembered failure is longer by then).
      for (let i = 0; i < 6; i++) expect(await at(300_000)).toBe(6 + i);
      expect(await at(299_000)).toBe(11);
      expect(await at(1_000)).toBe(12);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('a discovery document read to reach a server', () => {
  it('is read up to 64 KiB: a larger one is refused where it passes the cap, not read to the ordinary 4 MiB', async ({ tempDb }) => {
    let sent = 0;
    const server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      const body = JSON.stringify({ server_name: 'big.test', federation_endpoint: 'http://big.test', padding: 'x'.repeat(2 * 1024 * 1024) });
      sent = Buffer.byteLength(body);
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const trust = new TrustStore(tempDb.db, new Settings(tempDb.db));
      // The owner named this endpoint (a loopback address is then allowed, in the test mode of plain http).
      trust.upsert('big.test', { endpoint, endpoint_source: 'owner' });
      const http = new HttpClient({ allowInsecureHttp: true, policy: new AddressPolicy({ insecureHttp: true, allowPrivateAddresses: false, endpointVouch: (origin) => trust.endpointVouch(origin) }) });
      const failed = await new Discovery(http, trust).documentOf('big.test').then(() => 'read', (error: Error) => error.message);
      expect(sent).toBeGreaterThan(DISCOVERY_MAX_BYTES);
      expect(failed).toContain(`larger than ${DISCOVERY_MAX_BYTES} bytes`);
    } finally {
      server.close();
    }
  });
});
