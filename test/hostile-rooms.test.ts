/**
 * Issue #14, items 1, 2, 3, 15 and 16: a hostile peer against rooms, replayed through the real
 * HTTP listeners — depth overflow, history rewriting, joins without an invite, catch-up that
 * loses events or spins, invites and pushed events nobody asked for — each refused with a
 * clear 4xx and nothing stored, while legitimate traffic goes on. Plus what the fixes need:
 * our own members re-issue events the host refuses as too old, and migration 5 repairs rooms
 * that already hold an insane depth.
 */
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, type InProcessNode, type Nodes } from './helpers/fixtures.ts';
import { verify } from '../main/core/crypto/ed25519.ts';
import { envelopeSigningBytes, type Envelope } from '../main/core/federation/envelope.ts';
import { MEMBERSHIP_WIRE_ORDER, wireJson } from '../main/core/federation/wire-json.ts';
import { Identity } from '../main/core/identity/identity.ts';
import type { NodeConfig } from '../main/core/config.ts';
import { FederationEvents } from '../main/core/store/federation-events.ts';
import { makeEvent, wire } from './helpers/events.ts';
import type { FakePeer } from './helpers/fake-peer.ts';
import { joinFakePeer } from './helpers/fake-members.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { enc, eventually, messages, send } from './helpers/rooms.ts';
import { sendSigned } from './helpers/signed-request.ts';
import { tempDir } from './helpers/temp-dir.ts';
import { undoMigrationsFrom33 } from './helpers/schema-rollback.ts';

const FED = '/_paracord/federation/v1';
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

const eventCount = (dataDir: string) => queryNodeDb<{ n: number }>(dataDir, 'SELECT COUNT(*) AS n FROM federation_events')[0]!.n;
const roomDepth = (dataDir: string, roomId: string) => queryNodeDb<{ d: number }>(dataDir, 'SELECT last_depth AS d FROM rooms WHERE room_id = ?', roomId)[0]!.d;
const storedIds = (dataDir: string) => new Set(queryNodeDb<{ event_id: string }>(dataDir, 'SELECT event_id FROM federation_events').map((r) => r.event_id));

function expectError(response: { status: number; body: any }, status: number, error: string): void {
  expect(response.body, JSON.stringify(response.body)).toMatchObject({ error });
  expect(typeof response.body.message).toBe('string');
  expect(response.status).toBe(status);
}

// ——— a real node in this process, with config the CLI does not expose yet ———

type InProcess = InProcessNode & { serverName: string; federationUrl: string };

async function inProcess(nodes: Nodes, serverName: string, extra: Partial<NodeConfig> = {}, dataDir?: string, listen?: string): Promise<InProcess> {
  const node = await nodes.inProcess(serverName, { config: extra, ...(dataDir ? { dataDir } : {}), ...(listen ? { listen } : {}) });
  return Object.assign(node, { serverName, federationUrl: node.started.federation_url! });
}

async function peer(a: InProcess, b: InProcess): Promise<void> {
  expect((await a.admin('POST', '/peers', { server_name: b.serverName, endpoint: b.federationUrl })).status).toBe(200);
  expect((await b.admin('POST', '/peers', { server_name: a.serverName, endpoint: a.federationUrl })).status).toBe(200);
}

async function inviteAndJoin(host: InProcess, roomId: string, member: InProcess, userId: string): Promise<void> {
  expect((await host.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: userId })).status).toBe(200);
  const invite = (await member.admin('GET', `/invites?user_id=${enc(userId)}`)).body.invites.find((i: any) => i.room_id === roomId);
  const accepted = await member.admin('POST', `/invites/${invite.invite_id}/accept`, { user_id: userId });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
}

const bodies = async (node: InProcess, roomId: string): Promise<string[]> => {
  const response = await node.admin('GET', `/rooms/${enc(roomId)}/messages?limit=500`);
  expect(response.status).toBe(200);
  return response.body.messages.map((m: any) => m.body);
};

