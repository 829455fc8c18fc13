/**
 * The verification middleware in isolation: a real Koa app on 127.0.0.1, real SQLite, real
 * keys; the origin's keys document is served by a second small real server so key fetching
 * (single-flight, negative cache) is exercised for real.
 */
import { join } from 'node:path';
import { Identity } from '../../identity/identity.ts';
import type { Db } from '../../store/database.ts';
import { AddressPolicy } from '../address-policy.ts';
import { HttpClient } from '../http-client.ts';
import type { ReplayCache } from '../replay-cache.ts';
import type { SignedRequestState } from './verify-signed-request.ts';
import { sendRaw, sendSigned } from '../../../../test/helpers/signed-request.ts';
import { afterAll, beforeAll, describe, expect, it } from '../../../../test/helpers/fixtures.ts';
import { tempDir } from '../../../../test/helpers/temp-dir.ts';
import { keysServer, verifyApp, type VerifyApp } from '../../../../test/helpers/verify-app.ts';

let app: VerifyApp;
let db: Db;
let baseUrl: string;
let origin: Identity;
let keysFetches = 0;
let clock = Date.now();
let replay: ReplayCache;

beforeAll(async () => {
  const dir = tempDir();
  origin = Identity.create(join(dir, 'origin.json'), 'origin.test');
  const keys = keysServer(origin, (req) => {
    if (req.url === '/_paracord/federation/v1/keys') keysFetches++;
    return false;
  });
  // One database for the whole file, not a test's tempDb: the tests go on from each other's
  // fetched keys, negative cache and replay rows.
  app = await verifyApp(dir, [{ identity: origin, keys }], (ctx) => {
    const state = ctx.state as SignedRequestState;
    ctx.body = { origin: state.origin, body: state.rawBody.toString('utf8') };
  }, () => ({ now: () => clock }));
  ({ db, replay, url: baseUrl } = app);
});

afterAll(() => {
  // The temp dir goes with the file's fixtures (fileNodes), after this.
  app.close();
});

describe('verifySignedRequest', () => {
  it('fetches an unknown key once, then verifies from the cache', async () => {
    clock = Date.now();
    const before = keysFetches;
    const responses = await Promise.all(
      Array.from({ length: 5 }, (_, i) => sendSigned(origin, baseUrl, 'POST', `/x?i=${i}`, `{"i":${i}}`, { timestamp: clock })),
    );
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(responses[3]!.body).toEqual({ origin: 'origin.test', body: '{"i":3}' });
    expect(keysFetches - before).toBe(1);
  });

  it('accepts requests signed by our own outbound client', async () => {
    clock = Date.now();
    // The test's own listener on loopback: an endpoint the owner gave.
    const client = new HttpClient({ allowInsecureHttp: true, policy: new AddressPolicy({ insecureHttp: true, allowPrivateAddresses: false, endpointVouch: () => ({ vouch: 'owner', addresses: 'any' }) }) });
    const response = await client.signed(origin, 'POST', baseUrl, '/client?x=1', '{"a":1}');
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ origin: 'origin.test', body: '{"a":1}' });
    // And it refuses plain http unless allowed.
    await expect(new HttpClient({ allowInsecureHttp: false }).signed(origin, 'GET', baseUrl, '/x')).rejects.toThrow(/--insecure-http/);
  });

  it('signs the query string too', async () => {
    clock = Date.now();
    const response = await sendSigned(origin, baseUrl, 'GET', '/events?room_id=%21a%3Ab&limit=5', undefined, {
      timestamp: clock,
    });
    expect(response.status).toBe(200);
    // The same signature on another query is refused.
    const headers = (await import('../request-signature.ts')).signRequestHeaders(origin, 'GET', '/events?limit=5', '', clock);
    expect((await sendRaw(`${baseUrl}/events?limit=6`, 'GET', headers)).status).toBe(403);
  });

  it('accepts exactly ±60 s of skew and refuses beyond', async () => {
    clock = Date.now();
    expect((await sendSigned(origin, baseUrl, 'GET', '/a', undefined, { timestamp: clock - 60_000 })).status).toBe(200);
    expect((await sendSigned(origin, baseUrl, 'GET', '/b', undefined, { timestamp: clock + 60_000 })).status).toBe(200);
    const stale = await sendSigned(origin, baseUrl, 'GET', '/c', undefined, { timestamp: clock - 60_001 });
    expect(stale.status).toBe(401);
    expect(stale.body.error).toBe('stale_timestamp');
    expect((await sendSigned(origin, baseUrl, 'GET', '/d', undefined, { timestamp: clock + 60_001 })).status).toBe(401);
  });

  it('refuses malformed auth headers with 401', async () => {
    clock = Date.now();
    const bad: Array<[string, string]> = [
      ['X-Paracord-Key-Id', 'rsa:1'],
      ['X-Paracord-Timestamp', 'yesterday'],
      ['X-Paracord-Signature', 'ABCDEF'],
      ['X-Paracord-Origin', 'not a server'],
    ];
    for (const [header, value] of bad) {
      const response = await sendSigned(origin, baseUrl, 'GET', '/h', undefined, { timestamp: clock, mutateHeaders: (h) => (h[header] = value) });
      expect(response.status, header).toBe(401);
      expect(response.body.error, header).toBe('invalid_auth');
    }
  });

  it('remembers unknown key ids (negative cache) instead of refetching', async () => {
    clock = Date.now();
    const before = keysFetches;
    const ghost = { serverName: 'origin.test', keyId: 'ed25519:ghost', signHex: (m: Buffer) => origin.signHex(m) };
    // The first lookup may be inside the per-server refetch interval; either way no storm of fetches.
    // A lookup that fetched refuses the id (403 unknown_key); one inside the interval has not checked
    // it and says when to come back (503 keys_recently_fetched, Retry-After): refused either way.
    for (let i = 0; i < 3; i++) {
      const response = await sendSigned(ghost, baseUrl, 'GET', `/g${i}`, undefined, { timestamp: clock });
      if (response.status === 503) {
        expect(response.body.error).toBe('keys_recently_fetched');
        expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      } else {
        expect(response.status).toBe(403);
        expect(response.body.error).toBe('unknown_key');
      }
    }
    expect(keysFetches - before).toBeLessThanOrEqual(1);
  });

  it('refuses the exact same request twice (409) but not a fresh signature', async () => {
    clock = Date.now();
    const headers = (await import('../request-signature.ts')).signRequestHeaders(origin, 'POST', '/r', '{}', clock);
    expect((await sendRaw(`${baseUrl}/r`, 'POST', headers, '{}')).status).toBe(200);
    const again = await sendRaw(`${baseUrl}/r`, 'POST', headers, '{}');
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('replayed_request');
    expect((await sendSigned(origin, baseUrl, 'POST', '/r', '{}', { timestamp: clock + 1 })).status).toBe(200);
  });

  it('forgets replay entries only after the skew window', () => {
    const rows = () => (db.prepare('SELECT COUNT(*) AS n FROM federation_request_replay').get() as { n: number }).n;
    const count = rows();
    expect(count).toBeGreaterThan(0);
    expect(replay.prune(Date.now())).toBe(0);
    expect(replay.prune(Date.now() + 3 * 60_000)).toBe(count);
  });
});
