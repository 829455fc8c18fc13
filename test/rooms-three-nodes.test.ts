/**
 * Issue #3's scenario with three real nodes on 127.0.0.1: alpha hosts a room and invites
 * users of beta and gamma; everyone posts, edits, deletes, reacts and unreacts; gamma is
 * stopped for part of the conversation and catches up when restarted; at the end the
 * messages are identical on all three servers.
 *
 * beta and gamma never peer with each other: each verifies the other's events, relayed by
 * alpha, with keys that alpha serves from its cache (the origin's own address is not known).
 */
import { request } from 'undici';
import { beforeAll, describe, expect, it } from './helpers/fixtures.ts';
import { startAround, type NodeProcess } from './helpers/node-process.ts';
import { enc, eventually, inviteAndJoin, messages, roomWithMembers, send } from './helpers/rooms.ts';

let alpha: NodeProcess;
let beta: NodeProcess;
let gamma: NodeProcess;
let roomUnderTest: string;

beforeAll(async ({ fileNodes }) => {
  alpha = fileNodes.process({ serverName: 'alpha.test' });
  beta = fileNodes.process({ serverName: 'beta.test' });
  gamma = fileNodes.process({ serverName: 'gamma.test' });
  // beta and gamma do not peer: each knows the other only through alpha.
  await startAround(alpha, [beta, gamma]);
  expect((await beta.admin('POST', '/users', { localpart: 'bob' })).status).toBe(200);
});

