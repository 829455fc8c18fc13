/**
 * Issue #14 items 4, 5 and 10, replayed by a hostile peer through the real federation listener
 * (signed requests from a real identity, real SQLite, real sockets): reaction floods, content
 * bulk and storage floods, and user ids / room names built to display as something they are not.
 * Each attack gets a clear 4xx JSON error and stores nothing; legitimate traffic goes on.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { beforeAll, describe, expect, it, type InProcessNode, type Nodes } from './helpers/fixtures.ts';
import { INVITE_WIRE_ORDER, MEMBERSHIP_WIRE_ORDER, wireJson } from '../main/core/federation/wire-json.ts';
import type { Envelope } from '../main/core/federation/envelope.ts';
import { chargedBytes } from '../main/core/trust/storage-quota.ts';
import { makeEvent, wire } from './helpers/events.ts';
import type { FakePeer } from './helpers/fake-peer.ts';
import { joinFakePeer } from './helpers/fake-members.ts';
import { startInProcessNode } from './helpers/in-process-node.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { enc } from './helpers/rooms.ts';
import { sendSigned } from './helpers/signed-request.ts';

const EVENT = '/_paracord/federation/v1/event';
const EVENTS = '/_paracord/federation/v1/events';
type InProcess = InProcessNode;

/** The shape joinFakePeer needs, from an in-process node. */
const asHost = (node: InProcess) => ({ admin: node.admin, federationUrl: node.started.federation_url! }) as unknown as NodeProcess;

/** Log lines of a node, to check what the owner is told. */
function capturingLog() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

/** Its nodes stop with a short grace (what they had in flight does not matter here). */
const startNode = (nodes: Nodes, serverName: string, config: Parameters<typeof startInProcessNode>[1] = {}) => nodes.inProcess(serverName, { ...config, graceMs: 1_000 });

/** A room on `host` with the fake peer's `@u` joined; returns the room and a message of the owner in it. */
async function roomWithFake(host: InProcess, fake: FakePeer, name = 'hostile'): Promise<{ roomId: string; userId: string; message: string }> {
  const created = await host.admin('POST', '/rooms', { name });
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  const roomId: string = created.body.room_id;
  const userId = await joinFakePeer(asHost(host), roomId, fake);
  const sent = await host.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'react to me' });
  expect(sent.status).toBe(200);
  return { roomId, userId, message: sent.body.event_id };
}

const count = (node: InProcess, sql: string, ...params: unknown[]) => queryNodeDb<{ n: number }>(node.dataDir, sql, ...params)[0]!.n;
const eventCount = (node: InProcess) => count(node, 'SELECT COUNT(*) AS n FROM federation_events');
const messagesOf = async (node: InProcess, roomId: string) => (await node.admin('GET', `/rooms/${enc(roomId)}/messages?limit=500`)).body.messages as any[];

/** Every depth after the join the fake made (joinFakePeer uses now + 1 s). */
let depthCounter = Date.now() + 10_000;
const nextDepth = () => ++depthCounter;

function expectError(response: { status: number; body: any }, status: number, error: string): void {
  expect(response.body, JSON.stringify(response.body)).toMatchObject({ error });
  expect(typeof response.body.message).toBe('string');
  expect(response.status).toBe(status);
}

