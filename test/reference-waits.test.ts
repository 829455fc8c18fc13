/**
 * A room shared with a Paracord reference server that waits on a limit says so in its view
 * (RoomSummary `waits`, read by the UI: renderer/src/lib/room-waits.ts): what the reference holds
 * of a room it hosts, over this node's storage quota for it, waits to be polled (it is not
 * skipped); our messages to a reference wait for its push limit. A real node of ours (in-process,
 * real SQLite and sockets) and the reference-shaped peer (test/helpers/reference-peer.ts).
 */
import { beforeAll, describe, expect, it, type InProcessNode } from './helpers/fixtures.ts';
import type { ReferencePeer } from './helpers/reference-peer.ts';
import { eventually } from './helpers/rooms.ts';
import { memberByLink, memberRequest } from './helpers/member-client.ts';

let ours: InProcessNode;
let ourUrl: string;
const enc = encodeURIComponent;
const roomView = async (roomId: string) => (await ours.admin('GET', `/rooms/${enc(roomId)}`)).body;
const listed = async (roomId: string) => (await ours.admin('GET', '/rooms')).body.rooms.find((r: any) => r.room_id === roomId);

beforeAll(async ({ fileNodes }) => {
  // A small daily quota per peer (about a dozen of the messages below), and a push window long
  // enough that our pushes to a reference wait for it on any machine.
  ours = await fileNodes.inProcess('ours.test', { config: { referencePollIntervalMs: 150, peerQuotaBytesPerDay: 8_000, referencePushPerMinute: 20, referencePushWindowMs: 60_000 } });
  ourUrl = ours.started.federation_url!;
});

async function peerWith(ref: ReferencePeer): Promise<void> {
  expect((await ours.admin('POST', '/peers', { endpoint: ref.url, key_id: ref.keyId, public_key: ref.publicKeyHex })).status).toBe(200);
  await ref.addServer('ours.test', 'ours.test', `${ourUrl}/_paracord/federation/v1`);
}

describe('a room a reference hosts, over our storage quota for it', () => {
  it('says it waits for the quota, for that server and until when; a room with nothing waiting has no `waits`', async ({ nodes }) => {
    const ref = await nodes.referencePeer({ serverName: 'quota-ref.test', allowedGuilds: ['7070'] });
    ref.guilds.set('7070', 'Chatty guild');
    await peerWith(ref);
    const roomId = '!7070:quota-ref.test';
    ref.memberJoin(roomId, 'Ada');
    const first = ref.say(roomId, 'Ada', 'hello');
    expect((await ours.admin('POST', '/rooms/join', { room_id: roomId })).status).toBe(200);
    await eventually(async () => {
      const shown = (await ours.admin('GET', `/rooms/${enc(roomId)}/messages?limit=50`)).body.messages as Array<{ event_id: string }>;
      if (!shown.some((m) => m.event_id === first.event_id)) throw new Error('not polled yet');
      return true;
    });
    expect((await roomView(roomId)).waits).toBeUndefined();

    // More than the quota allows today: the poller halts at the first refused event and waits.
    for (let i = 0; i < 40; i++) ref.say(roomId, 'Ada', `message ${i} ${'x'.repeat(400)}`);
    const waits = await eventually(async () => {
      const view = await roomView(roomId);
      if (!view.waits) throw new Error('no wait yet');
      return view.waits;
    }, 60_000);
    expect(waits).toEqual([{ server: 'quota-ref.test', reason: 'storage_quota', messages: 0, until: expect.any(Number) }]);
    expect(waits[0].until).toBeGreaterThan(Date.now());
    // The room list says it too (the UI's room list reads listRooms).
    expect((await listed(roomId)).waits).toEqual(waits);
  });
});