describe('a joined peer against a room alpha hosts', () => {
  let alpha: NodeProcess;
  let fake: FakePeer;
  let roomId: string;
  let fakeUser: string;

  /** A message of the fake peer's joined user in alpha's room. */
  const fakeMessage = (overrides: Parameters<typeof makeEvent>[1] = {}) =>
    makeEvent(fake.identity, { room_id: roomId, sender: fakeUser, ...overrides });

  const post = (event: Envelope) => sendSigned(fake.identity, alpha.federationUrl, 'POST', `${FED}/event`, wire(event));

  /** The attack is refused with `status`/`error`, nothing is stored, and the room still works. */
  async function refused(event: Envelope, status: number, error: string) {
    const before = eventCount(alpha.dataDir);
    const response = await post(event);
    expectError(response, status, error);
    expect(eventCount(alpha.dataDir)).toBe(before);
    expect(storedIds(alpha.dataDir).has(event.event_id)).toBe(false);
    return response;
  }

  beforeAll(async ({ fileNodes }) => {
    alpha = fileNodes.process({ serverName: 'alpha.test' });
    fake = await fileNodes.fakePeer('evil.test');
    await alpha.start();
    roomId = (await alpha.admin('POST', '/rooms', { name: 'hostile' })).body.room_id;
    fakeUser = await joinFakePeer(alpha, roomId, fake);
    await send(alpha, roomId, 'before the attacks');
  });

  it('1. depth 2^53 - 1 is refused 400 depth_in_future and the room keeps working', async () => {
    await refused(fakeMessage({ depth: MAX_SAFE }), 400, 'depth_in_future');
    await refused(fakeMessage({ depth: Date.now() + 10 * 60_000 }), 400, 'depth_in_future');
    await refused(fakeMessage({ origin_ts: Date.now() + 10 * 60_000 }), 400, 'depth_in_future');
    // The batch endpoint goes through the same check.
    const batch = await sendSigned(fake.identity, alpha.federationUrl, 'POST', `${FED}/events`, `{"events":[${wire(fakeMessage({ depth: MAX_SAFE }))}]}`);
    expect(batch.status).toBe(200);
    expect(batch.body.results[0]).toMatchObject({ status: 400, error: 'depth_in_future' });
    expect(roomDepth(alpha.dataDir, roomId)).toBeLessThan(Date.now() + 60_000);
    const id = await send(alpha, roomId, 'still here');
    const { depth } = queryNodeDb<{ depth: number }>(alpha.dataDir, 'SELECT depth FROM federation_events WHERE event_id = ?', id)[0]!;
    expect(depth).toBeLessThan(Date.now() + 60_000);
  });

  it('2. an event placed before the room history is refused 409 depth_too_old with room_depth', async () => {
    const latest = roomDepth(alpha.dataDir, roomId);
    const response = await refused(fakeMessage({ depth: latest - 10 * 60_000, origin_ts: Date.now() }), 409, 'depth_too_old');
    expect(response.body.room_depth).toBe(latest);
    // An old origin_ts (a stale signature, or a clock far behind) is refused the same way.
    expectError(await refused(fakeMessage({ origin_ts: Date.now() - 10 * 60_000, depth: Date.now() }), 409, 'depth_too_old'), 409, 'depth_too_old');
    expect(await messages(alpha, roomId)).not.toContainEqual(expect.objectContaining({ sender: fakeUser }));
  });

  it('2. the reference server\'s depth = origin_ts stays accepted, also a few seconds behind the room', async () => {
    await send(alpha, roomId, 'alpha just spoke');
    const ts = Date.now() - 5_000;
    const reference = fakeMessage({ origin_ts: ts, depth: ts, content: { body: 'from a reference server' } });
    const response = await post(reference);
    expect(response.status, JSON.stringify(response.body)).toBe(202);
    expect((await messages(alpha, roomId)).map((m) => m.event_id)).toContain(reference.event_id);
  });

  it('3. a member\'s invite that would stay open for ever (or beyond the 30 days an invite lasts) is refused 400 invalid_content; one within them is taken', async () => {
    const invite = (user: string, expiresAt: number) => fakeMessage({ event_type: 'm.member.invite', state_key: user, content: { membership: 'invite', expires_at: expiresAt } });
    await refused(invite('@spy:evil.test', MAX_SAFE), 400, 'invalid_content');
    await refused(invite('@spy:evil.test', Date.now() + 40 * 24 * 3600_000), 400, 'invalid_content');
    expect(queryNodeDb(alpha.dataDir, "SELECT * FROM room_members WHERE user_id = '@spy:evil.test'")).toEqual([]);
    const twin = invite('@friend:evil.test', Date.now() + 7 * 24 * 3600_000);
    const taken = await post(twin);
    expect(taken.status, JSON.stringify(taken.body)).toBe(202);
    expect(queryNodeDb<{ membership: string }>(alpha.dataDir, "SELECT membership FROM room_members WHERE user_id = '@friend:evil.test'")).toEqual([{ membership: 'invite' }]);
  });

  it('3. POST /join for a user who was never invited is 403 not_invited, with or without an event', async () => {
    // Another user of the same server holds a pending invite: that does not open the room to everyone there.
    const invited = await alpha.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: '@invited:evil.test' });
    expect(invited.status, JSON.stringify(invited.body)).toBe(200);
    const stranger = '@stranger:evil.test';
    const before = [eventCount(alpha.dataDir), queryNodeDb(alpha.dataDir, 'SELECT * FROM room_members ORDER BY user_id')];
    const bare = wireJson({ origin_server: 'evil.test', room_id: roomId, user_id: stranger }, MEMBERSHIP_WIRE_ORDER);
    const withoutEvent = await sendSigned(fake.identity, alpha.federationUrl, 'POST', `${FED}/join`, bare);
    expectError(withoutEvent, 403, 'not_invited');
    expect(withoutEvent.body.events).toBeUndefined();
    const join = makeEvent(fake.identity, { room_id: roomId, event_type: 'm.member.join', sender: stranger, state_key: stranger, content: { membership: 'join' } });
    const signed = wireJson({ origin_server: 'evil.test', room_id: roomId, user_id: stranger, event: join }, MEMBERSHIP_WIRE_ORDER);
    const withEvent = await sendSigned(fake.identity, alpha.federationUrl, 'POST', `${FED}/join`, signed);
    expectError(withEvent, 403, 'not_invited');
    expect(withEvent.body.events).toBeUndefined();
    expect([eventCount(alpha.dataDir), queryNodeDb(alpha.dataDir, 'SELECT * FROM room_members ORDER BY user_id')]).toEqual(before);
    // The invited user does get the snapshot.
    const legit = wireJson({ origin_server: 'evil.test', room_id: roomId, user_id: '@invited:evil.test' }, MEMBERSHIP_WIRE_ORDER);
    const snapshot = await sendSigned(fake.identity, alpha.federationUrl, 'POST', `${FED}/join`, legit);
    expect(snapshot.status, JSON.stringify(snapshot.body)).toBe(200);
    expect(Array.isArray(snapshot.body.events)).toBe(true);
  });

  it('15. more than 1,000 events at one depth all reach a catch-up that follows next_since_event_id', async () => {
    const depth = Date.now();
    const flood = Array.from({ length: 1_100 }, (_, i) => fakeMessage({ depth, origin_ts: depth, content: { body: `same depth ${i}` } }));
    for (let start = 0; start < flood.length; start += 100) {
      const body = `{"events":[${flood.slice(start, start + 100).map(wire).join(',')}]}`;
      const answer = await sendSigned(fake.identity, alpha.federationUrl, 'POST', `${FED}/events`, body);
      expect(answer.status).toBe(200);
      expect(answer.body.results.every((r: any) => r.inserted === true), JSON.stringify(answer.body.results[0])).toBe(true);
    }
    const get = (query: string) => sendSigned(fake.identity, alpha.federationUrl, 'GET', `${FED}/events?room_id=${enc(roomId)}&${query}`);
    // Callers that only know since_depth get the whole depth when it fits in a page (issue 37 item 7).
    const legacy = await get(`since_depth=${depth - 1}&limit=500`);
    expect(legacy.status).toBe(200);
    expect(legacy.body.events.map((e: Envelope) => e.event_id)).toEqual(expect.arrayContaining(flood.map((e) => e.event_id)));
    // With the (depth, event_id) cursor, nothing is lost or repeated.
    const seen: string[] = [];
    let query = `since_depth=${depth - 1}&limit=500`;
    for (let page = 0; page < 20; page++) {
      const answer = await get(query);
      expect(answer.status, answer.text).toBe(200);
      seen.push(...answer.body.events.map((e: Envelope) => e.event_id));
      if (answer.body.complete) break;
      query = `since_depth=${answer.body.next_since_depth}&since_event_id=${enc(answer.body.next_since_event_id)}&limit=500`;
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (const event of flood) expect(seen).toContain(event.event_id);
    expectError(await get('since_depth=0&since_event_id=nonsense'), 400, 'invalid_request');
  });
});

