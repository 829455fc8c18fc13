/**
 * Red team: what a Paracord reference 3.x peer gets into our node through our poll of its history
 * (GET /events, reference/reference-rooms.ts), compared with what the same event gets when pushed
 * (POST /event). Every field it chooses must pass the checks a pushed event passes, in one place.
 * Real node (in-process, real SQLite and sockets), the reference-shaped peer playing 3.x.
 */
import { beforeAll, describe, expect, it, type InProcessNode } from '../helpers/fixtures.ts';
import { messagesOn, shownMessage } from '../helpers/interop.ts';
import { ReferencePeer, reserialize } from '../helpers/reference-peer.ts';
import { sendRaw } from '../helpers/signed-request.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';
import { makeEvent } from '../helpers/events.ts';
import { eventually } from '../helpers/rooms.ts';

let ours: InProcessNode;
let ref: ReferencePeer;
const roomId = '!4242:ref3.test';

const storedIds = (ids: string[]) =>
  queryNodeDb<{ event_id: string }>(ours.dataDir, `SELECT event_id FROM federation_events WHERE event_id IN (${ids.map(() => '?').join(',')})`, ...ids).map((r) => r.event_id);

beforeAll(async ({ fileNodes }) => {
  ours = await fileNodes.inProcess('ours.test', { config: { referencePollIntervalMs: 150 } });
  const ourUrl = ours.started.federation_url!;
  const keys = (await sendRaw(`${ourUrl}/_paracord/federation/v1/keys`, 'GET', {})).body;
  ref = await fileNodes.referencePeer({ serverName: 'ref3.test', version: '3', allowedGuilds: ['4242'] });
  ref.guilds.set('4242', 'Ref3 lounge');
  ref.defaultChannels.set('4242', '424201');
  ref.pinServer('ours.test', 'ours.test', `${ourUrl}/_paracord/federation/v1`, keys.active_key.key_id, keys.active_key.public_key);
  const added = await ours.admin('POST', '/peers', { server_name: 'ref3.test', endpoint: ref.url, key_id: ref.keyId, public_key: ref.publicKeyHex, reference_version: '3' });
  expect(added.status).toBe(200);
  ref.joined.set(roomId, new Set(['@Ada:ref3.test']));
  expect((await ours.admin('POST', '/rooms/join', { room_id: roomId })).status).toBe(200);
});

/** `levels` arrays nested in one another: `[[[...[1]...]]]`. */
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

describe('red team: a reference 3.x peer\'s polled events pass the wire JSON limits of a pushed event', () => {
  it('an event nested deeper than the wire limit (depth 32), or with more than 10,000 elements, is refused when pushed and is not stored when polled; a sound one polled after them is', async () => {
    const deep = ref.say(roomId, 'Ada', 'deep', { extra: { attachments: nested(40) } });
    const wide = ref.say(roomId, 'Ada', 'wide', { extra: { attachments: Array.from({ length: 12_000 }, () => 0) } });
    const sound = ref.say(roomId, 'Ada', 'sound after them');
    // Pushed, each is refused by the JSON limits on the body (docs/PROTOCOL.md "Event ingest", step 1).
    for (const e of [deep, wide]) {
      const pushed = await ref.call('ours.test', 'POST', '/event', reserialize('event', e)!);
      expect(pushed.status, e.content.body as string).toBe(400);
      expect(pushed.json.error).toBe('limits_exceeded');
    }
    // Polled (the room's history, as its poller reads it), the same events must not get in either.
    await shownMessage(ours, roomId, sound.event_id);
    expect(storedIds([deep.event_id, wide.event_id, sound.event_id])).toEqual([sound.event_id]);
    const shown = (await messagesOn(ours, roomId)).map((m) => m.event_id);
    expect(shown).not.toContain(deep.event_id);
    expect(shown).not.toContain(wide.event_id);
  });
});


