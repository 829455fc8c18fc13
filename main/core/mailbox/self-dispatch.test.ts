/**
 * Handing a carried request to our own listener (self-dispatch.ts), through the real verification
 * middleware on 127.0.0.1: what its answer says was new here, and the per-address limit, which
 * does not apply to what this process hands over (every mailbox's requests come from 127.0.0.1).
 */
import { join } from 'node:path';
import { Identity } from '../identity/identity.ts';
import type { SignedRequestState } from '../federation/middleware/verify-signed-request.ts';
import { signRequestHeaders } from '../federation/request-signature.ts';
import { EVENT_PATH, EVENTS_PATH } from '../federation/paths.ts';
import { RateLimiters } from '../trust/rate-limiter.ts';
import { sendSigned } from '../../../test/helpers/signed-request.ts';
import { afterAll, beforeAll, describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { tempDir } from '../../../test/helpers/temp-dir.ts';
import { closedPort } from '../../../test/helpers/closed-port.ts';
import { keysServer, verifyApp, type VerifyApp } from '../../../test/helpers/verify-app.ts';
import { SelfDispatch, type CarriedRequest } from './self-dispatch.ts';

const SELF = 'node.test';
let app: VerifyApp;
let dispatcher: SelfDispatch;
let alice: Identity;
/** The origins whose requests were verified as made directly (onVerified: marked seen, deliveries woken). */
const seenDirectly: string[] = [];

beforeAll(async () => {
  const dir = tempDir();
  alice = Identity.create(join(dir, 'alice.json'), 'alice.test');
  let base: string | null = null;
  dispatcher = new SelfDispatch(() => base, () => SELF);
  // The route answers as ours do: a batch with a result per event, one event with `inserted`.
  app = await verifyApp(dir, [{ identity: alice, keys: keysServer(alice) }], (ctx) => {
    const { kind } = JSON.parse((ctx.state as SignedRequestState).rawBody.toString('utf8')) as { kind: string };
    ctx.status = 202;
    if (kind === 'batch') ctx.body = { results: [{ event_id: '$1', inserted: true }, { event_id: '$2', inserted: false }, { event_id: '$3', status: 403, error: 'forbidden' }] };
    else if (kind === 'copy') ctx.body = { event_id: '$1', inserted: false };
    else if (kind === 'new') ctx.body = { event_id: '$1', inserted: true };
    else ctx.body = { ok: true };
  }, () => ({ serverName: () => SELF, isDispatched: (v) => dispatcher.isDispatched(v), limiter: new RateLimiters(), addressLimit: { per_second: 1, burst: 2 }, onVerified: (origin) => seenDirectly.push(origin) }));
  base = app.url;
});

afterAll(async () => {
  await dispatcher.close();
  app.close();
});

function carried(path: string, body: string): CarriedRequest {
  const at = Date.now();
  const headers = signRequestHeaders(alice, 'POST', path, body, at, SELF);
  return { from: 'alice.test', path, keyId: headers['X-Paracord-Key-Id']!, timestamp: String(at), signature: headers['X-Paracord-Signature']!, body };
}

describe('a carried request handed to our own listener', () => {
  it('says how many of its items were new here: a batch\'s events inserted, one event inserted, another request taken', async () => {
    expect(await dispatcher.dispatch(carried(EVENTS_PATH, '{"kind":"batch"}'))).toMatchObject({ status: 202, items: 3, taken: 1 });
    expect(await dispatcher.dispatch(carried(EVENT_PATH, '{"kind":"copy"}'))).toMatchObject({ status: 202, items: 1, taken: 0 });
    expect(await dispatcher.dispatch(carried(EVENT_PATH, '{"kind":"new"}'))).toMatchObject({ status: 202, items: 1, taken: 1 });
    expect(await dispatcher.dispatch(carried('/_paracord/federation/v1/join', '{"kind":"join"}'))).toMatchObject({ status: 202, items: 1, taken: 1 });
  });

  it('is not charged to the per-address limit of 127.0.0.1, which a direct request from there is', async () => {
    // The bucket (burst 2) is empty after the requests above came from here… except those were
    // handed over: it is full, and direct requests use it up.
    const direct = [];
    seenDirectly.length = 0;
    for (let i = 0; i < 4; i++) direct.push((await sendSigned(alice, app.url, 'POST', EVENT_PATH, `{"kind":"new","i":${i}}`, { destination: SELF })).status);
    expect(direct.slice(0, 2)).toEqual([202, 202]);
    // A direct request says its origin reached us now (seen, its deliveries woken)…
    expect(seenDirectly).toEqual(['alice.test', 'alice.test']);
    expect(direct.slice(2)).toEqual([429, 429]);
    // Handed over, still taken; a carried one (up to a week old) says nothing of that (red team, 2026-11-28).
    for (let i = 0; i < 4; i++) expect((await dispatcher.dispatch(carried(EVENT_PATH, `{"kind":"new","i":${i}}`))).status).toBe(202);
    expect(seenDirectly).toEqual(['alice.test', 'alice.test']);
  });

  it('is remembered for the mailbox\'s week when the mailbox carried another server\'s request; one the mailbox signed itself, as a direct request', async () => {
    const expiresIn = (request: CarriedRequest) => (app.db.prepare('SELECT expires_at FROM federation_request_replay WHERE signature = ?').get(request.signature) as { expires_at: number }).expires_at - Date.now();
    const viaBob = { ...carried(EVENT_PATH, '{"kind":"new","via":"bob"}'), mailbox: 'bob.test' };
    const viaItself = { ...carried(EVENT_PATH, '{"kind":"new","via":"alice"}'), mailbox: 'Alice.test' };
    const viaUnknown = carried(EVENT_PATH, '{"kind":"new","via":"unknown"}');
    for (const request of [viaBob, viaItself, viaUnknown]) expect((await dispatcher.dispatch(request)).status).toBe(202);
    expect(expiresIn(viaBob)).toBeGreaterThan(6 * 86_400_000);
    expect(expiresIn(viaUnknown)).toBeGreaterThan(6 * 86_400_000);
    expect(expiresIn(viaItself)).toBeLessThan(2 * 60_000);
  });

  it('answers "not yet" (a defect, kept in its depositor\'s queue) when our listener cannot be asked: it does not throw and fail the whole mailbox page', async () => {
    const port = await closedPort();
    const nowhere = new SelfDispatch(() => `http://127.0.0.1:${port}`, () => SELF);
    try {
      expect(await nowhere.dispatch(carried(EVENT_PATH, '{"kind":"new"}'))).toMatchObject({ notYet: 'defect', items: 1, taken: 0, error: expect.stringMatching(/^not answered here: /) });
    } finally {
      await nowhere.close();
    }
  });

  // Last: alice rotates her key.
  it('is checked with the key its origin signed it with when it was signed, though that key was rotated out since; a carried one signed after is refused', { timeout: 30_000 }, async () => {
    const at = Date.now();
    const beforeRotation = carried(EVENT_PATH, '{"kind":"new","rotated":"before"}');
    // Signed now with the same key, dated after the rotation below (within the clock skew).
    const afterBody = '{"kind":"new","rotated":"after"}';
    const later = signRequestHeaders(alice, 'POST', EVENT_PATH, afterBody, at + 5_000, SELF);
    const afterRotation: CarriedRequest = { from: 'alice.test', path: EVENT_PATH, keyId: later['X-Paracord-Key-Id']!, timestamp: String(at + 5_000), signature: later['X-Paracord-Signature']!, body: afterBody };
    const rotated = await alice.rotate(at + 1_000);
    // Asked for the new key, the node reads alice's keys again and learns the old one expired.
    // (At most one read of a server's keys every 10 s: asked until it is read.)
    await expect.poll(async () => (await app.keys.lookup('alice.test', rotated.key_id, { purpose: 'request' })).ok, { timeout: 15_000, interval: 500 }).toBe(true);
    expect(app.keys.lookupNow('alice.test', beforeRotation.keyId, { purpose: 'request' })).toMatchObject({ ok: false, code: 'key_expired' });
    // Left at a mailbox before the rotation: taken (before: 403 key_expired, dropped for good).
    expect(await dispatcher.dispatch(beforeRotation)).toMatchObject({ status: 202, notYet: null });
    expect(await dispatcher.dispatch(afterRotation)).toMatchObject({ status: 403, error: 'key_expired' });
  });
});