describe('a hostile host of a room alpha was invited to', () => {
  let alpha: NodeProcess;
  let host: FakePeer;

  beforeAll(async ({ fileNodes }) => {
    alpha = fileNodes.process({ serverName: 'alpha.test' });
    host = await fileNodes.fakePeer('stall.test', { roomHost: true });
    await alpha.start();
    expect((await alpha.admin('POST', '/peers', { server_name: 'stall.test', endpoint: host.url })).status).toBe(200);
  });

  it('16. events pushed into a room we were only invited to are refused 403 not_joined', async () => {
    const roomId = '!invited-only:stall.test';
    expect((await host.invite(alpha.federationUrl, roomId, '@owner:alpha.test')).status).toBe(200);
    const before = eventCount(alpha.dataDir);
    const pushed = makeEvent(host.identity, { room_id: roomId, content: { body: 'you never joined' } });
    expectError(await sendSigned(host.identity, alpha.federationUrl, 'POST', `${FED}/event`, wire(pushed)), 403, 'not_joined');
    expect(eventCount(alpha.dataDir)).toBe(before);
  });

  it('15. a host answering complete:false without advancing its cursor is asked once, then left alone', async () => {
    const roomId = '!stalls:stall.test';
    host.catchUpAnswer = (query) => ({ room_id: query.get('room_id') ?? '', events: [makeEvent(host.identity, { room_id: query.get('room_id') ?? '' })], complete: false, next_since_depth: 0 });
    expect((await host.invite(alpha.federationUrl, roomId, '@owner:alpha.test')).status).toBe(200);
    const invite = (await alpha.admin('GET', '/invites')).body.invites.find((i: any) => i.room_id === roomId);
    expect((await alpha.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(200);
    await eventually(async () => expect(readFileSync(join(alpha.dataDir, 'logs', 'node.log'), 'utf8')).toContain('"event":"catch_up_stalled"'));
    await new Promise((r) => setTimeout(r, 500));
    expect(host.catchUpRequests).toBe(1);
    // A restart would ask again only after the backoff; the joined room works meanwhile.
    expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'hello host' })).status).toBe(200);
  });

  it('1. a relayed depth never bricks a member: 2^53 - 1 is refused, and a far one does not move the room clock', async () => {
    const roomId = '!stalls:stall.test';
    const before = eventCount(alpha.dataDir);
    const insane = makeEvent(host.identity, { room_id: roomId, depth: MAX_SAFE });
    expectError(await sendSigned(host.identity, alpha.federationUrl, 'POST', `${FED}/event`, wire(insane)), 400, 'depth_in_future');
    expect(eventCount(alpha.dataDir)).toBe(before);
    const far = makeEvent(host.identity, { room_id: roomId, depth: Date.now() + 12 * 3600_000 });
    expect((await sendSigned(host.identity, alpha.federationUrl, 'POST', `${FED}/event`, wire(far))).status).toBe(202);
    expect(roomDepth(alpha.dataDir, roomId)).toBeLessThanOrEqual(Date.now() + 60_000);
    const sent = await alpha.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'clock still sane' });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
  });
});