describe('red team: a reference 3.x peer\'s events are read in our vocabulary and then pass our content rules, in a room it hosts too', () => {
  it('bad input: reactions polled with an emoji of a bidi override, a control character or 100 characters are not stored; sound ones after them are (a custom emoji name:snowflake over our 32 characters, a subdivision flag)', async () => {
    const target = ref.say(roomId, 'Ada', 'react to this');
    await shownMessage(ours, roomId, target.event_id);
    const mid = String(target.content.message_id);
    // Signed as its own reactions are, under ids of their own (its ids carry the emoji, which would fail the envelope's id rule first).
    const bad = ['\u202Eevil', 'a\u0007b', 'x'.repeat(100)].map((emoji, i) => {
      const ts = Date.now() + i;
      const e = ref.signEnvelope({
        event_id: `$m_reaction_add:${mid}:bad${i}:${ts}:ref3.test`, room_id: roomId, event_type: 'm.reaction.add', sender: '@Ada:ref3.test',
        origin_server: 'ref3.test', origin_ts: ts, content: { guild_id: '4242', channel_id: '4242', message_id: mid, emoji }, depth: ts, state_key: null,
      });
      ref.events.push(e);
      return e;
    });
    const england = '\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}';
    const custom = 'party_parrot_dancing:123456789012345678';
    const sounds = ['👍', custom, england].map((emoji, i) => {
      const ts = Date.now() + 10 + i;
      const e = ref.signEnvelope({
        event_id: `$m_reaction_add:${mid}:sound${i}:${ts}:ref3.test`, room_id: roomId, event_type: 'm.reaction.add', sender: '@Ada:ref3.test',
        origin_server: 'ref3.test', origin_ts: ts, content: { guild_id: '4242', channel_id: '4242', message_id: mid, emoji }, depth: ts, state_key: null,
      });
      ref.events.push(e);
      return e;
    });
    // Its history is read in depth order, and the reactions' depths are a little ahead of now: the message comes after them.
    const after = ref.say(roomId, 'Ada', 'after the reactions', { ts: Math.max(...sounds.map((e) => e.origin_ts)) + 1 });
    await shownMessage(ours, roomId, after.event_id);
    expect(storedIds([...bad.map((e) => e.event_id), ...sounds.map((e) => e.event_id)]).sort()).toEqual(sounds.map((e) => e.event_id).sort());
    const keys = queryNodeDb<{ key: string }>(ours.dataDir, 'SELECT key FROM room_reactions WHERE target = ?', target.event_id).map((r) => r.key);
    expect(keys.sort()).toEqual(['👍', custom, england].sort());
  });
});

