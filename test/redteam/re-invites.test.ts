/**
 * Red team (stop 55's note, "re-invites"): a room's host may sign a new invite for the same user
 * and room as often as it likes. Each was news: every one notified the user (every screen of the
 * invitee fetched its invites, rooms, timeline and members again) and made a pulled page count as
 * fruitful, so a host answering at once was asked again at once. Now an invite the user has
 * pending already is renewed: the row takes the new event and its expiry (the name shown stays),
 * nothing is notified unless it ends sooner, and it is answered `inserted: false`. After a
 * decline (or an expiry with no join sent) an invite is new again, as users expect. Every
 * notification of an invite is paced per host and invitee: at most one every 2 s, the last one
 * never dropped (an invite that ends in a second and comes again, a new room each time).
 */
import { expect, it } from '../helpers/fixtures.ts';
import { INVITE_PATH, PULL_PATH } from '../../main/core/federation/paths.ts';
import { INVITE_WIRE_ORDER, wireJson } from '../../main/core/federation/wire-json.ts';
import { sendSigned } from '../helpers/signed-request.ts';
import { envelopeWireJson } from '../../main/core/federation/envelope.ts';
import { makeEvent } from '../helpers/events.ts';
import { eventually } from '../helpers/rooms.ts';
import { pacedFromNow } from '../helpers/paced.ts';
import type { InProcessNode, Nodes } from '../helpers/fixtures.ts';
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

/** A node whose owner a fake host invites (an allowed peer), and the node's admin event stream. */
async function invitedBy(nodes: Nodes, hostName: string) {
  const host = await nodes.fakePeer(hostName);
  const alpha = await nodes.inProcess('alpha.test');
  expect((await alpha.admin('POST', '/peers', { server_name: hostName, endpoint: host.url })).status).toBe(200);
  return { host, alpha, stream: await adminEvents(alpha) };
}

it('a host inviting our user again and again while the invite is pending: renewed, told once; after a decline, new again', async ({ nodes }) => {
  const { host, alpha, stream } = await invitedBy(nodes, 'again.test');
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
    expect(await invites()).toMatchObject([{ invite_id: first.body.invite_id, room_name: 'first name' }]);
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

it('a host whose invites end within a second, sent again as each ends, to many rooms: told at most once every 2 s; an earlier end is shown; one already over is refused', async ({ nodes }) => {
  // A helper's review of the renewal rule: an invite made to expire, then sent anew, is news each
  // time, and a new room each time is news too. What bounds them is the notifications' own pace.
  const { host, alpha, stream } = await invitedBy(nodes, 'brief.test');
  try {
    const url = alpha.started.federation_url!;
    // A renewal that ends it sooner: taken (accepting meets the latest invite), no news to pages, told.
    const first = await host.invite(url, '!room0:brief.test', '@owner:alpha.test', 'brief', 3600);
    const sooner = await host.invite(url, '!room0:brief.test', '@owner:alpha.test', 'brief', 1);
    expect([sooner.status, sooner.body.inserted]).toEqual([200, false]);
    const listed = (await alpha.admin('GET', '/invites')).body.invites.find((i: { invite_id: string }) => i.invite_id === first.body.invite_id);
    expect(listed.expires_at).toBeLessThanOrEqual(Date.now() + 1_000);
    const overEvent = inviteEvent(host, '!room0:brief.test', 'over', Date.now() - 1_000);
    const over = await sendSigned(host.identity, url, 'POST', INVITE_PATH, wireJson({ origin_server: 'brief.test', room_id: '!room0:brief.test', sender: overEvent.sender, max_age_seconds: 3600, invitee: '@owner:alpha.test', room_name: 'over', event: overEvent }, INVITE_WIRE_ORDER));
    expect([over.status, over.body.error]).toEqual([403, 'invite_expired']);
    // Then, for 5 s: invites of one second to ten rooms, each sent again once it ended.
    await sleep(2_100);
    const from = stream.names.length;
    const started = performance.now();
    let news = 0;
    while (performance.now() - started < 5_000) {
      for (let room = 1; room <= 10; room++) if ((await host.invite(url, `!room${room}:brief.test`, '@owner:alpha.test', 'brief', 1)).body.inserted === true) news++;
      await sleep(1_100);
    }
    const elapsed = performance.now() - started;
    expect(news).toBeGreaterThan(10);
    await sleep(2_100); // the last one, told at the end of its gap
    const told = stream.names.slice(from).filter((n) => n === 'invite').length;
    expect(told).toBeGreaterThan(0);
    expect(told).toBeLessThanOrEqual(Math.floor((elapsed + 2_100) / 2_000) + 1);
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