describe('4. reaction spam', () => {
  const CAP = 5;
  let host: InProcess;
  let fake: FakePeer;
  let room: { roomId: string; userId: string; message: string };

  beforeAll(async ({ fileNodes }) => {
    host = await startNode(fileNodes, 'react.test', { config: { maxReactionsPerUserPerMessage: CAP } });
    fake = await fileNodes.fakePeer('spammer.test');
    room = await roomWithFake(host, fake);
  });

  const reactionEvent = (key: string, type: 'm.reaction.add' | 'm.reaction.remove' = 'm.reaction.add') =>
    makeEvent(fake.identity, { room_id: room.roomId, event_type: type, sender: room.userId, content: { target: room.message, key }, depth: nextDepth() });

  it('a flood of distinct reactions: the first CAP are stored, every other one is refused 400 too_many_reactions', async () => {
    const flood = Array.from({ length: 60 }, (_, i) => reactionEvent(`k${i}`));
    const results: any[] = [];
    for (let start = 0; start < flood.length; start += 20) {
      const response = await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENTS, JSON.stringify({ events: flood.slice(start, start + 20) }));
      expect(response.status, response.text).toBe(200);
      results.push(...response.body.results);
    }
    expect(results.slice(0, CAP).every((r) => r.inserted === true)).toBe(true);
    for (const result of results.slice(CAP)) expect(result).toMatchObject({ status: 400, error: 'too_many_reactions' });

    // Nothing of the refused ones is stored: CAP reaction events, CAP index rows.
    expect(count(host, "SELECT COUNT(*) AS n FROM federation_events WHERE event_type = 'm.reaction.add'")).toBe(CAP);
    expect(count(host, 'SELECT COUNT(*) AS n FROM room_reactions WHERE sender = ?', room.userId)).toBe(CAP);

    // A single event over the cap: a plain JSON error.
    const single = await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, wire(reactionEvent('one-more')));
    expectError(single, 400, 'too_many_reactions');
    // The one-per-(sender, target, key) rule stays.
    expectError(await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, wire(reactionEvent('k0'))), 409, 'already_reacted');
    expect(count(host, "SELECT COUNT(*) AS n FROM federation_events WHERE event_type = 'm.reaction.add'")).toBe(CAP);
  });

  it('the cap counts present reactions: removing one makes room for another', async () => {
    const removed = await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, wire(reactionEvent('k0', 'm.reaction.remove')));
    expect(removed.status, removed.text).toBe(202);
    const added = await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, wire(reactionEvent('new')));
    expect(added.status, added.text).toBe(202);
    expectError(await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, wire(reactionEvent('k0'))), 400, 'too_many_reactions');
  });

  it('legitimate traffic is unaffected: messages from the peer and the owner, reactions of others, the aggregated view', async () => {
    const text = makeEvent(fake.identity, { room_id: room.roomId, sender: room.userId, content: { body: 'still here', format: 'plain' }, depth: nextDepth() });
    const accepted = await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, wire(text));
    expect(accepted.status, accepted.text).toBe(202);
    const own = await host.admin('POST', `/rooms/${enc(room.roomId)}/messages`, { body: 'owner too' });
    expect(own.status).toBe(200);
    const ownerReaction = await host.admin('PUT', `/rooms/${enc(room.roomId)}/messages/${enc(room.message)}/reactions/${enc('👍')}`);
    expect(ownerReaction.status, JSON.stringify(ownerReaction.body)).toBe(200);

    const messages = await messagesOf(host, room.roomId);
    expect(messages.map((m) => m.body)).toEqual(expect.arrayContaining(['still here', 'owner too']));
    const target = messages.find((m) => m.event_id === room.message);
    const keys = Object.keys(target.reactions);
    expect(keys).toHaveLength(CAP + 1);
    expect(target.reactions['👍']).toEqual(['@owner:react.test']);
    expect(target.reactions.new).toEqual([room.userId]);
    expect(target.reactions.k0).toBeUndefined();
  });

  it('a message carrying a `target` relates to nothing: only edits, deletes and reactions do', async () => {
    // Red team 2026-12-01: relates_to was recorded from any event's content.target.
    const message = makeEvent(fake.identity, { room_id: room.roomId, event_type: 'm.message', sender: room.userId, content: { body: 'a message', target: room.message }, depth: nextDepth() });
    const response = await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, wire(message));
    expect(response.body, response.text).toMatchObject({ inserted: true });
    expect(queryNodeDb<{ relates_to: string | null }>(host.dataDir, 'SELECT relates_to FROM federation_events WHERE event_id = ?', message.event_id)).toEqual([{ relates_to: null }]);
    // A reaction of its that stands, taken back: a removal relates to the message.
    const standing = queryNodeDb<{ key: string }>(host.dataDir, 'SELECT key FROM room_reactions WHERE sender = ? AND target = ? AND present = 1 LIMIT 1', room.userId, room.message)[0]!.key;
    const reaction = reactionEvent(standing, 'm.reaction.remove');
    expect((await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, wire(reaction))).body).toMatchObject({ inserted: true });
    expect(queryNodeDb<{ relates_to: string | null }>(host.dataDir, 'SELECT relates_to FROM federation_events WHERE event_id = ?', reaction.event_id)).toEqual([{ relates_to: room.message }]);
  });

  it('the owner is capped the same way through the admin API', async () => {
    for (let i = 0; i < CAP - 1; i++) {
      expect((await host.admin('PUT', `/rooms/${enc(room.roomId)}/messages/${enc(room.message)}/reactions/o${i}`)).status).toBe(200);
    }
    const over = await host.admin('PUT', `/rooms/${enc(room.roomId)}/messages/${enc(room.message)}/reactions/o-last`);
    expectError(over, 400, 'too_many_reactions');
  });
});