describe('16. unsolicited invites are capped per peer', () => {
  let target: InProcess;
  let host: FakePeer;

  beforeAll(async ({ fileNodes }) => {
    target = await inProcess(fileNodes, 'target.test', { maxPendingInvitesPerPeer: 3 });
    host = await fileNodes.fakePeer('spam.test', { roomHost: true });
    expect((await target.admin('POST', '/peers', { server_name: 'spam.test', endpoint: host.url })).status).toBe(200);
  });

  it('the invite over the cap is 429 too_many_invites and stores no room; expired invites free their slot and room', async () => {
    for (let i = 0; i < 3; i++) expect((await host.invite(target.federationUrl, `!spam${i}:spam.test`, '@owner:target.test', 'hostile', 2)).status).toBe(200);
    const rooms = () => queryNodeDb<{ room_id: string }>(target.dataDir, 'SELECT room_id FROM rooms ORDER BY room_id').map((r) => r.room_id);
    const before = [rooms(), eventCount(target.dataDir)];
    expectError(await host.invite(target.federationUrl, '!spam3:spam.test', '@owner:target.test'), 429, 'too_many_invites');
    expect([rooms(), eventCount(target.dataDir)]).toEqual(before);
    // The same invite queued and pushed as an event (as to a server that receives by pull): a final
    // refusal its sender records, not "inserted" (it was answered 202 taken before), nor a 429 it retries.
    const queued = makeEvent(host.identity, {
      room_id: '!spam5:spam.test', event_type: 'm.member.invite', sender: '@owner:spam.test', state_key: '@owner:target.test',
      content: { membership: 'invite', expires_at: Date.now() + 3600_000, room_name: 'hostile' },
    });
    expectError(await sendSigned(host.identity, target.federationUrl, 'POST', '/_paracord/federation/v1/event', wire(queued)), 403, 'too_many_invites');
    expect([rooms(), eventCount(target.dataDir)]).toEqual(before);
    // Inviting the same user to the same room again is not a new invite.
    expect((await host.invite(target.federationUrl, '!spam0:spam.test', '@owner:target.test', 'hostile', 2)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2_100));
    const newest = () => queryNodeDb<{ n: number }>(target.dataDir, 'SELECT MAX(rowid) AS n FROM federation_events')[0]!.n;
    const top = newest();
    expect((await host.invite(target.federationUrl, '!spam4:spam.test', '@owner:target.test')).status).toBe(200);
    // The room holding the newest row (spam0's re-invite) waits for the next time: the largest
    // rowid never goes back, so no later row reuses one the search index has passed.
    expect(rooms()).toEqual(['!spam0:spam.test', '!spam4:spam.test']);
    expect(newest()).toBeGreaterThan(top);
    expect((await host.invite(target.federationUrl, '!spam5:spam.test', '@owner:target.test')).status).toBe(200);
    expect(rooms()).toEqual(['!spam4:spam.test', '!spam5:spam.test']);
  });
});

