/**
 * Red team (stop 55's note, "re-invites"): a room's host may sign a new invite for the same user
 * and room as often as it likes. Each was news: every one notified the user (every screen of the
 * invitee fetched its invites, rooms, timeline and members again) and made a pulled page count as
 * fruitful, so a host answering at once was asked again at once. Now an invite the user has
 * pending already is renewed: the row takes the new event (and a later expiry, never an earlier
 * one), nothing is notified, and it is answered `inserted: false`. After a decline (or an expiry
 * with no join sent) an invite is new again, as users expect.
 */
import { expect, it } from '../helpers/fixtures.ts';
import { INVITE_PATH, PULL_PATH } from '../../main/core/federation/paths.ts';
import { INVITE_WIRE_ORDER, wireJson } from '../../main/core/federation/wire-json.ts';
import { sendSigned } from '../helpers/signed-request.ts';
import { envelopeWireJson } from '../../main/core/federation/envelope.ts';
import { makeEvent } from '../helpers/events.ts';
import { eventually } from '../helpers/rooms.ts';
import { pacedFromNow } from '../helpers/paced.ts';
import type { InProcessNode } from '../helpers/fixtures.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The node's admin event stream (SSE), read as it comes: the names of the events it sent. */
async function adminEvents(node: InProcessNode): Promise<{ names: string[]; close: () => void }> {
  const names: string[] = [];
  const controller = new AbortController();
  const response = await fetch(`${node.started.admin_url}/_paracord/admin/v1/events`, { headers: { authorization: `Bearer ${node.token}` }, signal: controller.signal });
  const reader = response.body!.getReader();
  let text = '';
  let connected = false;
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += Buffer.from(value).toString('utf8');
        if (text.includes(': connected')) connected = true;
        let end;
        while ((end = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const name = /^event: (.+)$/m.exec(block)?.[1];
          if (name) names.push(name);
        }
      }
    } catch {
      // aborted
    }
  })();
  await eventually(async () => expect(connected).toBe(true));
  return { names, close: () => controller.abort() };
}

const inviteEvent = (host: FakePeer, roomId: string, roomName: string, expiresAt = Date.now() + 3600_000) =>
  makeEvent(host.identity, {
    room_id: roomId, event_type: 'm.member.invite', sender: `@owner:${host.serverName}`, state_key: '@owner:alpha.test',
    content: { membership: 'invite', expires_at: expiresAt, room_name: roomName },
  });

it('a host inviting our user again and again while the invite is pending: renewed, told once; after a decline, new again', async ({ nodes }) => {
  const host = await nodes.fakePeer('again.test');
  const alpha = await nodes.inProcess('alpha.test');
  expect((await alpha.admin('POST', '/peers', { server_name: 'again.test', endpoint: host.url })).status).toBe(200);
  const stream = await adminEvents(alpha);
  try {
    const roomId = '!room:again.test';
    const first = await host.invite(alpha.started.federation_url!, roomId, '@owner:alpha.test', 'first name');
    expect([first.status, first.body.inserted]).toEqual([200, true]);
    for (let i = 0; i < 20; i++) {
      const again = await host.invite(alpha.started.federation_url!, roomId, '@owner:alpha.test', `name ${i}`);
      expect([again.status, again.body.invite_id, again.body.inserted]).toEqual([200, first.body.invite_id, false]);
    }
    // One invite, as the user was shown it: a renewal changes no name.
    const invites = async () => (await alpha.admin('GET', '/invites')).body.invites.filter((i: { room_id: string }) => i.room_id === roomId) as Array<{ invite_id: string; room_name: string; expires_at: number }>;
    const [shown] = await invites();
    expect(shown).toMatchObject({ invite_id: first.body.invite_id, room_name: 'first name' });
    // A renewal cannot end it (a helper's review: an invite made to expire, then sent anew, was
    // news each time): an earlier expiry is not taken, one already past is refused.
    const shorter = await host.invite(alpha.started.federation_url!, roomId, '@owner:alpha.test', 'shorter', 1);
    expect([shorter.status, shorter.body.inserted]).toEqual([200, false]);
    const overEvent = inviteEvent(host, roomId, 'over', Date.now() - 1_000);
    const over = await sendSigned(host.identity, alpha.started.federation_url!, 'POST', INVITE_PATH, wireJson({ origin_server: 'again.test', room_id: roomId, sender: overEvent.sender, max_age_seconds: 3600, invitee: '@owner:alpha.test', room_name: 'over', event: overEvent }, INVITE_WIRE_ORDER));
    expect([over.status, over.body.error]).toEqual([403, 'invite_expired']);
    await sleep(1_200);
    const later = await host.invite(alpha.started.federation_url!, roomId, '@owner:alpha.test', 'later');
    expect([later.status, later.body.inserted]).toEqual([200, false]);
    expect((await invites())[0]!.expires_at).toBeGreaterThanOrEqual(shown!.expires_at);
    await sleep(300);
    expect(stream.names.filter((n) => n === 'invite')).toHaveLength(1);
    // Declined, then invited again: news (a notification, inserted).
    expect((await alpha.admin('POST', `/invites/${first.body.invite_id}/decline`)).status).toBe(200);
    const afterDecline = await host.invite(alpha.started.federation_url!, roomId, '@owner:alpha.test', 'after the decline');
    expect([afterDecline.status, afterDecline.body.inserted]).toEqual([200, true]);
    // Told of the decline and of the new invite.
    await eventually(async () => expect(stream.names.filter((n) => n === 'invite')).toHaveLength(3));
    expect((await alpha.admin('GET', '/invites')).body.invites.filter((i: { room_id: string }) => i.room_id === roomId)).toHaveLength(1);
  } finally {
    stream.close();
  }
});

it('pull: a host answering at once pages of our user\'s invite, signed again each time (cursor moving), is paced and told once', async ({ nodes }) => {
  const host = await nodes.fakePeer('eager-inviter.test');
  const roomId = '!room:eager-inviter.test';
  const asks: number[] = [];
  let moved = 0;
  host.routes.set(PULL_PATH, () => {
    asks.push(performance.now());
    const invite = JSON.parse(envelopeWireJson(inviteEvent(host, roomId, `name ${moved}`)));
    return { status: 200, body: { events: [invite], cursor: String(++moved) } };
  });
  const alpha = await nodes.inProcess('alpha.test', { config: { pull: true } });
  const stream = await adminEvents(alpha);
  try {
    expect((await alpha.admin('POST', '/peers', { server_name: 'eager-inviter.test', endpoint: host.url })).status).toBe(200);
    await eventually(async () => expect((await alpha.admin('GET', '/invites')).body.invites.map((i: { room_id: string }) => i.room_id)).toContain(roomId));
    await pacedFromNow(asks);
    expect(stream.names.filter((n) => n === 'invite')).toHaveLength(1);
    // Each page renewed the invite: still the one the user was shown.
    const [invite] = (await alpha.admin('GET', '/invites')).body.invites.filter((i: { room_id: string }) => i.room_id === roomId);
    expect(invite.room_name).toBe('name 0');
  } finally {
    stream.close();
  }
});
