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
