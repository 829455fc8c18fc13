/**
 * Red team 2026-11-27 (a helper's audit, the class of issue #14 item 15: a loop a peer can spin):
 * our event refused by its room's host as too old is re-issued (signed again, moved after the
 * room's latest events) and sent again. A push answered 409 depth_too_old did so at most 5 times
 * per event, but a host pulling from us re-signed our events on every GET /pull older than 30 s
 * for as long as it did not acknowledge, and a host taking deposits late from a mailbox made us
 * re-issue and deposit again forever. Now the count is kept where every path re-issues
 * (InboundEvents.reissueRefused, MAX_REISSUES): this guards it on the push path.
 */
import { expect, it } from '../helpers/fixtures.ts';
import { MAX_REISSUES } from '../../main/core/rooms/inbound-events.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';
import { send } from '../helpers/rooms.ts';

it('a host that refuses our event as too old every time gets it re-issued at most MAX_REISSUES times', async ({ nodes }) => {
  const host = await nodes.fakePeer('oldhost.test', { roomHost: true });
  const alpha = await nodes.inProcess('alpha.test', { config: { retryInitialMs: 50, retryMaxMs: 200 } });
  expect((await alpha.admin('POST', '/peers', { server_name: 'oldhost.test', endpoint: host.url })).status).toBe(200);
  const roomId = '!old:oldhost.test';
  expect((await host.invite(alpha.started.federation_url!, roomId, '@owner:alpha.test')).status).toBe(200);
  const invite = (await alpha.admin('GET', '/invites')).body.invites.find((i: { room_id: string }) => i.room_id === roomId);
  expect((await alpha.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(200);
  host.answer = { status: 409, body: { error: 'depth_too_old', message: 'too old', room_depth: Date.now() } };
  const before = host.deliveries.length;
  const eventId = await send(alpha, roomId, 'refused again and again');
  await new Promise((r) => setTimeout(r, 5_000));
  const depths = queryNodeDb<{ depth: number }>(alpha.dataDir, 'SELECT depth FROM federation_events WHERE event_id = ?', eventId);
  expect(depths).toHaveLength(1);
  // The first send, then one per re-issue; then it fails (shown as not delivered).
  const sent = host.deliveries.length - before;
  expect(sent).toBeGreaterThan(1);
  expect(sent).toBeLessThanOrEqual(1 + MAX_REISSUES);
});