describe('an invite pushed under the id of an event stored here', () => {
  it('is acknowledged as known only when it is a copy of that event: another id answers as an unknown one (no asking which events are stored here)', async ({ fileNodes }) => {
    const target = await inProcess(fileNodes, 'probed.test');
    const host = await fileNodes.fakePeer('prober.test', { roomHost: true });
    expect((await target.admin('POST', '/peers', { server_name: 'prober.test', endpoint: host.url })).status).toBe(200);
    const own = (await target.admin('POST', '/rooms', { name: 'private' })).body.room_id as string;
    const stored = (await target.admin('POST', `/rooms/${enc(own)}/messages`, { body: 'nobody else knows this id' })).body.event_id as string;
    const asInvite = (eventId: string) => makeEvent(host.identity, {
      event_id: eventId, room_id: '!probe:prober.test', event_type: 'm.member.invite', sender: '@owner:prober.test', state_key: '@owner:probed.test',
      content: { membership: 'invite', expires_at: Date.now() + 3600_000, room_name: 'probe' },
    });
    const push = async (eventId: string) => {
      const answer = await sendSigned(host.identity, target.federationUrl, 'POST', `${FED}/event`, wire(asInvite(eventId)));
      return { status: answer.status, error: answer.body?.error as unknown };
    };
    const before = eventCount(target.dataDir);
    const storedId = await push(stored);
    const unknownId = await push(`$${'x'.repeat(20)}:probed.test`);
    expect(storedId.status).toBeGreaterThanOrEqual(400);
    expect(storedId).toEqual(unknownId);
    expect(eventCount(target.dataDir)).toBe(before);
    // The batch endpoint answers the same.
    const batch = await sendSigned(host.identity, target.federationUrl, 'POST', `${FED}/events`, `{"events":[${wire(asInvite(stored))}]}`);
    expect(batch.status).toBe(200);
    expect(batch.body.results[0]).toMatchObject({ status: storedId.status, error: storedId.error });
    // A real copy of a stored invite is known: taken once, acknowledged again without a second invitation.
    const genuine = makeEvent(host.identity, {
      room_id: '!real:prober.test', event_type: 'm.member.invite', sender: '@owner:prober.test', state_key: '@owner:probed.test',
      content: { membership: 'invite', expires_at: Date.now() + 3600_000, room_name: 'real' },
    });
    for (const inserted of [true, false]) {
      const answer = await sendSigned(host.identity, target.federationUrl, 'POST', `${FED}/event`, wire(genuine));
      expect(answer.status, answer.text).toBe(202);
      expect(answer.body).toEqual({ event_id: genuine.event_id, inserted });
    }
    expect(((await target.admin('GET', '/invites')).body.invites as Array<{ room_id: string }>).filter((i) => i.room_id === '!real:prober.test')).toHaveLength(1);
  });

  it('over its quota, a host is answered alike for a stored id and an unknown one (the quota is not skipped for an id alone)', async ({ fileNodes }) => {
    const target = await inProcess(fileNodes, 'quota-probed.test', { peerQuotaBytesPerDay: 1 });
    const host = await fileNodes.fakePeer('quota-prober.test', { roomHost: true });
    expect((await target.admin('POST', '/peers', { server_name: 'quota-prober.test', endpoint: host.url })).status).toBe(200);
    const own = (await target.admin('POST', '/rooms', { name: 'private' })).body.room_id as string;
    const stored = (await target.admin('POST', `/rooms/${enc(own)}/messages`, { body: 'nobody else knows this id' })).body.event_id as string;
    // In the name of the target's own server (only the host's room lets it deliver that): the id belongs to it.
    const probe = (eventId: string) => makeEvent(host.identity, {
      event_id: eventId, origin_server: 'quota-probed.test', room_id: '!probe:quota-prober.test', event_type: 'm.member.invite',
      sender: '@owner:quota-probed.test', state_key: '@owner:quota-probed.test',
      content: { membership: 'invite', expires_at: Date.now() + 3600_000, room_name: 'probe' },
    });
    const answers: Array<{ status: number; error: unknown }> = [];
    for (const eventId of [stored, `$${'y'.repeat(20)}:quota-probed.test`]) {
      const answer = await sendSigned(host.identity, target.federationUrl, 'POST', `${FED}/event`, wire(probe(eventId)));
      answers.push({ status: answer.status, error: answer.body?.error });
    }
    expect(answers[0]!.status).toBeGreaterThanOrEqual(400);
    expect(answers[0]).toEqual(answers[1]);
  });
});

