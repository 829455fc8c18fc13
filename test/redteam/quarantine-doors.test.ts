/**
 * Red team (issue #37 item 10): quarantine and block had side doors. Events of a quarantined
 * server were shown when they came inside a host's join snapshot or catch-up page, and an invite
 * from a quarantined server was stored and listed. Replayed through the real listener against a
 * real node: every path that stores what a peer supplies (push, snapshot, catch-up, invites)
 * goes through the one decision of the ingest chain (EventIngest.admit), with a legitimate twin
 * (an allowed server's events and invite, in the same answers) that must keep working.
 */
import { beforeAll, describe, expect, it } from '../helpers/fixtures.ts';
import type { Envelope } from '../../main/core/federation/envelope.ts';
import { INVITE_WIRE_ORDER, wireJson } from '../../main/core/federation/wire-json.ts';
import { makeEvent, wire } from '../helpers/events.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import { startInProcessNode } from '../helpers/in-process-node.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';
import { enc, eventually } from '../helpers/rooms.ts';
import { sendSigned } from '../helpers/signed-request.ts';

const FED = '/_paracord/federation/v1';

type Node = Awaited<ReturnType<typeof startInProcessNode>>;
let alpha: Node;
let host: FakePeer;
/** Quarantined by alpha's owner; `legit` is its allowed twin. Both real servers with real keys. */
let quarantined: FakePeer;
let legit: FakePeer;
let blocked: FakePeer;

const bodies = async (roomId: string) =>
  ((await alpha.admin('GET', `/rooms/${enc(roomId)}/messages?limit=500`)).body.messages as Array<{ body: string }>).map((m) => m.body);
const heldIds = async () => ((await alpha.admin('GET', '/quarantine')).body.held as Array<{ event_id: string }>).map((h) => h.event_id);
const storedIds = () => new Set(queryNodeDb<{ event_id: string }>(alpha.dataDir, 'SELECT event_id FROM federation_events').map((r) => r.event_id));

/** A message of `from`'s user in the host's room, as the host would relay it. */
const messageOf = (from: FakePeer, roomId: string, body: string, depth = Date.now()): Envelope =>
  makeEvent(from.identity, { room_id: roomId, sender: `@u:${from.serverName}`, content: { body, format: 'plain' }, depth });

async function join(roomId: string): Promise<void> {
  expect((await host.invite(alpha.started.federation_url!, roomId, '@owner:alpha.test')).status).toBe(200);
  const invite = (await alpha.admin('GET', '/invites')).body.invites.find((i: { room_id: string }) => i.room_id === roomId);
  const accepted = await alpha.admin('POST', `/invites/${invite.invite_id}/accept`);
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
}

/** An invite of `from` (it hosts the room) for alpha's owner, signed and sent as a real server does. */
function inviteFrom(from: FakePeer, roomId: string) {
  const sender = `@owner:${from.serverName}`;
  const event = makeEvent(from.identity, {
    room_id: roomId, event_type: 'm.member.invite', sender, state_key: '@owner:alpha.test',
    content: { membership: 'invite', expires_at: Date.now() + 3_600_000, room_name: `room of ${from.serverName}` },
  });
  const body = wireJson({ origin_server: from.serverName, room_id: roomId, sender, max_age_seconds: 3600, invitee: '@owner:alpha.test', room_name: 'x', event }, INVITE_WIRE_ORDER);
  return sendSigned(from.identity, alpha.started.federation_url!, 'POST', `${FED}/invite`, body);
}

beforeAll(async ({ fileNodes }) => {
  host = await fileNodes.fakePeer('hh.test', { roomHost: true });
  [quarantined, legit, blocked] = await Promise.all([fileNodes.fakePeer('q.test'), fileNodes.fakePeer('l.test'), fileNodes.fakePeer('b.test')]);
  alpha = await fileNodes.inProcess('alpha.test');
  for (const peer of [host, quarantined, legit, blocked]) {
    const added = await alpha.admin('POST', '/peers', { server_name: peer.serverName, endpoint: peer.url });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
  }
  expect((await alpha.admin('PUT', '/peers/q.test/trust', { mode: 'quarantine', reason: 'checking' })).status).toBe(200);
  expect((await alpha.admin('PUT', '/peers/b.test/trust', { mode: 'block', reason: 'no' })).status).toBe(200);
});


