/**
 * Destination binding must never cost a message (issue #14 item 14, "nothing they send may ever be
 * lost"). A sender decides whether to bind a request from the receiver's discovery; when that
 * could not be read (the receiver was down), it used to send the unbound form, and a receiver that
 * requires binding from it refused with 403 destination_binding_required — a permanent failure.
 * Found by a test of two nodes restarting together. The sender now learns the binding afresh and
 * signs again.
 */
import { beforeAll, expect, it } from './helpers/fixtures.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { enc, eventually, messages, roomWithMembers, send } from './helpers/rooms.ts';
import { switchProxy } from './helpers/switch-proxy.ts';

let alpha: NodeProcess;
let beta: NodeProcess;
let roomId: string;

beforeAll(async ({ fileNodes }) => {
  [alpha, beta] = await fileNodes.peered('alpha.test', { serverName: 'beta.test', args: ['--retry-initial', '200', '--retry-max', '1000'] });
  roomId = await roomWithMembers(alpha, 'binding', [[beta, '@owner:beta.test']]);
});

it('a message sent while the host was down (its discovery unreadable) is delivered once it is back, not refused for good', async () => {
  // Both stop; beta comes back first (a fresh discovery cache) while the host is still down: its
  // delivery fails, and so does its look-up of the host's discovery.
  expect(await alpha.stop()).toBe(0);
  expect(await beta.stop()).toBe(0);
  await beta.start();
  const eventId = await send(beta, roomId, 'sent while alpha was away');
  await eventually(async () => {
    const attempts = (await beta.admin('GET', `/attempts?destination=${enc('alpha.test')}`)).body.attempts as unknown[];
    expect(attempts.length).toBeGreaterThan(0);
  });
  await alpha.start();
  await eventually(async () => expect((await messages(alpha, roomId)).map((m) => m.event_id)).toContain(eventId));
  const queue = (await beta.admin('GET', '/queue')).body;
  expect(queue.counts).toMatchObject({ failed: 0 });
  // Nothing was refused for the binding on the way.
  const attempts = (await beta.admin('GET', `/attempts?destination=${enc('alpha.test')}`)).body.attempts as Array<{ error: string | null }>;
  expect(attempts.filter((a) => a.error?.includes('destination_binding_required'))).toEqual([]);
});

it('a request to a peer seen to bind is bound although its discovery cannot be read now: never the four-line form first', async ({ nodes }) => {
  // The sender's look-up of the receiver's discovery may fail or outlast its 3 s deadline (a busy
  // machine, a network blip). It used to send the four-line form then, which a receiver that
  // knows the sender binds refuses (one more round trip), and one that does not know reads the
  // sender's discovery to find out: for a friend behind a home router, from an address that never
  // answers (seen in peering-behind-router under load).
  const [gamma, delta] = await nodes.peered('gamma.test', 'delta.test');
  const roomOfGamma = await roomWithMembers(gamma, 'lookups', [[delta, '@owner:delta.test']]);
  // delta has read gamma's discovery by now (binding advertised: remembered on disk). From here
  // delta reaches gamma only through a proxy that answers 503 for its discovery.
  const signedRequests: Array<{ request: string; bound: boolean }> = [];
  const proxy = await switchProxy(gamma.federationUrl, (req) => {
    if (req.url?.includes('/.well-known/')) return { status: 503 };
    if (req.headers['x-paracord-signature'] !== undefined) {
      signedRequests.push({ request: `${req.method} ${req.url}`, bound: req.headers['x-paracord-destination'] !== undefined });
    }
    return null;
  });
  try {
    const gammaStatus = (await gamma.admin('GET', '/status')).body as { key_id: string; public_key: string };
    const readded = await delta.admin('POST', '/peers', { server_name: 'gamma.test', endpoint: `${proxy.url}/_paracord/federation/v1`, key_id: gammaStatus.key_id, public_key: gammaStatus.public_key, replace: true });
    expect(readded.status, JSON.stringify(readded.body)).toBe(200);
    // A restart: no discovery cached, only what was remembered of it.
    expect(await delta.stop()).toBe(0);
    await delta.start();
    const eventId = await send(delta, roomOfGamma, 'sent while its discovery is unreadable');
    await eventually(async () => expect((await messages(gamma, roomOfGamma)).map((m) => m.event_id)).toContain(eventId));
    expect(signedRequests.length).toBeGreaterThan(0);
    expect(signedRequests.filter((r) => !r.bound)).toEqual([]);
  } finally {
    proxy.close();
  }
});
