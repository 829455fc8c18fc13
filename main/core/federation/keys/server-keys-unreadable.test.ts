/**
 * A signed request naming a key id we do not hold, met when the origin's keys cannot be read
 * (its keys endpoint answers 500, drops the connection, serves a malformed document). That was
 * answered 403 unknown_key, which the sender's outbox takes as final: a message sent by a friend
 * who had just rotated (or a first contact) during a network problem was lost for good. Now it is
 * 503 keys_unavailable with Retry-After (when a fetch is allowed again): the sender retries, and
 * once the keys can be read the same request passes. A keys document that was read and does not
 * list the id is still a 403 verdict. The fetch limit (one per server per 10 s) is unchanged.
 * Nor is a document read by a fetch that was already under way when the id was met: the origin may
 * have rotated after it was read (503 keys_recently_fetched, the same request passes later).
 * Real Koa app and keys server on 127.0.0.1, real SQLite; Date is faked to step over the 10-s gap.
 */
import { join } from 'node:path';
import { vi } from 'vitest';
import { Identity } from '../../identity/identity.ts';
import type { ServerKeys } from './server-keys.ts';
import { sendSigned } from '../../../../test/helpers/signed-request.ts';
import { afterAll, beforeAll, describe, expect, it } from '../../../../test/helpers/fixtures.ts';
import { tempDir } from '../../../../test/helpers/temp-dir.ts';
import { keysServer, verifyApp, type VerifyApp } from '../../../../test/helpers/verify-app.ts';

let app: VerifyApp;
let baseUrl: string;
let origin: Identity;
let keys: ServerKeys;
let fetches = 0;
/** What origin.test's keys endpoint answers: its keys, or an outage. */
let answer: 'keys' | 'error_500' | 'dropped' | 'malformed' | 'held' | 'huge' = 'keys';
/** In 'held': the document as it was when asked, answered when the test releases it. */
let release: () => void = () => undefined;

beforeAll(async () => {
  const dir = tempDir();
  origin = Identity.create(join(dir, 'origin.json'), 'origin.test');
  const server = keysServer(origin, (req, res) => {
    if (req.url !== '/_paracord/federation/v1/keys') {
      res.statusCode = 404;
      res.end();
      return true;
    }
    fetches++;
    if (answer === 'dropped') {
      req.socket.destroy();
      return true;
    }
    if (answer === 'keys') return false;
    if (answer === 'held') {
      const asked = JSON.stringify(origin.keysDocument());
      release = () => {
        res.setHeader('content-type', 'application/json');
        res.end(asked);
      };
      return true;
    }
    res.setHeader('content-type', 'application/json');
    // A keys document padded past 256 KiB (KEYS_DOCUMENT_MAX_BYTES): its read stops there.
    if (answer === 'huge') {
      res.end(JSON.stringify({ ...origin.keysDocument(), padding: 'x'.repeat(300 * 1024) }));
      return true;
    }
    if (answer === 'error_500') res.statusCode = 500;
    res.end(answer === 'malformed' ? '{"server_name":"origin.test","active_key":' : '{"error":"internal_error"}');
    return true;
  });
  app = await verifyApp(dir, [{ identity: origin, keys: server }], (ctx) => {
    ctx.body = { ok: true };
  });
  ({ keys, url: baseUrl } = app);
});

afterAll(() => {
  vi.useRealTimers();
  app.close();
});