describe('red team: a reference 3.x peer\'s polled events over our storage quota wait, as pulled and caught-up ones do', () => {
  it('events refused for the quota are not skipped for good: the cursor stays before them, and once the quota allows (here: raised, restarted) every one arrives', async ({ nodes }) => {
    const quotaRef = await nodes.referencePeer({ serverName: 'refq.test', version: '3', allowedGuilds: ['4242'] });
    quotaRef.guilds.set('4242', 'Quota lounge');
    const node = await nodes.inProcess('ours.test', { config: { referencePollIntervalMs: 150, peerQuotaBytesPerDay: 40_000 } });
    const keys = (await sendRaw(`${node.started.federation_url}/_paracord/federation/v1/keys`, 'GET', {})).body;
    quotaRef.pinServer('ours.test', 'ours.test', `${node.started.federation_url}/_paracord/federation/v1`, keys.active_key.key_id, keys.active_key.public_key);
    expect((await node.admin('POST', '/peers', { server_name: 'refq.test', endpoint: quotaRef.url, key_id: quotaRef.keyId, public_key: quotaRef.publicKeyHex, reference_version: '3' })).status).toBe(200);
    const room = '!4242:refq.test';
    expect((await node.admin('POST', '/rooms/join', { room_id: room })).status).toBe(200);
    // Twenty messages of ~6.5 KB charged each: the first few fit the day's 40 KB, the rest are refused (429) for now.
    const said = Array.from({ length: 20 }, (_, i) => quotaRef.say(room, 'Ada', `over ${i} ${'x'.repeat(1_000)}`));
    const ids = said.map((e) => e.event_id);
    const storedHere = (dataDir: string) => queryNodeDb<{ n: number }>(dataDir, `SELECT COUNT(*) AS n FROM federation_events WHERE event_id IN (${ids.map(() => '?').join(',')})`, ...ids)[0]!.n;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const deadline = Date.now() + 10_000;
    while (storedHere(node.dataDir) === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // several rounds
    const partly = storedHere(node.dataDir);
    expect(partly).toBeGreaterThan(0);
    expect(partly).toBeLessThan(20);
    // The room says why it waits (the peer's status shows it), instead of moving on past them.
    const cursor = queryNodeDb<{ last_error: string | null }>(node.dataDir, 'SELECT last_error FROM reference_poll_cursors WHERE server_name = ? AND room_id = ?', 'refq.test', room)[0];
    expect(cursor?.last_error).toMatch(/storage quota/);
    // The owner raises the quota (a new day does the same): the events refused meanwhile still come, in order, none lost.
    await node.node.stop();
    const again = await nodes.inProcess('ours.test', { dataDir: node.dataDir, config: { referencePollIntervalMs: 150, peerQuotaBytesPerDay: 10_000_000 } });
    await shownMessage(again, room, said.at(-1)!.event_id, undefined, 10_000);
    expect(storedHere(again.dataDir)).toBe(20);
    const shown = (await messagesOn(again, room)).map((m) => m.event_id).filter((id) => ids.includes(id));
    expect(shown).toEqual(ids);
  });
});

describe('red team: in a room a reference hosts, another server\'s event relayed by it acts only for its own sender', () => {
  // A 3.x host checks a relayed event's sender only for messages, edits, reactions and joins, and
  // applies edits and deletes only of their author (docs/REFERENCE-INTEROP-NOTES.md "Its inbound
  // checks"), but stores and serves every event of a participating server: what it relays is not
  // authorized as a native host authorizes it. A member server of its guild that we peer with
  // (here mallory.test) sends it a removal of our user and a delete of another user's message.
  it('a removal of our user and a delete of the host\'s user\'s message by mallory.test, polled from the host, change nothing; mallory\'s own message is shown', async ({ nodes }) => {
    const mallory = await nodes.fakePeer('mallory.test');
    expect((await ours.admin('POST', '/peers', { server_name: 'mallory.test', endpoint: mallory.url })).status).toBe(200);
    const membership = async (user: string) => ((await ours.admin('GET', `/rooms/${encodeURIComponent(roomId)}`)).body.members as any[]).find((m) => m.user_id === user)?.membership;
    expect(await membership('@owner:ours.test')).toBe('join');
    const target = ref.say(roomId, 'Ada', 'Ada keeps this');
    await shownMessage(ours, roomId, target.event_id);
    // Mallory's user is a member of the guild (the host endorsed its join).
    ref.joined.get(roomId)!.add('@mal:mallory.test');
    ref.endorse('m.member.join', '4242', '@mal:mallory.test');
    await eventually(async () => expect(await membership('@mal:mallory.test')).toBe('join'));
    const now = Date.now();
    const removal = makeEvent(mallory.identity, {
      room_id: roomId, event_type: 'm.member.leave', sender: '@mal:mallory.test', state_key: '@owner:ours.test',
      content: { membership: 'leave', guild_id: '4242' }, origin_ts: now, depth: now,
    });
    const deletion = makeEvent(mallory.identity, {
      room_id: roomId, event_type: 'm.message.delete', sender: '@mal:mallory.test', content: { target: target.event_id, guild_id: '4242' }, origin_ts: now + 1, depth: now + 1,
    });
    const own = makeEvent(mallory.identity, {
      room_id: roomId, event_type: 'm.message', sender: '@mal:mallory.test', content: { body: 'mallory speaks for itself', guild_id: '4242', channel_id: '424201' }, origin_ts: now + 2, depth: now + 2,
    });
    // The host stored what mallory.test pushed to it, and serves it in its history.
    for (const e of [removal, deletion, own]) ref.events.push(e as unknown as (typeof ref.events)[number]);
    await shownMessage(ours, roomId, own.event_id);
    expect(await membership('@owner:ours.test')).toBe('join');
    expect((await messagesOn(ours, roomId)).map((m) => m.event_id)).toContain(target.event_id);
    expect(storedIds([removal.event_id, deletion.event_id])).toEqual([]);
  });

  it('a join of another server\'s user "as owner", polled from the host, is not stored: a role is the host\'s to give', async ({ nodes }) => {
    // Red team 2026-11-30: the join acted only for its sender, as checked, but its role was taken,
    // and the member list showed that user as the guild's owner.
    const eve = await nodes.fakePeer('eve.test');
    expect((await ours.admin('POST', '/peers', { server_name: 'eve.test', endpoint: eve.url })).status).toBe(200);
    // Eve's user is a member of the guild (the host endorsed its join).
    ref.joined.get(roomId)!.add('@eve:eve.test');
    ref.endorse('m.member.join', '4242', '@eve:eve.test');
    await eventually(async () => expect(((await ours.admin('GET', `/rooms/${encodeURIComponent(roomId)}`)).body.members as any[]).find((m) => m.user_id === '@eve:eve.test')?.membership).toBe('join'));
    const now = Date.now();
    const asOwner = makeEvent(eve.identity, {
      room_id: roomId, event_type: 'm.member.join', sender: '@eve:eve.test', state_key: '@eve:eve.test',
      content: { membership: 'join', role: 'owner', guild_id: '4242' }, origin_ts: now, depth: now,
    });
    const own = makeEvent(eve.identity, {
      room_id: roomId, event_type: 'm.message', sender: '@eve:eve.test', content: { body: 'eve after her join', guild_id: '4242', channel_id: '424201' }, origin_ts: now + 1, depth: now + 1,
    });
    for (const e of [asOwner, own]) ref.events.push(e as unknown as (typeof ref.events)[number]);
    await shownMessage(ours, roomId, own.event_id);
    const members = (await ours.admin('GET', `/rooms/${encodeURIComponent(roomId)}`)).body.members as Array<{ user_id: string; role: string }>;
    // (Before: { user_id: '@eve:eve.test', role: 'owner' }.)
    expect(members.find((m) => m.user_id === '@eve:eve.test')?.role).not.toBe('owner');
    expect(storedIds([asOwner.event_id])).toEqual([]);
  });
});

describe('red team: what a 3.x reference answers to our /join is bounded before it is stored', () => {
  it('bad input: a guild_id of 3 MB (or not an id) in its /join answer is not stored; the room\'s own guild id is', async () => {
    ref.guilds.set('4343', 'Ref3 second');
    ref.allowedGuilds.add('4343');
    ref.joinAnswerOverride = { guild_id: '9'.repeat(3_000_000) };
    try {
      expect((await ours.admin('POST', '/rooms/join', { room_id: '!4343:ref3.test' })).status).toBe(200);
    } finally {
      ref.joinAnswerOverride = null;
    }
    const rows = queryNodeDb<{ guild_id: string }>(ours.dataDir, 'SELECT guild_id FROM reference_joins WHERE room_id = ?', '!4343:ref3.test');
    expect(rows.map((r) => r.guild_id)).toEqual(['4343']);
  });
});