describe('5. content bulk and per-peer storage quota', () => {
  it('unknown bulk in content is refused before it is stored; the reference vocabulary is accepted', async ({ fileNodes }) => {
    const host = await startNode(fileNodes, 'bulk.test');
    const fake = await fileNodes.fakePeer('bulky.test');
    const { roomId, userId } = await roomWithFake(host, fake);
    const before = eventCount(host);
    const send = (content: Record<string, unknown>) =>
      sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, wire(makeEvent(fake.identity, { room_id: roomId, sender: userId, content, depth: nextDepth() })));

    // 950 KB of unknown fields (the red team's event): refused, 413.
    expectError(await send({ body: 'hi', padding: 'x'.repeat(950_000) }), 413, 'content_too_large');
    // Just over the per-type bound of a reaction (8 KiB).
    const bigReaction = makeEvent(fake.identity, {
      room_id: roomId, sender: userId, event_type: 'm.reaction.add', depth: nextDepth(),
      content: { target: `$x:bulky.test`, key: 'k', note: 'x'.repeat(9_000) },
    });
    expectError(await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, wire(bigReaction)), 413, 'content_too_large');
    // Many unknown top-level fields.
    const many = Object.fromEntries(Array.from({ length: 13 }, (_, i) => [`f${i}`, i]));
    expectError(await send({ body: 'hi', ...many }), 400, 'invalid_content');
    expect(eventCount(host)).toBe(before);

    // What the Paracord reference server puts into a message is fine.
    const reference = await send({
      body: 'from the reference', msgtype: 'm.text', guild_id: 'g1', channel_id: 'c1', message_id: 'm1',
      channel_name: 'general', guild_name: 'friends', attachments: [{ url: 'https://example.org/a.png', name: 'a.png' }],
    });
    expect(reference.status, reference.text).toBe(202);
    expect((await messagesOf(host, roomId)).map((m) => m.body)).toContain('from the reference');
  });

  it('a peer over its daily quota gets 429 quota_exceeded with Retry-After; the owner is told; restarts keep the count', async ({ fileNodes }) => {
    const DAY = 150_000;
    const captured = capturingLog();
    let host = await startNode(fileNodes, 'quota.test', { config: { peerQuotaBytesPerDay: DAY }, log: captured.log });
    const fake = await fileNodes.fakePeer('flooder.test');
    const { roomId, userId } = await roomWithFake(host, fake);
    let first: Envelope | undefined;
    const heavy = () => {
      const event = makeEvent(fake.identity, { room_id: roomId, sender: userId, depth: nextDepth(), content: { body: 'heavy', attachments: [{ name: 'x'.repeat(32_000) }] } });
      first ??= event;
      return wire(event);
    };

    const statuses: number[] = [];
    let refused: { status: number; body: any; headers: Record<string, unknown> } | undefined;
    for (let i = 0; i < 6; i++) {
      const response = await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, heavy());
      statuses.push(response.status);
      if (response.status !== 202) refused ??= response;
    }
    // ~42 KB charged each (32 KB of content and all it takes: storage-quota.ts chargedBytes) against 150 KB a day: three fit, the rest are refused.
    expect(statuses).toEqual([202, 202, 202, 429, 429, 429]);
    expectError(refused!, 429, 'quota_exceeded');
    expect(Number(refused!.headers['retry-after'])).toBeGreaterThan(0);
    expect(count(host, "SELECT COUNT(*) AS n FROM federation_events WHERE origin_server = 'flooder.test' AND event_type = 'm.message'")).toBe(3);
    // A retry of an event stored before the quota was reached is still acknowledged (idempotent).
    const again = await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, wire(first!));
    expect(again.status, again.text).toBe(202);
    expect(again.body).toMatchObject({ inserted: false });

    // The owner sees it: a warning in the status, the peer's quota in the peers list, a log line.
    const status = (await host.admin('GET', '/status')).body;
    expect(status.warnings.some((w: string) => w.includes('flooder.test') && w.includes('daily'))).toBe(true);
    const peer = (await host.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'flooder.test');
    expect(peer.quota).toMatchObject({ day_limit: DAY, exceeded: 'day', refused_events: 3 });
    expect(peer.quota.day_bytes).toBeGreaterThan(120_000);
    expect(captured.lines.some((l) => l.event === 'quota_exceeded' && l.server === 'flooder.test')).toBe(true);

    // Small legitimate traffic of the owner goes on.
    expect((await host.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'owner still talks' })).status).toBe(200);

    // Restart on the same data: the counters are in SQLite, the peer is still refused.
    const dataDir = host.dataDir;
    await host.node.stop(1_000);
    host = await startNode(fileNodes, 'quota.test', { dataDir, listen: new URL(host.started.federation_url!).host, config: { peerQuotaBytesPerDay: DAY } });
    expectError(await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, heavy()), 429, 'quota_exceeded');
    expect(count(host, "SELECT COUNT(*) AS n FROM federation_events WHERE origin_server = 'flooder.test' AND event_type = 'm.message'")).toBe(3);
  });

  it('a batch that crosses the daily quota stores the events that fit and refuses the rest, each with its result; the count is exact', async ({ fileNodes }) => {
    const DAY = 150_000;
    const host = await startNode(fileNodes, 'quota-batch.test', { config: { peerQuotaBytesPerDay: DAY } });
    const fake = await fileNodes.fakePeer('batcher.test');
    const { roomId, userId } = await roomWithFake(host, fake);
    const usedBefore = queryNodeDb<{ day_bytes: number }>(host.dataDir, "SELECT day_bytes FROM peer_storage WHERE server_name = 'batcher.test'")[0]?.day_bytes ?? 0;
    const events = Array.from({ length: 6 }, (_, i) =>
      makeEvent(fake.identity, { room_id: roomId, sender: userId, depth: nextDepth(), content: { body: `heavy ${i}`, attachments: [{ name: 'x'.repeat(32_000) }] } }));
    // The charges of one batch are added up and written at its end (issue #17): its own later events still see them.
    const response = await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENTS, `{"events":[${events.map(wire).join(',')}]}`);
    expect(response.status, response.text).toBe(200);
    const results = response.body.results as Array<{ inserted?: boolean; status?: number; error?: string }>;
    expect(results.map((r) => r.inserted === true ? 'stored' : `${r.status} ${r.error}`)).toEqual(['stored', 'stored', 'stored', '429 quota_exceeded', '429 quota_exceeded', '429 quota_exceeded']);
    expect(count(host, "SELECT COUNT(*) AS n FROM federation_events WHERE origin_server = 'batcher.test' AND event_type = 'm.message'")).toBe(3);
    // Every byte an event takes is charged (issue #37 item 5): reckoned from the rows as stored.
    const stored = queryNodeDb<Record<string, any>>(host.dataDir, "SELECT * FROM federation_events WHERE origin_server = 'batcher.test' AND event_type = 'm.message'");
    const charged = stored.reduce((sum, row) => sum + chargedBytes({ ...row, content: JSON.parse(row.content), signatures: JSON.parse(row.signatures) } as Envelope, Buffer.byteLength(row.content)), 0);
    const used = queryNodeDb<{ day_bytes: number; total_bytes: number }>(host.dataDir, "SELECT day_bytes, total_bytes FROM peer_storage WHERE server_name = 'batcher.test'")[0]!;
    expect(used.day_bytes - usedBefore).toBe(charged);
  });

  it('quarantine counts against the total quota (413), and purging gives the bytes back', async ({ fileNodes }) => {
    const TOTAL = 150_000;
    const host = await startNode(fileNodes, 'hold.test', { config: { peerQuotaTotalBytes: TOTAL } });
    const fake = await fileNodes.fakePeer('held.test');
    const { roomId, userId } = await roomWithFake(host, fake);
    expect((await host.admin('PUT', '/peers/held.test/trust', { mode: 'quarantine', reason: 'watching' })).status).toBe(200);
    const heavy = () =>
      wire(makeEvent(fake.identity, { room_id: roomId, sender: userId, depth: nextDepth(), content: { body: 'held', attachments: [{ name: 'y'.repeat(40_000) }] } }));

    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, heavy())).status);
    // The join and invite of the fake count too (a few hundred bytes); three heavy events fit.
    expect(statuses).toEqual([202, 202, 202, 413, 413]);
    const refused = await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, heavy());
    expectError(refused, 413, 'quota_exceeded');
    expect(count(host, "SELECT COUNT(*) AS n FROM quarantined_events WHERE origin = 'held.test'")).toBe(3);
    expect((await host.admin('GET', '/status')).body.warnings.some((w: string) => w.includes('held.test'))).toBe(true);

    expect((await host.admin('POST', '/quarantine/held.test/purge')).body).toEqual({ purged: 3 });
    const afterPurge = await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, heavy());
    expect(afterPurge.status, afterPurge.text).toBe(202);
    expect(count(host, "SELECT COUNT(*) AS n FROM quarantined_events WHERE origin = 'held.test'")).toBe(1);
  });
});