describe('our members re-issue what the host refuses as too old', () => {
  it('a message sent while the host was down longer than the window arrives once, after the history, everywhere', async ({ nodes }) => {
    let host = await inProcess(nodes, 'host.test', { reorderWindowMs: 1_000 });
    // Only a contact from the host wakes the member's retries: the host must refuse first.
    const member = await inProcess(nodes, 'member.test', { retryInitialMs: 120_000, retryMaxMs: 120_000 });
    const other = await inProcess(nodes, 'other.test');
    await peer(host, member);
    await peer(host, other);
    const roomId = (await host.admin('POST', '/rooms', { name: 'window' })).body.room_id as string;
    await inviteAndJoin(host, roomId, member, '@owner:member.test');
    await inviteAndJoin(host, roomId, other, '@owner:other.test');
    expect((await host.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'm1' })).status).toBe(200);
    await eventually(async () => expect(await bodies(member, roomId)).toContain('m1'));

    const hostDir = host.dataDir;
    const hostListen = new URL(host.federationUrl).host;
    await host.node.stop();
    const sent = await member.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'm2 typed while the host was down' });
    expect(sent.status).toBe(200);
    const m2 = sent.body.event_id as string;
    await new Promise((r) => setTimeout(r, 1_500));
    host = await inProcess(nodes, 'host.test', { reorderWindowMs: 1_000 }, hostDir, hostListen);
    expect((await host.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'm3' })).status).toBe(200);

    const expected = ['m1', 'm3', 'm2 typed while the host was down'];
    for (const node of [host, member, other]) {
      await eventually(async () => expect((await bodies(node, roomId)).filter((b) => b.startsWith('m'))).toEqual(expected));
    }
    for (const node of [host, member, other]) {
      expect(queryNodeDb(node.dataDir, 'SELECT event_id FROM federation_events WHERE event_id = ?', m2)).toHaveLength(1);
    }
    // The member's copy is the re-issued one, signed again: the same bytes as the host's.
    const copy = (dir: string) => queryNodeDb<{ depth: number; content_hash: string }>(dir, 'SELECT depth, content_hash FROM federation_events WHERE event_id = ?', m2)[0];
    expect(copy(member.dataDir)).toEqual(copy(host.dataDir));
    expect(queryNodeDb(member.dataDir, "SELECT * FROM federation_outbox WHERE state = 'failed'")).toEqual([]);
  });
});

