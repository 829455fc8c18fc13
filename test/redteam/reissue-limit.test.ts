/**
 * Our event refused by its room's host as too old (409 depth_too_old) is re-issued (signed again,
 * moved after the room's latest events) and sent again, at most MAX_REISSUES times per event on
 * the push path; then it fails, shown as not delivered. (Pull and mailbox re-issues are bounded by
 * time instead: only an event signed over 30 s before is re-issued, and re-issuing makes it new;
 * a count there would end in a refused event acknowledged, i.e. lost: docs/SECURITY.md 15h.)
 */
import { expect, it } from '../helpers/fixtures.ts';
import { MAX_REISSUES } from '../../main/core/outbox/reissue-too-old.ts';
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