describe('10. user ids and names built to deceive', () => {
  let host: InProcess;
  let fake: FakePeer;
  let room: { roomId: string; userId: string; message: string };
  const RLO = '\u202E';

  beforeAll(async ({ fileNodes }) => {
    host = await startNode(fileNodes, 'names.test');
    fake = await fileNodes.fakePeer('trickster.test');
    room = await roomWithFake(host, fake, 'names');
  });

  const members = () => queryNodeDb<{ user_id: string }>(host.dataDir, 'SELECT user_id FROM room_members ORDER BY user_id').map((r) => r.user_id);

  it('an invite or member event whose state_key is not a user id is refused (U+202E: "@evil:x" shown as an owner)', async () => {
    const before = [members(), eventCount(host)];
    for (const stateKey of [`@${RLO}renwo:trickster.test`, `@evil:trickster.test${RLO}`, '@evil\u200B:trickster.test', 'owner', '@Evil:trickster.test']) {
      const invite = makeEvent(fake.identity, {
        room_id: room.roomId, event_type: 'm.member.invite', sender: room.userId, state_key: stateKey, depth: nextDepth(),
        content: { membership: 'invite', expires_at: Date.now() + 60_000 },
      });
      expectError(await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, wire(invite)), 400, 'invalid_event');
    }
    const leave = makeEvent(fake.identity, {
      room_id: room.roomId, event_type: 'm.member.leave', sender: room.userId, state_key: `${room.userId}${RLO}`, depth: nextDepth(), content: { membership: 'leave' },
    });
    expectError(await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, wire(leave)), 400, 'invalid_event');
    expect([members(), eventCount(host)]).toEqual(before);
  });

  it('join and leave bodies, invitees and admin API user ids go through the same check', async () => {
    const before = [members(), eventCount(host)];
    const spoofed = `@u${RLO}:trickster.test`;
    const join = makeEvent(fake.identity, { room_id: room.roomId, event_type: 'm.member.join', sender: room.userId, state_key: room.userId, depth: nextDepth(), content: { membership: 'join' } });
    const joinBody = wireJson({ origin_server: 'trickster.test', room_id: room.roomId, user_id: spoofed, event: join }, MEMBERSHIP_WIRE_ORDER);
    expectError(await sendSigned(fake.identity, host.started.federation_url!, 'POST', '/_paracord/federation/v1/join', joinBody), 400, 'invalid_request');
    expectError(await sendSigned(fake.identity, host.started.federation_url!, 'POST', '/_paracord/federation/v1/leave', joinBody), 400, 'invalid_request');
    expectError(await host.admin('POST', `/rooms/${enc(room.roomId)}/invites`, { user_id: spoofed }), 400, 'invalid_input');
    expectError(await host.admin('GET', `/rooms?user_id=${enc(`@owner${RLO}:names.test`)}`), 400, 'invalid_input');
    expect([members(), eventCount(host)]).toEqual(before);
  });

  it('an invite from a peer with a bidi-overridden room name or invitee is refused; a normal Unicode name is fine', async () => {
    const peerRoom = '!den:trickster.test';
    const invite = (roomName: string, invitee = '@owner:names.test', bodyName?: string) => {
      const event: Envelope = makeEvent(fake.identity, {
        room_id: peerRoom, event_type: 'm.member.invite', sender: room.userId, state_key: '@owner:names.test', depth: nextDepth(),
        content: { membership: 'invite', expires_at: Date.now() + 60_000, room_name: roomName },
      });
      const body = wireJson(
        { origin_server: 'trickster.test', room_id: peerRoom, sender: room.userId, max_age_seconds: 60, invitee, ...(bodyName ? { room_name: bodyName } : {}), event },
        INVITE_WIRE_ORDER,
      );
      return sendSigned(fake.identity, host.started.federation_url!, 'POST', '/_paracord/federation/v1/invite', body);
    };
    const invites = () => count(host, 'SELECT COUNT(*) AS n FROM room_invites');
    const before = invites();
    // In the signed event, the name is its content (checked for every event received: invalid_content).
    expectError(await invite(`${RLO}renwo`), 400, 'invalid_content');
    expectError(await invite('zero\u200Bwidth'), 400, 'invalid_content');
    expectError(await invite('ok', `@owner${RLO}:names.test`), 400, 'invalid_request');
    expectError(await invite('ok', '@owner:names.test', `bad${RLO}`), 400, 'invalid_request');
    expect(invites()).toBe(before);
    expect(count(host, 'SELECT COUNT(*) AS n FROM rooms WHERE room_id = ?', peerRoom)).toBe(0);

    const fine = await invite('Café 😀 שלום');
    expect(fine.status, fine.text).toBe(200);
    expect(invites()).toBe(before + 1);
    const listed = (await host.admin('GET', '/invites')).body.invites.find((i: { room_id: string }) => i.room_id === peerRoom);
    expect(listed.room_name).toBe('Café 😀 שלום');
  });

  it('room names and reaction keys chosen on this node are held to the same rules', async () => {
    expectError(await host.admin('POST', '/rooms', { name: `my${RLO}room` }), 400, 'invalid_input');
    expectError(await host.admin('PUT', `/rooms/${enc(room.roomId)}/messages/${enc(room.message)}/reactions/${enc(`x${RLO}`)}`), 400, 'invalid_input');
    // Emoji sequences joined with U+200D are real reaction keys.
    expect((await host.admin('PUT', `/rooms/${enc(room.roomId)}/messages/${enc(room.message)}/reactions/${enc('👨‍👩‍👧')}`)).status).toBe(200);
    // A peer's reaction key with a bidi override is refused by the host's content schema.
    const reaction = makeEvent(fake.identity, {
      room_id: room.roomId, event_type: 'm.reaction.add', sender: room.userId, depth: nextDepth(), content: { target: room.message, key: `a${RLO}b` },
    });
    expectError(await sendSigned(fake.identity, host.started.federation_url!, 'POST', EVENT, wire(reaction)), 400, 'invalid_content');
  });
});