describe('migration 5 repairs a room that already holds an insane depth', () => {
  it('the bricked room works again after the upgrade; the stored event keeps its signed bytes', async ({ nodes }) => {
    const dataDir = tempDir('paracord-migrate-');
    let node = await inProcess(nodes, 'mig.test', {}, dataDir);
    const roomId = (await node.admin('POST', '/rooms', { name: 'bricked' })).body.room_id as string;
    expect((await node.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'before' })).status).toBe(200);
    await node.node.stop();

    // What the old code stored when a joined peer sent depth 2^53 - 1, and the old schema.
    const evil = Identity.create(join(tempDir(), 'identity.json'), 'evil.test');
    const insane = makeEvent(evil, { room_id: roomId, sender: '@u:evil.test', depth: MAX_SAFE, content: { body: 'overflow' } });
    const db = new Database(join(dataDir, 'paracord.db'));
    new FederationEvents(db).insert(insane, 'hash-of-the-old-insert', 'evil.test');
    db.prepare('UPDATE rooms SET last_depth = ? WHERE room_id = ?').run(MAX_SAFE, roomId);
    // Back to schema 4: what migrations 5 and 6 added goes (6 is rebuilt from the events).
    db.exec('DROP TABLE room_reactions; DROP TABLE peer_storage; DROP INDEX federation_events_relates_type');
    // And what later migrations added (12, 13, 20: bans, read markers, the search index and its keys; rebuilt from the events; 14: pull mode).
    db.exec('DROP TABLE IF EXISTS room_bans; DROP TABLE IF EXISTS room_read_markers; DROP TABLE IF EXISTS message_search; DROP TABLE IF EXISTS message_search_rows');
    db.exec('DROP TABLE IF EXISTS pull_receivers; DROP TABLE IF EXISTS pull_sources');
    db.exec('ALTER TABLE federation_events DROP COLUMN signed_depth');
    // …and what migration 11 (issue #16: persisted login sessions) added.
    db.exec('DROP TABLE IF EXISTS admin_sessions; DROP INDEX IF EXISTS federation_outbox_event');
    // …and what migration 18 (endpoint provenance, remembered destination binding) added.
    db.exec('ALTER TABLE federation_servers DROP COLUMN endpoint_source; ALTER TABLE federation_servers DROP COLUMN endpoint_addresses; DROP TABLE IF EXISTS destination_binding_peers');
    // …and what migrations 33 and later added.
    undoMigrationsFrom33(db);
    db.pragma('user_version = 4');
    db.close();

    node = await inProcess(nodes, 'mig.test', {}, dataDir);
    const sent = await node.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'after' });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    const { depth } = queryNodeDb<{ depth: number }>(dataDir, 'SELECT depth FROM federation_events WHERE event_id = ?', sent.body.event_id)[0]!;
    expect(depth).toBeLessThan(Date.now() + 60_000);
    expect(roomDepth(dataDir, roomId)).toBeLessThan(Date.now() + 60_000);
    const repaired = queryNodeDb<{ depth: number; signed_depth: number }>(dataDir, 'SELECT depth, signed_depth FROM federation_events WHERE event_id = ?', insane.event_id)[0]!;
    expect(repaired.signed_depth).toBe(MAX_SAFE);
    expect(repaired.depth).toBeLessThan(Date.now() + 60_000);
    await node.node.stop();
    const readonly = new Database(join(dataDir, 'paracord.db'), { readonly: true });
    const served = new FederationEvents(readonly).get(insane.event_id)!;
    readonly.close();
    expect(served).toEqual(insane);
    const [keyId, signature] = Object.entries(served.signatures['evil.test']!)[0]!;
    expect(keyId).toBe(evil.keyId);
    expect(verify(Buffer.from(signature, 'hex'), envelopeSigningBytes(served), Buffer.from(evil.keysDocument().active_key.public_key, 'hex'))).toBe(true);
  });
});