describe('a key id met when the origin\'s keys cannot be read', () => {
  it('is answered 503 keys_unavailable with Retry-After (not 403), fetched for at most once per 10 s, and passes once the keys can be read', async () => {
    let now = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now });
    const later = (ms: number) => {
      now += ms;
      vi.setSystemTime(now);
    };
    try {
      // Known before the rotation.
      expect((await sendSigned(origin, baseUrl, 'GET', '/before', undefined, { destination: null })).status).toBe(200);
      await origin.rotate(now);
      let n = 0;
      for (const outage of ['error_500', 'dropped', 'malformed'] as const) {
        later(11_000);
        answer = outage;
        const before = fetches;
        const refused = await sendSigned(origin, baseUrl, 'GET', `/r${n++}`, undefined, { destination: null });
        expect(refused.status, `${outage}: ${refused.text}`).toBe(503);
        expect(refused.body.error).toBe('keys_unavailable');
        expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(10);
        expect(fetches - before).toBe(1);
        // Sent again (and a stranger naming other ids): the same answer, no other fetch.
        const again = await sendSigned(origin, baseUrl, 'GET', `/r${n++}`, undefined, { destination: null });
        expect(again.status).toBe(503);
        expect(again.body.error).toBe('keys_unavailable');
        const ghost = { serverName: 'origin.test', keyId: 'ed25519:ghost', signHex: (m: Buffer) => origin.signHex(m) };
        expect((await sendSigned(ghost, baseUrl, 'GET', `/g${n}`, undefined, { destination: null })).status).toBe(503);
        expect(fetches - before).toBe(1);
      }
      // The keys can be read again: the next attempt, once a fetch is allowed, passes.
      answer = 'keys';
      later(11_000);
      const delivered = await sendSigned(origin, baseUrl, 'GET', '/after', undefined, { destination: null });
      expect(delivered.status, delivered.text).toBe(200);
      expect(keys.get('origin.test', origin.keyId)).toBeDefined();
      // A document that was read and does not list an id is still a verdict.
      later(11_000);
      const ghost = { serverName: 'origin.test', keyId: 'ed25519:ghost2', signHex: (m: Buffer) => origin.signHex(m) };
      const unknown = await sendSigned(ghost, baseUrl, 'GET', '/ghost', undefined, { destination: null });
      expect(unknown.status).toBe(403);
      expect(unknown.body.error).toBe('unknown_key');
    } finally {
      vi.useRealTimers();
    }
  });

  it('a keys read is given up at the deadline its caller gives (a stranger\'s request: 10 s), and past 256 KiB: 503 keys_unavailable', async () => {
    // (Past the fetches the test before made at its own faked times.)
    let now = Date.now() + 10 * 60_000;
    vi.useFakeTimers({ toFake: ['Date'], now });
    const later = (ms: number) => {
      now += ms;
      vi.setSystemTime(now);
    };
    try {
      // A server that never answers: the lookup ends at the deadline asked (before: the fetch's own, ~60 s).
      later(11_000);
      answer = 'held';
      const held = await keys.lookup('origin.test', 'ed25519:unheard1', { purpose: 'request' }, { deadlineMs: 300 });
      expect(held).toMatchObject({ ok: false, code: 'keys_unavailable' });
      release();
      // A fetch already under way with no deadline of its own (a stale key read again): a lookup
      // that joins it still ends at its own deadline, to be retried (503), not at the fetch's end.
      later(11_000);
      const before = fetches;
      const fetching = keys.refresh('origin.test', now, undefined, { unlimited: true });
      await vi.waitFor(() => expect(fetches - before).toBe(1), { timeout: 5_000 });
      const joined = await keys.lookup('origin.test', 'ed25519:unheard3', { purpose: 'request' }, { deadlineMs: 300 });
      expect(joined).toMatchObject({ ok: false, code: 'keys_unavailable' });
      expect(!joined.ok && joined.message).toContain('could not be read in time');
      release();
      await fetching;
      // A document past the cap: not read further, not believed (before: read up to 4 MiB).
      later(11_000);
      answer = 'huge';
      const huge = await keys.lookup('origin.test', 'ed25519:unheard2', { purpose: 'request' });
      expect(huge).toMatchObject({ ok: false, code: 'keys_unavailable' });
      expect(!huge.ok && huge.message).toContain('larger than 262144 bytes');
    } finally {
      answer = 'keys';
      vi.useRealTimers();
    }
    // (Without the deadline, the held read would last the fetch's own ~60 s: past this test's 20 s.)
  }, 20_000);

  it('a key id met while a fetch begun before the rotation is under way is answered 503 to retry, not 403 unknown_key', async () => {
    let now = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now });
    try {
      answer = 'held';
      const before = fetches;
      // A fetch of origin.test's keys starts (a stale key read again, another request): its document is read now.
      const fetching = keys.refresh('origin.test', now, undefined, { unlimited: true });
      await vi.waitFor(() => expect(fetches - before).toBe(1), { timeout: 5_000 });
      // The origin rotates, unannounced, and signs with its new key while that fetch runs.
      await origin.rotate(now);
      const sent = sendSigned(origin, baseUrl, 'GET', '/during', undefined, { destination: null });
      // (Released once the request's lookup has surely joined the fetch.)
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      release();
      await fetching;
      const refused = await sent;
      expect(refused.status, refused.text).toBe(503);
      expect(refused.body.error).toBe('keys_recently_fetched');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // Sent again once a fetch is allowed: it passes.
      answer = 'keys';
      now += 11_000;
      vi.setSystemTime(now);
      const delivered = await sendSigned(origin, baseUrl, 'GET', '/during-again', undefined, { destination: null });
      expect(delivered.status, delivered.text).toBe(200);
    } finally {
      answer = 'keys';
      vi.useRealTimers();
    }
  });
});