describe('red team: quarantine has no side doors', () => {
  it('inviting a user of a blocked or quarantined server sends it nothing (403 peer_held); a user of an allowed one is invited', async () => {
    // A member who made a room may invite anyone (its room): it reached servers the owner cut off.
    const roomId = (await alpha.admin('POST', '/rooms', { name: 'invites out' })).body.room_id as string;
    for (const peer of [blocked, quarantined]) {
      const before = peer.requests.filter((p) => p === `${FED}/invite`).length;
      const refused = await alpha.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: `@x:${peer.serverName}` });
      expect([refused.status, refused.body.error], peer.serverName).toEqual([403, 'peer_held']);
      expect(peer.requests.filter((p) => p === `${FED}/invite`).length, peer.serverName).toBe(before);
    }
    const before = legit.requests.filter((p) => p === `${FED}/invite`).length;
    await alpha.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: '@x:l.test' });
    expect(legit.requests.filter((p) => p === `${FED}/invite`).length).toBe(before + 1);
  });

  it('a join snapshot: the quarantined server\'s event is held, the allowed one is shown', async () => {
    const roomId = '!snap:hh.test';
    const held = messageOf(quarantined, roomId, 'quarantined in a snapshot');
    const shown = messageOf(legit, roomId, 'allowed in a snapshot');
    host.snapshotEvents = () => [held, shown];
    await join(roomId);
    const listed = await bodies(roomId);
    expect(listed).toContain('allowed in a snapshot');
    expect(listed).not.toContain('quarantined in a snapshot');
    expect(storedIds().has(held.event_id)).toBe(false);
    expect(await heldIds()).toContain(held.event_id);
  });

  it('a catch-up page: the quarantined server\'s event is held, the blocked one refused, the allowed one shown', async () => {
    const roomId = '!catch:hh.test';
    host.snapshotEvents = () => [];
    const depth = Date.now() + 5_000;
    const held = messageOf(quarantined, roomId, 'quarantined in a catch-up page', depth);
    const refused = messageOf(blocked, roomId, 'blocked in a catch-up page', depth + 1);
    const shown = messageOf(legit, roomId, 'allowed in a catch-up page', depth + 2);
    host.catchUpAnswer = (query) => (query.get('room_id') === roomId ? { events: [held, refused, shown], complete: true } : { events: [], complete: true });
    await join(roomId);
    await eventually(async () => expect(await bodies(roomId)).toContain('allowed in a catch-up page'));
    const listed = await bodies(roomId);
    expect(listed).not.toContain('quarantined in a catch-up page');
    expect(listed).not.toContain('blocked in a catch-up page');
    expect(storedIds().has(held.event_id)).toBe(false);
    expect(storedIds().has(refused.event_id)).toBe(false);
    expect(await heldIds()).toContain(held.event_id);
    expect(await heldIds()).not.toContain(refused.event_id);

    // The host sends the held event again (a resend, the next catch-up): acknowledged, neither held nor charged twice.
    const charged = () => queryNodeDb<{ b: number }>(alpha.dataDir, 'SELECT COALESCE(SUM(total_bytes), 0) AS b FROM peer_storage')[0]!.b;
    const before = charged();
    const again = await sendSigned(host.identity, alpha.started.federation_url!, 'POST', `${FED}/event`, wire(held));
    expect(again.status, again.text).toBe(202);
    expect(again.body).toMatchObject({ inserted: false, held: true });
    expect(charged()).toBe(before);
    expect((await heldIds()).filter((id) => id === held.event_id)).toHaveLength(1);

    // The owner's release applies what every door held.
    const released = await alpha.admin('POST', '/quarantine/q.test/release');
    expect(released.status, JSON.stringify(released.body)).toBe(200);
    expect(released.body).toEqual({ released: 2, rejected: [], kept: 0 });
    expect(await bodies('!snap:hh.test')).toContain('quarantined in a snapshot');
    expect(await bodies(roomId)).toContain('quarantined in a catch-up page');
  });

  it('an invite from a quarantined server is refused and not listed; an allowed server\'s invite is', async () => {
    const refused = await inviteFrom(quarantined, '!r:q.test');
    expect(refused.status, refused.text).toBe(403);
    expect(refused.body).toMatchObject({ error: 'origin_quarantined' });
    const accepted = await inviteFrom(legit, '!r:l.test');
    expect(accepted.status, accepted.text).toBe(200);
    const rooms = ((await alpha.admin('GET', '/invites')).body.invites as Array<{ room_id: string }>).map((i) => i.room_id);
    expect(rooms).toContain('!r:l.test');
    expect(rooms).not.toContain('!r:q.test');
    expect(queryNodeDb<{ n: number }>(alpha.dataDir, "SELECT COUNT(*) AS n FROM rooms WHERE room_id = '!r:q.test'")[0]!.n).toBe(0);
    expect(queryNodeDb<{ n: number }>(alpha.dataDir, "SELECT COUNT(*) AS n FROM federation_events WHERE room_id = '!r:q.test'")[0]!.n).toBe(0);
  });

  it('an invite stored before its host was quarantined or blocked is no longer listed, and accepting it is refused', async ({ nodes }) => {
    const later = await nodes.fakePeer('later.test');
    expect((await alpha.admin('POST', '/peers', { server_name: later.serverName, endpoint: later.url })).status).toBe(200);
    expect((await inviteFrom(later, '!r:later.test')).status).toBe(200);
    expect((await inviteFrom(legit, '!r2:l.test')).status).toBe(200);
    const listed = async () => ((await alpha.admin('GET', '/invites')).body.invites as Array<{ room_id: string; invite_id: string }>);
    const laterInvite = (await listed()).find((i) => i.room_id === '!r:later.test')!;
    expect(laterInvite).toBeDefined();
    expect((await alpha.admin('PUT', '/peers/later.test/trust', { mode: 'quarantine', reason: 'checking' })).status).toBe(200);
    expect((await listed()).map((i) => i.room_id)).not.toContain('!r:later.test');
    expect((await listed()).map((i) => i.room_id)).toContain('!r2:l.test'); // the allowed host's invite stays
    const refused = await alpha.admin('POST', `/invites/${laterInvite.invite_id}/accept`);
    expect(refused.status, JSON.stringify(refused.body)).toBe(403);
    expect(refused.body).toMatchObject({ error: 'host_quarantined' });
    expect((await alpha.admin('PUT', '/peers/later.test/trust', { mode: 'block', reason: 'no' })).status).toBe(200);
    const blockedAccept = await alpha.admin('POST', `/invites/${laterInvite.invite_id}/accept`);
    expect(blockedAccept.status).toBe(403);
    expect(blockedAccept.body).toMatchObject({ error: 'host_blocked' });
    expect(queryNodeDb<{ state: string }>(alpha.dataDir, "SELECT state FROM room_invites WHERE room_id = '!r:later.test'")[0]!.state).toBe('pending');
    // Allowed again: the invite is offered again.
    expect((await alpha.admin('PUT', '/peers/later.test/trust', { mode: 'allow' })).status).toBe(200);
    expect((await listed()).map((i) => i.room_id)).toContain('!r:later.test');
  });

  it('a quarantined reference server\'s event-less /join changes no membership; the same join is taken once it is allowed', async ({ nodes }) => {
    const ref = await nodes.referencePeer({ serverName: 'ref.test' });
    const added = await alpha.admin('POST', '/peers', { endpoint: ref.url, key_id: ref.keyId, public_key: ref.publicKeyHex });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    await ref.addServer('alpha.test', 'alpha.test', `${alpha.started.federation_url}/_paracord/federation/v1`);
    const roomId = (await alpha.admin('POST', '/rooms', { name: 'lounge' })).body.room_id as string;
    expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: '@Zoë:ref.test' })).status).toBe(200);
    expect((await alpha.admin('PUT', '/peers/ref.test/trust', { mode: 'quarantine', reason: 'checking' })).status).toBe(200);
    const membership = () => queryNodeDb<{ membership: string }>(alpha.dataDir, 'SELECT membership FROM room_members WHERE room_id = ? AND user_id = ?', roomId, '@Zoë:ref.test')[0]?.membership;
    const body = JSON.stringify({ origin_server: 'ref.test', room_id: roomId, user_id: '@Zoë:ref.test' });

    const refused = await ref.call('alpha.test', 'POST', '/join', body);
    expect(refused.status, refused.text).toBe(403);
    expect(refused.json).toMatchObject({ error: 'origin_quarantined' });
    expect(membership()).toBe('invite');

    expect((await alpha.admin('PUT', '/peers/ref.test/trust', { mode: 'allow' })).status).toBe(200);
    const joined = await ref.call('alpha.test', 'POST', '/join', body);
    expect(joined.status, joined.text).toBe(200);
    expect(membership()).toBe('join');
  });
});