describe('a room we host with a reference member, our messages over its push limit', () => {
  it('says how many of the room\'s messages wait for that server\'s limit', async ({ nodes }) => {
    const ref = await nodes.referencePeer({ serverName: 'paced-ref.test' });
    await peerWith(ref);
    const roomId = (await ours.admin('POST', '/rooms', { name: 'Busy' })).body.room_id;
    expect((await ours.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: '@Bo:paced-ref.test' })).status).toBe(200);
    expect((await ref.call('ours.test', 'POST', '/join', JSON.stringify({ origin_server: 'paced-ref.test', room_id: roomId, user_id: '@Bo:paced-ref.test' }))).status).toBe(200);
    // A member of ours who was in the room and left: its list keeps the room (left), without `waits`
    // (how many of the room's messages wait now is activity past its cut: a red-team review).
    const sam = await memberByLink(ours, 'sam');
    const asSam = (method: string, path: string, body?: unknown) => memberRequest(ourUrl, method, path, { cookie: sam, ...(body !== undefined ? { body } : {}) });
    expect((await ours.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: '@sam:ours.test' })).status).toBe(200);
    const invite = ((await asSam('GET', '/invites')).body.invites as Array<{ invite_id: string }>)[0]!;
    expect((await asSam('POST', `/invites/${invite.invite_id}/accept`, {})).status).toBe(200);
    expect((await asSam('POST', `/rooms/${enc(roomId)}/leave`, {})).status).toBe(200);
    // Queued while federation is paused, so all wait at once: more than the 20 a window allows.
    expect((await ours.admin('POST', '/federation/pause', {})).status).toBe(200);
    for (let i = 0; i < 60; i++) expect((await ours.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: `burst ${i}` })).status).toBe(200);
    expect((await ours.admin('POST', '/federation/resume', {})).status).toBe(200);
    const wait = await eventually(async () => {
      const found = (await roomView(roomId)).waits?.find((w: any) => w.reason === 'send_limit');
      if (!found) throw new Error('not paced yet');
      return found;
    }, 60_000);
    expect(wait).toMatchObject({ server: 'paced-ref.test', reason: 'send_limit' });
    expect(wait.messages).toBeGreaterThan(0);
    expect(wait.messages).toBeLessThanOrEqual(60);
    const samsView = ((await asSam('GET', '/rooms')).body.rooms as Array<{ room_id: string; left?: unknown; waits?: unknown }>).find((r) => r.room_id === roomId);
    expect(samsView).toMatchObject({ membership: 'leave', left: { by: '@sam:ours.test' } });
    expect(samsView!.waits).toBeUndefined();
    // Every message still waits to go (paced, not failed).
    const queue = (await ours.admin('GET', '/queue?destination=paced-ref.test')).body.entries as Array<{ state: string }>;
    expect(queue.filter((q) => q.state !== 'pending')).toEqual([]);
  });
});

describe('reference peers polled side by side', () => {
  it('a slow reference peer (each page just inside the deadline) does not hold another\'s polling', async ({ nodes }) => {
    // Before (red team, 2026-11-28): one round over all reference peers in turn, one request at a
    // time: a slow peer held every other peer's rooms for minutes, and a v0.8.5 peer's messages in a
    // room we host, polled over a minute late, were refused as too old.
    const slow = await nodes.referencePeer({ serverName: 'slow-ref.test', allowedGuilds: ['8080'] });
    const fast = await nodes.referencePeer({ serverName: 'fast-ref.test', allowedGuilds: ['9090'] });
    slow.guilds.set('8080', 'Slow guild');
    fast.guilds.set('9090', 'Fast guild');
    for (const ref of [slow, fast]) await peerWith(ref);
    const slowRoom = '!8080:slow-ref.test';
    const fastRoom = '!9090:fast-ref.test';
    slow.memberJoin(slowRoom, 'Sam');
    fast.memberJoin(fastRoom, 'Fay');
    for (const roomId of [slowRoom, fastRoom]) expect((await ours.admin('POST', '/rooms/join', { room_id: roomId })).status).toBe(200);
    const shown = async (roomId: string) => ((await ours.admin('GET', `/rooms/${enc(roomId)}/messages?limit=50`)).body.messages as Array<{ event_id: string }>).map((m) => m.event_id);
    // The slow peer answers each page 8 s late (its deadline is 15 s); once one is under way, the fast peer's news still comes.
    slow.eventsDelayMs = 8_000;
    await eventually(async () => expect(slow.eventsInFlight).toBeGreaterThan(0), 10_000, 20);
    const quick = fast.say(fastRoom, 'Fay', 'polled while the slow peer takes its time');
    try {
      await eventually(async () => expect(await shown(fastRoom)).toContain(quick.event_id), 7_000, 50);
      expect(slow.eventsInFlight).toBeGreaterThan(0);
    } finally {
      slow.eventsDelayMs = 0;
    }
  }, 60_000);
});