describe('a room hosted by alpha with members on beta and gamma', () => {
  it('converges to the same messages on all three servers, across an outage of gamma', async () => {
    const roomId = await roomWithMembers(alpha, 'three servers', [
      [beta, '@owner:beta.test'],
      [beta, '@bob:beta.test'],
      [gamma, '@owner:gamma.test'],
    ]);

    // The room shows at once on the joined servers, with every member.
    for (const node of [beta, gamma]) {
      const room = await eventually(async () => {
        const r = (await node.admin('GET', `/rooms/${enc(roomId)}`)).body;
        expect(r.members.filter((m: { membership: string }) => m.membership === 'join')).toHaveLength(4);
        return r;
      });
      expect(room).toMatchObject({ room_id: roomId, name: 'three servers', host_server: 'alpha.test' });
    }

    // Live updates reach beta's UI stream.
    const stream = await request(`${beta.ready.admin_url}/_paracord/admin/v1/events`, { headers: { authorization: `Bearer ${beta.adminToken}` } });
    expect(stream.headers['content-type']).toContain('text/event-stream');
    let streamed = '';
    stream.body.on('data', (chunk: Buffer) => (streamed += chunk.toString()));
    // And alpha's, the host's: it is told of its own messages' delivery, not of the events it relays.
    const hostStream = await request(`${alpha.ready.admin_url}/_paracord/admin/v1/events`, { headers: { authorization: `Bearer ${alpha.adminToken}` } });
    let hostStreamed = '';
    hostStream.body.on('data', (chunk: Buffer) => (hostStreamed += chunk.toString()));
    const deliveries = (text: string) =>
      [...text.matchAll(/^event: delivery\ndata: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as { room_id: string; event_ids: string[] });

    const a1 = await send(alpha, roomId, 'hello from alpha');
    const b1 = await send(beta, roomId, 'hello from beta');
    const bob1 = await send(beta, roomId, 'bob here', '@bob:beta.test');
    const g1 = await send(gamma, roomId, 'hello from gamma');
    await eventually(async () => expect(streamed).toContain(a1));
    stream.body.destroy();

    // Everyone sees all four before the edits, so edits and reactions have their targets.
    for (const node of [alpha, beta, gamma]) {
      await eventually(async () => expect((await messages(node, roomId)).map((m) => m.event_id)).toEqual(expect.arrayContaining([a1, b1, bob1, g1])));
    }
    // alpha delivered its own message to beta and gamma, and relayed theirs to each other.
    await eventually(async () => expect(deliveries(hostStreamed).flatMap((d) => d.event_ids)).toContain(a1));
    await eventually(async () => expect(((await alpha.admin('GET', '/queue')).body.entries as unknown[]).length).toBe(0));
    hostStream.body.destroy();
    expect(deliveries(hostStreamed).every((d) => d.room_id === roomId)).toBe(true);
    expect(deliveries(hostStreamed).flatMap((d) => d.event_ids).filter((id) => [b1, bob1, g1].includes(id))).toEqual([]);
    // Each delivery attempt is a status change of the queue alone: screens that show no queue do not ask again.
    const statuses = [...hostStreamed.matchAll(/^event: status\ndata: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as { scope?: string });
    expect(statuses).toContainEqual({ type: 'status', scope: 'queue' });
    expect((await beta.admin('PATCH', `/rooms/${enc(roomId)}/messages/${enc(b1)}`, { body: 'hello from beta (edited)' })).status).toBe(200);
    expect((await gamma.admin('PUT', `/rooms/${enc(roomId)}/messages/${enc(a1)}/reactions/${enc('👍')}`)).status).toBe(200);
    expect((await beta.admin('PUT', `/rooms/${enc(roomId)}/messages/${enc(a1)}/reactions/${enc('👍')}`)).status).toBe(200);
    expect((await alpha.admin('PUT', `/rooms/${enc(roomId)}/messages/${enc(g1)}/reactions/${enc('🎉')}`)).status).toBe(200);
    // The owner (moderator) of the room deletes bob's message.
    expect((await alpha.admin('DELETE', `/rooms/${enc(roomId)}/messages/${enc(bob1)}`)).status).toBe(200);

    // beta's message went to alpha alone (the room's server, which passed it on): said so, not "to all"
    // (a helper's audit, 2026-11-28); alpha's own went to everyone itself.
    const deliveryOf = async (node: NodeProcess, eventId: string) =>
      ((await node.admin('GET', `/rooms/${enc(roomId)}/messages?limit=500`)).body.messages as Array<{ event_id: string; delivery?: { state: string; via_host?: string } }>).find((m) => m.event_id === eventId)!.delivery;
    await eventually(async () => expect(await deliveryOf(beta, b1)).toMatchObject({ state: 'delivered', via_host: 'alpha.test' }));
    await eventually(async () => expect(await deliveryOf(alpha, a1)).toMatchObject({ state: 'delivered' }));
    expect((await deliveryOf(alpha, a1))!.via_host).toBeUndefined();

    // gamma's reaction must reach alpha before gamma goes away, or it would wait in gamma's outbox.
    await eventually(async () => expect((await messages(alpha, roomId)).find((m) => m.event_id === a1).reactions['👍']).toContain('@owner:gamma.test'));

    // gamma goes offline; the conversation goes on without it.
    expect(await gamma.stop()).toBe(0);
    const a2 = await send(alpha, roomId, 'gamma is away');
    const b2 = await send(beta, roomId, 'we keep talking');
    expect((await beta.admin('DELETE', `/rooms/${enc(roomId)}/messages/${enc(a1)}/reactions/${enc('👍')}`)).status).toBe(200);
    await eventually(async () => expect((await messages(alpha, roomId)).map((m) => m.event_id)).toContain(b2));
    expect((await alpha.admin('PATCH', `/rooms/${enc(roomId)}/messages/${enc(a2)}`, { body: 'gamma is away (edited)' })).status).toBe(200);
    expect((await beta.admin('DELETE', `/rooms/${enc(roomId)}/messages/${enc(b2)}`)).status).toBe(200);
    for (let i = 0; i < 20; i++) await send(i % 2 ? alpha : beta, roomId, `while gamma is away ${i}`);
    const queued = (await alpha.admin('GET', '/queue')).body;
    expect(queued.entries.some((e: { destination: string }) => e.destination === 'gamma.test')).toBe(true);

    // gamma comes back and catches up; then it takes part again.
    await gamma.start();
    await eventually(async () => expect((await messages(gamma, roomId)).map((m) => m.event_id)).toContain(b2), 30_000);
    const g2 = await send(gamma, roomId, 'back again');
    // gamma never reacted with 🎉 (alpha did): removing it is refused.
    const notMine = await gamma.admin('DELETE', `/rooms/${enc(roomId)}/messages/${enc(g1)}/reactions/${enc('🎉')}`);
    expect(notMine.status).toBe(409);
    expect(notMine.body.error).toBe('no_reaction');

    const expected = await eventually(async () => {
        const [onAlpha, onBeta, onGamma] = await Promise.all([messages(alpha, roomId), messages(beta, roomId), messages(gamma, roomId)]);
      expect(onAlpha.map((m) => m.event_id)).toContain(g2);
      expect(onBeta).toEqual(onAlpha);
      expect(onGamma).toEqual(onAlpha);
      return onAlpha;
    }, 30_000);

    // And what they agree on is right.
    const byId = new Map(expected.map((m) => [m.event_id, m]));
    expect(expected).toHaveLength(4 + 2 + 20 + 1);
    expect(byId.get(b1)).toMatchObject({ body: 'hello from beta (edited)', edited: true, deleted: false });
    expect(byId.get(bob1)).toMatchObject({ deleted: true, edited: false, reactions: {} });
    expect(byId.get(bob1).body).toBeUndefined();
    expect(byId.get(a1).reactions).toEqual({ '👍': ['@owner:gamma.test'] });
    expect(byId.get(g1).reactions).toEqual({ '🎉': ['@owner:alpha.test'] });
    expect(byId.get(a2)).toMatchObject({ body: 'gamma is away (edited)', edited: true });
    expect(byId.get(b2)).toMatchObject({ deleted: true });
    const depths = expected.map((m) => m.depth);
    expect([...depths].sort((x, y) => x - y)).toEqual(depths);

    // Nothing left undelivered.
    await eventually(async () => expect((await alpha.admin('GET', '/status')).body.queue).toEqual({ pending: 0, failed: 0 }));
    await eventually(async () => expect((await beta.admin('GET', '/status')).body.queue).toEqual({ pending: 0, failed: 0 }));
    roomUnderTest = roomId;
  });

  it('a member leaves, and every server sees it', async () => {
    const roomId = roomUnderTest;
    expect((await beta.admin('POST', `/rooms/${enc(roomId)}/leave`, { user_id: '@bob:beta.test' })).status).toBe(200);
    for (const node of [alpha, beta, gamma]) {
      await eventually(async () => {
        const members = (await node.admin('GET', `/rooms/${enc(roomId)}`)).body.members;
        expect(members.find((m: { user_id: string }) => m.user_id === '@bob:beta.test').membership).toBe('leave');
      });
    }
    const refused = await beta.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'still here?', user_id: '@bob:beta.test' });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('not_a_member');
  });

  it("a receiver's block list applies to the origins of relayed events", async () => {
    const roomId = roomUnderTest;
    expect((await beta.admin('PUT', '/peers/gamma.test/trust', { mode: 'block', reason: 'test' })).status).toBe(200);
    const blocked = await send(gamma, roomId, 'beta should not see this');
    await eventually(async () => expect((await messages(alpha, roomId)).map((m) => m.event_id)).toContain(blocked));
    // alpha's delivery to beta is refused, and alpha shows why.
    const failed = await eventually(async () => {
      const entry = (await alpha.admin('GET', '/queue')).body.entries.find((e: { event_id: string; destination: string }) => e.event_id === blocked && e.destination === 'beta.test');
      expect(entry?.state).toBe('failed');
      return entry;
    });
    expect(failed.last_error).toContain('origin_blocked');
    expect((await messages(beta, roomId)).map((m) => m.event_id)).not.toContain(blocked);
    // Others' messages still flow to beta.
    const fromAlpha = await send(alpha, roomId, 'alpha still reaches beta');
    await eventually(async () => expect((await messages(beta, roomId)).map((m) => m.event_id)).toContain(fromAlpha));
  });

  it('a late joiner sees every member at once, even those whose joins are older than the recent history', async () => {
    const roomId = await roomWithMembers(alpha, 'long history', [[gamma, '@owner:gamma.test']]);
    for (let i = 0; i < 110; i++) await send(alpha, roomId, `history ${i}`);
    await inviteAndJoin(alpha, roomId, beta, '@bob:beta.test');
    const members = (await beta.admin('GET', `/rooms/${enc(roomId)}`)).body.members;
    expect(members).toContainEqual({ user_id: '@owner:gamma.test', membership: 'join', role: 'member' });
    expect(members).toContainEqual({ user_id: '@owner:alpha.test', membership: 'join', role: 'owner' });
    // The full history follows in the background.
    await eventually(async () => expect((await messages(beta, roomId)).length).toBe(110));
  });
});