describe('16. an invite of our users that came with a room\'s history', () => {
  it('becomes the invitation a push would have made when it is still the user\'s latest membership, under the same cap; otherwise it stays history', async ({ fileNodes }) => {
    const target = await inProcess(fileNodes, 'page.test', { maxPendingInvitesPerPeer: 2 });
    const host = await fileNodes.fakePeer('pages.test', { roomHost: true });
    expect((await target.admin('POST', '/peers', { server_name: 'pages.test', endpoint: host.url })).status).toBe(200);
    const [kim, lee, mo, ned] = (await Promise.all(['kim', 'lee', 'mo', 'ned'].map(async (localpart) => (await target.admin('POST', '/users', { localpart })).body.user_id as string))) as [string, string, string, string];
    const joined = '!joined:pages.test';
    const now = Date.now();
    const inviteOf = (user: string, expiresAt = now + 3600_000, depth = now) => makeEvent(host.identity, {
      room_id: joined, event_type: 'm.member.invite', sender: '@owner:pages.test', state_key: user, depth, origin_ts: depth,
      content: { membership: 'invite', expires_at: expiresAt, room_name: 'pages' },
    });
    // Sent while this node did not listen: Kim's and Lee's invites, Mo's long expired, Ned's
    // withdrawn after (a removal later in the room), then a message.
    const forKim = inviteOf(kim, now + 3600_000, now - 5_000);
    const forLee = inviteOf(lee, now + 3600_000, now - 4_000);
    const forMo = inviteOf(mo, now - 60_000, now - 3_000);
    const forNed = inviteOf(ned, now + 3600_000, now - 2_000);
    const nedOut = makeEvent(host.identity, { room_id: joined, event_type: 'm.member.leave', sender: '@owner:pages.test', state_key: ned, depth: now - 1_000, origin_ts: now - 1_000, content: { membership: 'leave' } });
    const after = makeEvent(host.identity, { room_id: joined, content: { body: 'after the invites', format: 'plain' } });
    const history = [forKim, forLee, forMo, forNed, nedOut, after];
    host.catchUpAnswer = (query) => ({ room_id: query.get('room_id') ?? '', events: query.get('room_id') === joined ? history : [], complete: true });
    expect((await host.invite(target.federationUrl, joined, '@owner:page.test')).status).toBe(200);
    expect((await host.invite(target.federationUrl, '!other:pages.test', '@owner:page.test')).status).toBe(200);
    const own = (await target.admin('GET', '/invites')).body.invites.find((i: any) => i.room_id === joined);
    expect((await target.admin('POST', `/invites/${own.invite_id}/accept`)).status).toBe(200);
    const invitesOf = async (user: string) => (await target.admin('GET', `/invites?user_id=${enc(user)}`)).body.invites.map((i: any) => i.room_id);
    // Kim's is an invitation Kim sees (before: a membership row only, nothing to accept).
    await eventually(async () => expect(await invitesOf(kim)).toEqual([joined]));
    await eventually(async () => expect(await bodies(target, joined)).toContain('after the invites'));
    // The cap (2: the owner's other invite and Kim's) leaves Lee's out; Mo's expired and Ned's
    // withdrawn one are not offered. All are the room's history, stored (no gap).
    expect(await invitesOf(lee)).toEqual([]);
    expect(await invitesOf(mo)).toEqual([]);
    expect(await invitesOf(ned)).toEqual([]);
    for (const event of history) expect(storedIds(target.dataDir).has(event.event_id), event.event_id).toBe(true);
    // Lee's pushed again once the cap has room (the owner declined the other invitation): the
    // stored event is offered now, not only at the next catch-up.
    const other = (await target.admin('GET', '/invites')).body.invites.find((i: any) => i.room_id === '!other:pages.test');
    expect((await target.admin('POST', `/invites/${other.invite_id}/decline`)).status).toBe(200);
    const pushed = await sendSigned(host.identity, target.federationUrl, 'POST', `${FED}/event`, wire(forLee));
    expect(pushed.status, pushed.text).toBeLessThan(300);
    expect(await invitesOf(lee)).toEqual([joined]);
    // Declined, it is not offered again by the next catch-up (a restart runs one).
    const kims = (await target.admin('GET', `/invites?user_id=${enc(kim)}`)).body.invites[0];
    expect((await target.admin('POST', `/invites/${kims.invite_id}/decline`, { user_id: kim })).status).toBe(200);
    const asked = host.catchUpRequests;
    await target.node.stop();
    const again = await inProcess(fileNodes, 'page.test', { maxPendingInvitesPerPeer: 2 }, target.dataDir);
    await eventually(async () => expect(host.catchUpRequests).toBeGreaterThan(asked));
    await new Promise((r) => setTimeout(r, 300));
    expect((await again.admin('GET', `/invites?user_id=${enc(kim)}`)).body.invites).toEqual([]);
  });
});

it('a room joined while its host is left alone (another room of it stalled) gets its catch-up once that is over, not at the next restart', async ({ nodes }) => {
  const alpha = await nodes.inProcess('alpha.test', { config: { catchUpBackoffMs: 5_000 } });
  const host = await nodes.fakePeer('stall.test', { roomHost: true });
  expect((await alpha.admin('POST', '/peers', { server_name: 'stall.test', endpoint: host.url })).status).toBe(200);
  const stalls = '!stalls:stall.test';
  const honest = '!honest:stall.test';
  const asked: string[] = [];
  host.catchUpAnswer = (query) => {
    const roomId = query.get('room_id') ?? '';
    asked.push(roomId);
    return roomId === stalls
      ? { room_id: roomId, events: [makeEvent(host.identity, { room_id: roomId })], complete: false, next_since_depth: 0 }
      : { room_id: roomId, events: [], complete: true };
  };
  const accept = async (roomId: string) => {
    expect((await host.invite(alpha.started.federation_url!, roomId, '@owner:alpha.test')).status).toBe(200);
    const invite = (await alpha.admin('GET', '/invites')).body.invites.find((i: any) => i.room_id === roomId);
    expect((await alpha.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(200);
  };
  await accept(stalls);
  // Its page did not advance: the host is left alone for 5 s.
  await eventually(async () => expect(asked).toContain(stalls));
  await new Promise((r) => setTimeout(r, 100));
  // Joined during the backoff: not asked now...
  await accept(honest);
  await new Promise((r) => setTimeout(r, 300));
  expect(asked.filter((r) => r === honest)).toEqual([]);
  // ...but once the host's backoff is over (before: never, until a restart).
  await eventually(async () => expect(asked.filter((r) => r === honest).length).toBeGreaterThan(0), 10_000);
});
