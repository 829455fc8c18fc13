/**
 * Issue #33: federation with the Paracord reference server 3.x (sources @e6f874b0/b95e578a, read
 * in docs/REFERENCE-INTEROP-NOTES.md "Reference 3.x"), both ways, through the real HTTP listener of
 * a real node of ours (in-process, real SQLite and sockets) and the reference-shaped peer playing
 * 3.x (test/helpers/reference-peer.ts, `version: '3'`). v0.8.5 stays in interop-reference.test.ts.
 */
import { vi } from 'vitest';
import { beforeAll, describe, expect, it, type InProcessNode, type Nodes } from './helpers/fixtures.ts';
import { messagesOn, pushedTo, shownMessage } from './helpers/interop.ts';
import { ReferencePeer, reserialize, type RefEnvelope } from './helpers/reference-peer.ts';
import { sendRaw } from './helpers/signed-request.ts';
import { eventually } from './helpers/rooms.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { CLI } from './helpers/node-process.ts';
import { execFile } from 'node:child_process';

/** The CLI as a child process, asynchronously: the node under test runs in this process. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

let ours: InProcessNode;
let ourUrl: string;
let ourKey: { key_id: string; public_key: string };
let ref: ReferencePeer;
const enc = encodeURIComponent;

/** A 3.x reference peer, started; its admin pins our key by hand (discover: false) when `pin`. */
async function reference3(nodes: Nodes, serverName: string, options: { allowDiscovery?: boolean; pin?: boolean } = {}): Promise<ReferencePeer> {
  const peer = await nodes.referencePeer({ serverName, version: '3', allowedGuilds: ['4242', '4343'], allowDiscovery: options.allowDiscovery ?? false });
  peer.guilds.set('4242', 'Ref3 lounge');
  peer.guilds.set('4343', 'Ref3 second');
  peer.defaultChannels.set('4242', '424201');
  if (options.pin !== false) peer.pinServer('ours.test', 'ours.test', `${ourUrl}/_paracord/federation/v1`, ourKey.key_id, ourKey.public_key);
  return peer;
}

beforeAll(async ({ fileNodes }) => {
  // Queue entries kept 30 days (not 7): an entry waiting longer than 7 days is what the 3.x age check is about.
  ours = await fileNodes.inProcess('ours.test', { config: { referencePollIntervalMs: 150, outboxMaxAgeMs: 30 * 86_400_000, retryInitialMs: 200, retryMaxMs: 1_000 } });
  ourUrl = ours.started.federation_url!;
  const keys = (await sendRaw(`${ourUrl}/_paracord/federation/v1/keys`, 'GET', {})).body;
  ourKey = { key_id: keys.active_key.key_id, public_key: keys.active_key.public_key };
  ref = await reference3(fileNodes, 'ref3.test');
});

const messagesOf = (roomId: string) => messagesOn(ours, roomId);
const membersOf = async (roomId: string) => ((await ours.admin('GET', `/rooms/${enc(roomId)}`)).body?.members ?? []) as any[];
const membershipOf = async (roomId: string, user: string) => (await membersOf(roomId)).find((m) => m.user_id === user)?.membership as string | undefined;
const pushEvent = (from: ReferencePeer, e: RefEnvelope) => from.call('ours.test', 'POST', '/event', reserialize('event', e)!);
const peerRow = (name: string) => queryNodeDb<{ dialect: string; version: string | null }>(ours.dataDir, 'SELECT dialect, version FROM peer_dialects WHERE server_name = ?', name)[0];

describe('adding a 3.x reference whose discovery is off (its default: 404)', () => {
  it('bad input: an unknown reference_version, or one without the key and endpoint, is a 400 and stores nothing', async () => {
    const bad = [
      { server_name: 'ref3.test', endpoint: ref.url, key_id: ref.keyId, public_key: ref.publicKeyHex, reference_version: '4' },
      { server_name: 'ref3.test', endpoint: ref.url, reference_version: '3' },
      { endpoint: ref.url, key_id: ref.keyId, public_key: ref.publicKeyHex, reference_version: '3' },
    ];
    for (const body of bad) {
      const answer = await ours.admin('POST', '/peers', body);
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_input');
    }
    expect((await ours.admin('GET', '/peers')).body.peers.find((p: any) => p.server_name === 'ref3.test')).toBeUndefined();
    expect(peerRow('ref3.test')).toBeUndefined();
  });

  it('the owner says its version with its key: added as a reference 3.x, remembered', async () => {
    const answer = await ours.admin('POST', '/peers', { server_name: 'ref3.test', endpoint: ref.url, key_id: ref.keyId, public_key: ref.publicKeyHex, reference_version: '3' });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ server_name: 'ref3.test', dialect: 'reference', reference_version: '3', endpoint: ref.url });
    expect(peerRow('ref3.test')).toEqual({ dialect: 'reference', version: 'federation-v2' });
  });
});

describe('signed requests to a 3.x reference are bound (five lines, X-Paracord-Destination)', () => {
  const roomId = '!4242:ref3.test';

  it('joining its guild: /invite and /join bound to its server name, accepted; history polled bound', async () => {
    const before = ref.received.length;
    const hello = ref.say(roomId, 'Ada', 'welcome to 3.x');
    ref.joined.set(roomId, new Set(['@Ada:ref3.test']));
    const answer = await ours.admin('POST', '/rooms/join', { room_id: roomId });
    expect(answer.status).toBe(200);
    const posts = ref.received.slice(before);
    expect(posts.map((b) => b.path)).toEqual(['/_paracord/federation/v1/invite', '/_paracord/federation/v1/join']);
    for (const post of posts) expect(post.headers['x-paracord-destination']).toBe('ref3.test');
    expect(ref.joined.get(roomId)?.has('@owner:ours.test')).toBe(true);
    const found = await shownMessage(ours, roomId, hello.event_id);
    expect(found).toMatchObject({ body: 'welcome to 3.x', sender: '@Ada:ref3.test' });
  });
});

describe('requests from a 3.x reference', () => {
  it('an unbound (four-line) request in its name is refused 403 destination_binding_required, and changes nothing; bound, the same is taken', async () => {
    const body = (user: string) => JSON.stringify({ origin_server: 'ref3.test', room_id: '!1:ours.test', sender: user, max_age_seconds: null });
    ref.signUnbound = true;
    try {
      const unbound = await ref.call('ours.test', 'POST', '/invite', body('@mallory:ref3.test'));
      expect(unbound.status).toBe(403);
      expect(unbound.json.error).toBe('destination_binding_required');
    } finally {
      ref.signUnbound = false;
    }
    const bound = await ref.call('ours.test', 'POST', '/invite', body('@mallory:ref3.test'));
    expect(bound.status).not.toBe(403);
    expect(bound.status).toBeLessThan(500);
  });

  it('bound to the host of our URL (as its 156125ca/0d9d2dcc versions bind) is taken; bound to another name, 403 wrong_destination', async () => {
    const body = JSON.stringify({ origin_server: 'ref3.test', room_id: '!1:ours.test', sender: '@mallory:ref3.test', max_age_seconds: null });
    try {
      ref.bindTo = new URL(ourUrl).hostname;
      const urlHost = await ref.call('ours.test', 'POST', '/invite', body);
      expect(urlHost.status).not.toBe(403);
      expect(urlHost.status).toBeLessThan(500);
      ref.bindTo = 'elsewhere.test';
      const elsewhere = await ref.call('ours.test', 'POST', '/invite', body);
      expect(elsewhere.status).toBe(403);
      expect(elsewhere.json.error).toBe('wrong_destination');
    } finally {
      ref.bindTo = null;
    }
  });
});

describe('membership endorsements (sender @server:<domain>, content {guild_id, membership_user_id})', () => {
  const roomId = '!4242:ref3.test';

  it('its endorsement of our /join is pushed to us (bound) and read as our user\'s join, never as a member "@server"', async () => {
    const endorsement = await eventually(async () => {
      const e = ref.events.find((x) => x.event_type === 'm.member.join' && x.content.membership_user_id === '@owner:ours.test');
      // Taken once our join is recorded (a push that arrives before is refused and retried, as it retries).
      const answered = e && ref.pushed.find((p) => p.peer === 'ours.test' && p.event_id === e.event_id && p.status === 202);
      if (!answered) throw new Error('not pushed yet');
      return { e, answered };
    });
    expect(endorsement.e.sender).toBe('@server:ref3.test');
    expect(endorsement.answered.status).toBe(202);
    const members = await membersOf(roomId);
    expect(members.find((m) => m.user_id === '@server:ref3.test')).toBeUndefined();
    expect(members).toContainEqual(expect.objectContaining({ user_id: '@owner:ours.test', membership: 'join' }));
  });

  it('another server\'s user joining through its /join is applied to that user', async () => {
    ref.joined.get(roomId)!.add('@carol:third.test');
    const e = ref.endorse('m.member.join', '4242', '@carol:third.test');
    await eventually(async () => {
      if ((await membershipOf(roomId, '@carol:third.test')) !== 'join') throw new Error('not applied yet');
      return true;
    });
    expect(ref.pushed.find((p) => p.event_id === e.event_id)?.status).toBe(202);
  });

  it('bad input: the host endorsing a join of one of our users who never asked to join is a 403, and changes nothing', async () => {
    const e = ref.endorse('m.member.join', '4242', '@bystander:ours.test');
    const statuses = await eventually(async () => {
      const answers = ref.pushed.filter((p) => p.event_id === e.event_id).map((p) => p.status);
      if (answers.length < 5) throw new Error('not all attempts yet');
      return answers;
    });
    expect(new Set(statuses)).toEqual(new Set([403]));
    const answer = await pushEvent(ref, e);
    expect(answer.json.error).toBe('join_not_asked');
    expect(await membershipOf(roomId, '@bystander:ours.test')).toBeUndefined();
  });

  it('bad input: an endorsement from a server that does not host the room is a 403, and changes nothing', async ({ fileNodes }) => {
    const other = await reference3(fileNodes, 'stranger3.test');
    expect((await ours.admin('POST', '/peers', { server_name: 'stranger3.test', endpoint: other.url, key_id: other.keyId, public_key: other.publicKeyHex, reference_version: '3' })).status).toBe(200);
    const ts = Date.now();
    const forged = other.signEnvelope({
      event_id: `$m_member_leave:abcdef012345:${ts}:stranger3.test`, room_id: roomId, event_type: 'm.member.leave', sender: '@server:stranger3.test',
      origin_server: 'stranger3.test', origin_ts: ts, content: { guild_id: '4242', membership_user_id: '@carol:third.test' }, depth: ts, state_key: null,
    });
    const answer = await pushEvent(other, forged);
    expect(answer.status).toBe(403);
    expect(answer.json.error).toBe('not_room_host');
    expect(await membershipOf(roomId, '@carol:third.test')).toBe('join');
  });

  it('bad input: a malformed membership_user_id or another guild_id from the host is a 400, and changes nothing', async () => {
    for (const content of [{ guild_id: '4242', membership_user_id: 'carol' }, { guild_id: '4242', membership_user_id: 7 }, { guild_id: '9999', membership_user_id: '@carol:third.test' }]) {
      const ts = Date.now();
      const bad = ref.signEnvelope({
        event_id: `$m_member_leave:0123456789ab:${ts}:ref3.test`, room_id: roomId, event_type: 'm.member.leave', sender: '@server:ref3.test',
        origin_server: 'ref3.test', origin_ts: ts, content, depth: ts, state_key: null,
      });
      const answer = await pushEvent(ref, bad);
      expect(answer.status, JSON.stringify(content)).toBe(400);
      expect(answer.json.error).toBe('invalid_content');
    }
    expect(await membershipOf(roomId, '@carol:third.test')).toBe('join');
  });

  it('its kick (or ban: the same endorsed leave) of another server\'s user and of ours applies to the member it names', async () => {
    ref.kick(roomId, '@carol:third.test');
    await eventually(async () => {
      if ((await membershipOf(roomId, '@carol:third.test')) !== 'leave') throw new Error('not applied yet');
      return true;
    });
    expect(await membershipOf(roomId, '@owner:ours.test')).toBe('join');
    const kick = ref.kick(roomId, '@owner:ours.test');
    expect(kick).toMatchObject({ sender: '@server:ref3.test', content: { guild_id: '4242', membership_user_id: '@owner:ours.test' } });
    await eventually(async () => {
      if ((await membershipOf(roomId, '@owner:ours.test')) !== 'leave') throw new Error('not applied yet');
      return true;
    });
    expect((await membersOf(roomId)).find((m) => m.user_id === '@server:ref3.test')).toBeUndefined();
    // Joined again (its /join and endorsement), our user is back in.
    expect((await ours.admin('POST', '/rooms/join', { room_id: roomId })).status).toBe(200);
    expect(await membershipOf(roomId, '@owner:ours.test')).toBe('join');
  });

  it('an endorsement for one of its guilds we share nothing of is answered without a 4xx (it would retry for 24 h), and stores no room', async () => {
    const e = ref.endorse('m.member.join', '4343', '@dave:third.test');
    const status = await eventually(async () => {
      const answered = ref.pushed.find((p) => p.event_id === e.event_id);
      if (!answered) throw new Error('not pushed yet');
      return answered.status;
    });
    expect(status).toBe(202);
    expect((await ours.admin('GET', `/rooms/${enc('!4343:ref3.test')}`)).status).toBe(404);
  });
});

describe('its history (GET /events) paged by next_depth / next_event_id', () => {
  const roomId = '!4242:ref3.test';
  const cursorOf = () => queryNodeDb<{ since_depth: number; since_event_id: string | null; last_error: string | null }>(ours.dataDir, 'SELECT since_depth, since_event_id, last_error FROM reference_poll_cursors LEFT JOIN reference_poll_cursor_ids USING (server_name, room_id) WHERE server_name = ? AND room_id = ?', 'ref3.test', roomId)[0]!;
  /**
   * Serves pages of three events made by `made` (at depths past the cursor, its cursor moving on)
   * for 3 s: the room must be asked less often each round, and no event with `body` shown.
   */
  const polledLessOften = async (body: string, made: (ts: number, depth: number) => RefEnvelope) => {
    let depth = cursorOf().since_depth;
    const ts = Date.now();
    ref.historyOverride = {
      get events() {
        return [1, 2, 3].map((i) => made(ts + i, depth + i));
      },
      get next_depth() { return (depth += 3); },
      next_event_id: null,
    };
    try {
      const asked = () => ref.historyAsked.filter((room) => room === roomId).length;
      const before = asked();
      await new Promise((r) => setTimeout(r, 3_000));
      // Rounds every 150 ms here: two pages a round would be ~40 in 3 s; waiting 0.3, 0.6, 1.2,
      // 2.4 s after each fruitless round, at most ~5 rounds.
      expect(asked() - before).toBeLessThanOrEqual(12);
      expect(asked() - before).toBeGreaterThan(0);
      expect((await messagesOf(roomId)).some((m) => m.body === body)).toBe(false);
    } finally {
      ref.historyOverride = null;
    }
  };

  it('through short and empty filtered pages (hidden events, equal depths) to the end; what it hides never arrives', async () => {
    ref.historyScan = 4;
    const ts = Date.now();
    const said: RefEnvelope[] = [];
    // Six visible and ten hidden, four of each sharing one depth (its order is then the event id's).
    for (let i = 0; i < 16; i++) said.push(ref.say(roomId, 'Ada', `paged ${i}`, { ts: ts + Math.floor(i / 4) }));
    for (const e of said.slice(3, 13)) ref.hidden.add(e.event_id);
    const visible = [...said.slice(0, 3), ...said.slice(13)];
    await eventually(async () => {
      const ids = new Set((await messagesOf(roomId)).map((m) => m.event_id));
      if (!visible.every((e) => ids.has(e.event_id))) throw new Error('not all polled yet');
      return true;
    });
    const ids = new Set((await messagesOf(roomId)).map((m) => m.event_id));
    expect(said.slice(3, 13).some((e) => ids.has(e.event_id))).toBe(false);
    const last = [...said].sort((a, b) => a.depth - b.depth || Buffer.compare(Buffer.from(a.event_id), Buffer.from(b.event_id))).pop()!;
    await eventually(async () => {
      const cursor = cursorOf();
      if (cursor.since_event_id !== last.event_id) throw new Error('cursor not at the end yet');
      return cursor;
    });
    expect(cursorOf()).toMatchObject({ since_depth: last.depth, last_error: null });
    ref.historyScan = 2048;
  });

  it('a page over 4 MiB (it answers up to 7 MiB) is read', async () => {
    const big: RefEnvelope[] = [];
    for (let i = 0; i < 72; i++) big.push(ref.say(roomId, 'Ada', `big ${i}`, { extra: { note: 'x'.repeat(60_000) } }));
    const storedOf = () => queryNodeDb<{ n: number }>(ours.dataDir, `SELECT COUNT(*) AS n FROM federation_events WHERE event_id IN (${big.map(() => '?').join(',')})`, ...big.map((e) => e.event_id))[0]!.n;
    await eventually(async () => {
      if (storedOf() !== big.length) throw new Error('not all polled yet');
      return true;
    });
    // The cursor is written once the page's events are stored.
    await eventually(async () => {
      if (cursorOf().since_event_id !== big.at(-1)!.event_id) throw new Error('cursor not at the end yet');
      return true;
    });
    expect(cursorOf().last_error).toBeNull();
  });

  it('a peer answering empty pages with a cursor that moves forever is asked at most twice a round, not sixteen times', async () => {
    let depth = cursorOf().since_depth;
    // Each answer moves the cursor on and brings nothing (as a page of hidden events would).
    ref.historyOverride = { events: [], get next_depth() { return ++depth; }, next_event_id: null };
    try {
      await eventually(async () => expect(cursorOf().since_depth).toBeGreaterThan(depth - 1));
      const asked = () => ref.historyAsked.filter((room) => room === roomId).length;
      const before = asked();
      await new Promise((r) => setTimeout(r, 1_500));
      // Rounds every 150 ms here: at most two pages of this room per round (+1 for a round under way).
      expect(asked() - before).toBeLessThanOrEqual(2 * (1_500 / 150 + 1));
      expect(asked() - before).toBeGreaterThan(0);
    } finally {
      ref.historyOverride = null;
    }
  });

  it('a peer serving pages of events refused here (another room\'s), cursor moving on, has the room polled less often each round', async () => {
    // Red team 2026-11-27 (a helper's audit): every such page was checked, two a round, every
    // round, for every room; and events at or before the cursor asked from were checked too.
    await polledLessOften('another room\'s', (ts, depth) => {
      const e = ref.say('!4343:ref3.test', 'Ada', 'another room\'s', { ts });
      ref.hidden.add(e.event_id);
      return { ...e, depth };
    });
  });

  it('…and so does one serving events under the name of another server we know, whose signatures fail', async ({ fileNodes }) => {
    // Red team 2026-11-30: only the peer's own events counted toward the wait, so events named as
    // another server's (keys we hold: each signature checked, and failing) were checked every round.
    const native = await fileNodes.fakePeer('native.test');
    expect((await ours.admin('POST', '/peers', { server_name: 'native.test', endpoint: native.url })).status).toBe(200);
    await polledLessOften('not native\'s', (ts, depth) => {
      const e = ref.say(roomId, 'Ada', 'not native\'s', { ts });
      ref.hidden.add(e.event_id);
      const signature = Object.values(Object.values(e.signatures)[0]!)[0]!;
      return { ...e, event_id: e.event_id.replace(/:[^:]+$/, ':native.test'), sender: '@mallory:native.test', origin_server: 'native.test', depth, signatures: { 'native.test': { [native.identity.keyId]: signature } } };
    });
  });

  it('a peer answering the cursor asked from after a page of events (its cursor lagging behind them) has them checked once: ours moves past the last one', async () => {
    // Red team 2026-11-27: the cursor stayed where the peer left it, so the same events were
    // served and checked again on every page of every round.
    const asked = cursorOf();
    const served = [1, 2].map((i) => ref.say(roomId, 'Ada', `behind its cursor ${i}`));
    const last = served.at(-1)!;
    ref.historyOverride = { events: served, next_depth: asked.since_depth, next_event_id: asked.since_event_id };
    try {
      await eventually(async () => expect(cursorOf()).toMatchObject({ since_depth: last.depth, since_event_id: last.event_id }));
      const bodies = (await messagesOf(roomId)).map((m) => m.body);
      expect(bodies.filter((b) => b.startsWith('behind its cursor'))).toEqual(['behind its cursor 1', 'behind its cursor 2']);
    } finally {
      ref.historyOverride = null;
    }
  });

  it('bad input: an answer whose cursor is not one is a failure with the reason, and the cursor does not move', async () => {
    ref.historyOverride = { events: [], next_depth: -5, next_event_id: 7 };
    try {
      // Once the bad answer is read (a round of the test before may still have been on its way,
      // moving the cursor: it is read after), two more rounds leave the cursor where it is.
      await eventually(async () => expect(cursorOf().last_error).toMatch(/not a cursor/));
      const before = cursorOf();
      const asked = ref.historyAsked.length;
      await eventually(async () => expect(ref.historyAsked.length).toBeGreaterThanOrEqual(asked + 2), 30_000);
      expect(cursorOf()).toMatchObject({ since_depth: before.since_depth, since_event_id: before.since_event_id });
      expect(cursorOf().last_error).toMatch(/not a cursor/);
    } finally {
      ref.historyOverride = null;
    }
  });
});

describe('a 3.x reference user in a room we host: what we push', () => {
  let roomId: string;
  const queueOf = async () => (await ours.admin('GET', '/queue?destination=ref3.test')).body.entries as any[];
  const pushedBodies = () => ref.events.filter((e) => e.room_id === roomId && e.event_type === 'm.message').map((e) => e.content.body);

  it('its user is invited and joins (its requests bound to us); our message reaches it bound and passes its checks', async () => {
    roomId = (await ours.admin('POST', '/rooms', { name: 'Our 3.x lounge' })).body.room_id;
    expect((await ours.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: '@zoe:ref3.test' })).status).toBe(200);
    const preflight = await ref.call('ours.test', 'POST', '/invite', JSON.stringify({ origin_server: 'ref3.test', room_id: roomId, sender: '@zoe:ref3.test', max_age_seconds: null }));
    expect(preflight.status).toBe(200);
    const joined = await ref.call('ours.test', 'POST', '/join', JSON.stringify({ origin_server: 'ref3.test', room_id: roomId, user_id: '@zoe:ref3.test' }));
    expect(joined.status).toBe(200);
    expect(await membershipOf(roomId, '@zoe:ref3.test')).toBe('join');
    expect((await ours.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'hello 3.x' })).status).toBe(200);
    await eventually(async () => {
      if (!pushedBodies().includes('hello 3.x')) throw new Error('not pushed yet');
      return true;
    });
    const posts = ref.received.filter((r) => r.path.endsWith('/event') && r.body.includes('hello 3.x'));
    expect(posts.every((p) => p.headers['x-paracord-destination'] === 'ref3.test')).toBe(true);
    expect(ref.droppedBodies).toEqual([]);
  });

  it('a message over 2,000 UTF-8 bytes is not pushed (it would drop it): its queue entry says why in words; the next one is carried', async () => {
    const long = 'é'.repeat(1_001); // 1,001 letters, 2,002 bytes
    const sent = await ours.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: long });
    expect(sent.status).toBe(200);
    expect((await ours.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'short again' })).status).toBe(200);
    await eventually(async () => {
      if (!pushedBodies().includes('short again')) throw new Error('not pushed yet');
      return true;
    });
    expect(pushedBodies()).not.toContain(long);
    expect(ref.received.some((r) => r.body.includes(long))).toBe(false);
    const entry = (await queueOf()).find((e) => e.event_id === sent.body.event_id);
    expect(entry).toMatchObject({ state: 'failed', destination: 'ref3.test' });
    expect(entry.last_error).toMatch(/not carried to ref3\.test: the message text is 2002 bytes/);
  });
});

describe('its catch-up of a room we host (GET /events as 3.x reads it)', () => {
  let roomId: string;

  it('answers next_depth / next_event_id, which it adopts and sends back (percent-encoded): the next page is empty', async () => {
    roomId = (await ours.admin('GET', '/rooms')).body.rooms.find((r: any) => r.name === 'Our 3.x lounge').room_id;
    const first = await ref.poll('ours.test', roomId);
    expect(first).toMatchObject({ status: 200, rejected: 0 });
    expect(first.verified).toBeGreaterThan(0);
    expect(ref.cursorIds.get(`ours.test ${roomId}`)).toBe(first.eventIds.at(-1));
    expect(await ref.poll('ours.test', roomId)).toMatchObject({ status: 200, verified: 0, rejected: 0, eventIds: [] });
  });

  it('leaves out what it would refuse (signed more than 7 days ago) and moves its cursor past it, so its catch-up never stalls', async () => {
    ref.failPosts = 503;
    let ancient: string;
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    try {
      vi.setSystemTime(Date.now() - 8 * 86_400_000);
      ancient = (await ours.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'from a clock 8 days behind' })).body.event_id;
    } finally {
      vi.useRealTimers();
    }
    ref.failPosts = null;
    const recent = (await ours.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'from a right clock' })).body.event_id;
    const page = await ref.poll('ours.test', roomId);
    expect(page).toMatchObject({ status: 200, rejected: 0 });
    expect(page.eventIds).not.toContain(ancient!);
    expect(page.eventIds).toContain(recent);
    expect(ref.cursorIds.get(`ours.test ${roomId}`)).toBe(recent);
    // Another server's catch-up (one of ours) still gets everything.
    const all = (await ours.admin('GET', `/rooms/${enc(roomId)}/messages?limit=100`)).body.messages.map((m: any) => m.event_id);
    expect(all).toContain(ancient!);
  });
});

describe('its users in a room we host: what it pushes and serves us', () => {
  let roomId: string;
  const cursorError = () => queryNodeDb<{ last_error: string | null; failures: number }>(ours.dataDir, 'SELECT last_error, failures FROM reference_poll_cursors WHERE server_name = ? AND room_id = ?', 'ref3.test', roomId)[0];

  it('its user\'s message pushed to us (we host the room) is taken (202) and shown; its copy of our room is polled without a 403', async () => {
    roomId = (await ours.admin('GET', '/rooms')).body.rooms.find((r: any) => r.name === 'Our 3.x lounge').room_id;
    const said = ref.say(roomId, 'zoe', 'zoe pushes this', { mirrored: true, channel: { id: roomId.slice(1, roomId.indexOf(':')), name: 'Our 3.x lounge' } });
    expect(await ref.push('ours.test', said)).toBe(202);
    expect((await messagesOf(roomId)).find((m) => m.event_id === said.event_id)).toMatchObject({ body: 'zoe pushes this', sender: '@zoe:ref3.test' });
    // It recorded our members by the m.member.join we pushed: its history of our room is open to us.
    expect(ref.roomServers.get(roomId)?.has('ours.test')).toBe(true);
    await eventually(async () => {
      const row = cursorError();
      if (!row || row.failures > 0) throw new Error(`not polled cleanly yet: ${row?.last_error ?? 'no cursor'}`);
      return true;
    });
  });

  it('bad input: a push whose id ends with another server, or whose body is not text, is a 4xx with the reason, and nothing is stored', async () => {
    const ts = Date.now();
    const guild = roomId.slice(1, roomId.indexOf(':'));
    const squat = ref.signEnvelope({
      event_id: `$m_message:1:${ts}:ours.test`, room_id: roomId, event_type: 'm.message', sender: '@zoe:ref3.test', origin_server: 'ref3.test',
      origin_ts: ts, content: { body: 'squatting', msgtype: 'm.text', guild_id: guild, channel_id: guild, message_id: '1' }, depth: ts, state_key: null,
    });
    const notText = ref.signEnvelope({
      event_id: `$m_message:2:${ts}:ref3.test`, room_id: roomId, event_type: 'm.message', sender: '@zoe:ref3.test', origin_server: 'ref3.test',
      origin_ts: ts, content: { body: 42, msgtype: 'm.text', guild_id: guild, channel_id: guild, message_id: '2' }, depth: ts, state_key: null,
    });
    for (const [event, status] of [[squat, 403], [notText, 400]] as const) {
      const answer = await pushEvent(ref, event);
      expect(answer.status, event.event_id).toBe(status);
      expect(typeof answer.json.message).toBe('string');
      expect(queryNodeDb(ours.dataDir, 'SELECT 1 FROM federation_events WHERE event_id = ?', event.event_id)).toEqual([]);
    }
  });

  it('bad input: an endorsement from it naming a member of a room we host is a 403 (only the host endorses), and changes nothing', async () => {
    const ts = Date.now();
    const forged = ref.signEnvelope({
      event_id: `$m_member_leave:0123456789ab:${ts}:ref3.test`, room_id: roomId, event_type: 'm.member.leave', sender: '@server:ref3.test',
      origin_server: 'ref3.test', origin_ts: ts, content: { guild_id: roomId.slice(1, roomId.indexOf(':')), membership_user_id: '@owner:ours.test' }, depth: ts, state_key: null,
    });
    const answer = await pushEvent(ref, forged);
    expect(answer.status).toBe(403);
    expect(answer.json.error).toBe('not_room_host');
    expect(await membershipOf(roomId, '@owner:ours.test')).toBe('join');
    expect(await membershipOf(roomId, '@zoe:ref3.test')).toBe('join');
  });

  it('its user\'s reaction with a custom emoji (name:snowflake, over our own 32 characters) is taken as in a room it hosts; a key over its 64, or with a bidi override, is a 400 and stores nothing', async () => {
    const channel = { id: roomId.slice(1, roomId.indexOf(':')), name: 'Our 3.x lounge' };
    const said = ref.say(roomId, 'zoe', 'react to this, zoe', { mirrored: true, channel });
    expect(await ref.push('ours.test', said)).toBe(202);
    const mid = String(said.content.message_id);
    const custom = 'party_parrot_dancing:123456789012345678';
    // Signed as its own reactions are, under ids of their own (its ids carry the emoji, which would fail the envelope's id rule first).
    const react = (emoji: string, i: number) => {
      const ts = Date.now() + i;
      return ref.signEnvelope({
        event_id: `$m_reaction_add:${mid}:r${i}:${ts}:ref3.test`, room_id: roomId, event_type: 'm.reaction.add', sender: '@zoe:ref3.test',
        origin_server: 'ref3.test', origin_ts: ts, content: { guild_id: channel.id, channel_id: channel.id, message_id: mid, emoji }, depth: ts, state_key: null,
      });
    };
    for (const [i, emoji] of ['y'.repeat(65), '\u202Eevil'].entries()) {
      const event = react(emoji, i);
      const answer = await pushEvent(ref, event);
      expect(answer.status, emoji).toBe(400);
      expect(answer.json.error).toBe('invalid_content');
      expect(queryNodeDb(ours.dataDir, 'SELECT 1 FROM federation_events WHERE event_id = ?', event.event_id)).toEqual([]);
    }
    const sound = react(custom, 2);
    const answer = await pushEvent(ref, sound);
    expect(answer.status, JSON.stringify(answer.json)).toBe(202);
    expect((await messagesOf(roomId)).find((m) => m.event_id === said.event_id)?.reactions).toEqual({ [custom]: ['@zoe:ref3.test'] });
  });

  it('put in quarantine, what it pushes is held; released, its messages and endorsements are read in our vocabulary, as if never held (its edit and reaction then find them)', async () => {
    const channel = { id: roomId.slice(1, roomId.indexOf(':')), name: 'Our 3.x lounge' };
    expect((await ours.admin('PUT', '/peers/ref3.test/trust', { mode: 'quarantine', reason: 'watching' })).status).toBe(200);
    try {
      const said = ref.say(roomId, 'zoe', 'held while watched', { mirrored: true, channel });
      // Its attachment-only message has an empty body: our vocabulary reads it as "[1 attachment]".
      const attachment = { id: '9', filename: 'cat.png', size: 10, content_type: 'image/png', content_hash: 'ab', origin_url: '/_paracord/federation/v1/file/9' };
      const picture = ref.say(roomId, 'zoe', '', { mirrored: true, channel, extra: { attachments: [attachment] } });
      for (const event of [said, picture]) expect(await ref.push('ours.test', event), event.event_id).toBe(202);
      // In its own guild, its endorsement of another server's user joining (sent as "@server").
      const guild = '!4242:ref3.test';
      ref.joined.get(guild)!.add('@dave:third.test');
      const endorsed = ref.endorse('m.member.join', '4242', '@dave:third.test');
      await eventually(async () => expect(ref.pushed.find((p) => p.event_id === endorsed.event_id)?.status).toBe(202));
      expect(queryNodeDb<{ n: number }>(ours.dataDir, "SELECT COUNT(*) AS n FROM quarantined_events WHERE origin = 'ref3.test'")[0]!.n).toBe(3);
      expect((await messagesOf(roomId)).some((m) => m.event_id === said.event_id)).toBe(false);

      const released = await ours.admin('POST', '/quarantine/ref3.test/release');
      expect(released.status, JSON.stringify(released.body)).toBe(200);
      expect(released.body).toMatchObject({ released: 3, rejected: [] });
      expect(await membershipOf(guild, '@dave:third.test')).toBe('join');
      expect(await membershipOf(guild, '@server:ref3.test')).toBeUndefined();
      expect((await messagesOf(roomId)).find((m) => m.event_id === said.event_id)).toMatchObject({ body: 'held while watched', sender: '@zoe:ref3.test' });
      expect((await messagesOf(roomId)).find((m) => m.event_id === picture.event_id)).toMatchObject({ body: '[1 attachment]', sender: '@zoe:ref3.test' });
      // Trusted again, its edit and reaction name the message by its message_id: found, as it is stored as any of its messages.
      expect((await ours.admin('PUT', '/peers/ref3.test/trust', { mode: 'allow' })).status).toBe(200);
      const edit = ref.relate(roomId, 'zoe', 'm.message.edit', String(said.content.message_id), { body: 'held while watched, edited' });
      const reaction = ref.relate(roomId, 'zoe', 'm.reaction.add', String(said.content.message_id), { emoji: '🧊' });
      for (const event of [edit, reaction]) expect(await ref.push('ours.test', event), event.event_id).toBe(202);
      expect((await messagesOf(roomId)).find((m) => m.event_id === said.event_id)).toMatchObject({
        body: 'held while watched, edited', edited: true, sender: '@zoe:ref3.test', reactions: { '🧊': ['@zoe:ref3.test'] },
      });
    } finally {
      expect((await ours.admin('PUT', '/peers/ref3.test/trust', { mode: 'allow' })).status).toBe(200);
    }
  });
});

describe('sending into a guild room a 3.x reference hosts (it takes other servers\' members\' messages)', () => {
  const roomId = '!4242:ref3.test';

  it('our message is pushed to it bound, names its real channel and guild, and it keeps it as chat', async () => {
    expect(await membershipOf(roomId, '@owner:ours.test')).toBe('join');
    const sent = await ours.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'hello from ours' });
    expect(sent.status).toBe(200);
    const stored = await pushedTo(ref, sent.body.event_id);
    expect(stored).toMatchObject({ room_id: roomId, sender: '@owner:ours.test', origin_server: 'ours.test', content: { body: 'hello from ours', guild_id: '4242', channel_id: '424201' } });
    expect(stored.event_id.endsWith(':ours.test')).toBe(true);
    expect(ref.droppedBodies.some((e) => e.event_id === sent.body.event_id)).toBe(false);
    expect(ref.received.find((r) => r.body.includes(sent.body.event_id))?.headers['x-paracord-destination']).toBe('ref3.test');
    expect((await ours.admin('GET', '/queue?destination=ref3.test&state=failed')).body.entries.some((e: any) => e.event_id === sent.body.event_id)).toBe(false);
  });

  it('its other channels\' rooms stay read-only (409 with the reason), and nothing is sent', async () => {
    const other = ref.say(roomId, 'Ada', 'in the second channel', { channel: { id: '424202', name: 'second' } });
    const channelRoom = '!4242~424202:ref3.test';
    await shownMessage(ours, channelRoom, other.event_id);
    const before = ref.received.length;
    const answer = await ours.admin('POST', `/rooms/${enc(channelRoom)}/messages`, { body: 'into a channel room' });
    expect(answer.status).toBe(409);
    expect(answer.body.error).toBe('reference_host_read_only');
    expect(ref.received.slice(before).some((r) => r.body.includes('into a channel room'))).toBe(false);
  });
});

describe('a reference added as v0.8.5 that now runs 3.x: its 401 makes us sign bound, once, and remember', () => {
  let upgraded: ReferencePeer;
  beforeAll(async ({ fileNodes }) => {
    upgraded = await reference3(fileNodes, 'upgraded.test');
  });

  it('the first four-line request is refused 401, the bound retry is taken, and the peer is 3.x from then on (persisted)', async () => {
    const added = await ours.admin('POST', '/peers', { server_name: 'upgraded.test', endpoint: upgraded.url, key_id: upgraded.keyId, public_key: upgraded.publicKeyHex, reference_version: '0.8' });
    expect(added.status).toBe(200);
    expect(added.body.reference_version).toBe('0.8');
    const before = upgraded.received.length;
    expect((await ours.admin('POST', '/rooms/join', { room_id: '!4242:upgraded.test' })).status).toBe(200);
    const posts = upgraded.received.slice(before);
    // /invite unbound (401), /invite bound, then /join bound at once: remembered.
    expect(posts.map((p) => [p.path.split('/').pop(), p.headers['x-paracord-destination'] ?? null])).toEqual([['invite', null], ['invite', 'upgraded.test'], ['join', 'upgraded.test']]);
    expect(peerRow('upgraded.test')).toEqual({ dialect: 'reference', version: 'federation-v2' });
    expect((await ours.admin('GET', '/peers')).body.peers.find((p: any) => p.server_name === 'upgraded.test').reference_version).toBe('3');
  });
});

describe('the CLI: peer add --reference', () => {
  it('adds a 3.x whose discovery is off with its key; an unknown version is refused before anything is sent', async ({ fileNodes }) => {
    const cliRef = await reference3(fileNodes, 'cli3.test');
    const bad = await cli(['peer', 'add', 'cli3.test', '--endpoint', cliRef.url, '--key-id', cliRef.keyId, '--public-key', cliRef.publicKeyHex, '--reference', '4', '--data', ours.dataDir]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--reference/);
    expect(peerRow('cli3.test')).toBeUndefined();
    const added = await cli(['peer', 'add', 'cli3.test', '--endpoint', cliRef.url, '--key-id', cliRef.keyId, '--public-key', cliRef.publicKeyHex, '--reference', '3', '--data', ours.dataDir]);
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ server_name: 'cli3.test', dialect: 'reference', reference_version: '3' });
  });
});

describe('discovery v2 (when its admin enables it)', () => {
  let open: ReferencePeer;
  beforeAll(async ({ fileNodes }) => {
    open = await reference3(fileNodes, 'open3.test', { allowDiscovery: true });
  });

  it('federation-v2 with supported_versions is read: added as a reference 3.x by its discovery alone', async () => {
    const answer = await ours.admin('POST', '/peers', { endpoint: open.url, key_id: open.keyId, public_key: open.publicKeyHex });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ server_name: 'open3.test', dialect: 'reference', reference_version: '3' });
    expect(peerRow('open3.test')).toEqual({ dialect: 'reference', version: 'federation-v2' });
  });

  it('bad input: a discovery speaking only a version we do not know is refused with the reason, and nothing is stored', async ({ fileNodes }) => {
    const odd = await reference3(fileNodes, 'odd3.test', { allowDiscovery: true });
    odd.discoveryOverride = { server_name: 'odd3.test', domain: 'odd3.test', federation_endpoint: '/_paracord/federation/v1', enabled: true, version: 'federation-v9', supported_versions: ['federation-v9'] };
    const answer = await ours.admin('POST', '/peers', { endpoint: odd.url, key_id: odd.keyId, public_key: odd.publicKeyHex });
    expect(answer.status).toBe(502);
    expect(answer.body.message).toMatch(/speaks federation-v9/);
    odd.discoveryOverride = { server_name: 'odd3.test', federation_endpoint: '/_paracord/federation/v1', enabled: true, version: 'federation-v2', supported_versions: 'federation-v1' };
    expect((await ours.admin('POST', '/peers', { endpoint: odd.url, key_id: odd.keyId, public_key: odd.publicKeyHex })).status).toBe(502);
    expect(peerRow('odd3.test')).toBeUndefined();
    expect((await ours.admin('GET', '/peers')).body.peers.find((p: any) => p.server_name === 'odd3.test')).toBeUndefined();
  });

  it('the owner\'s reference_version for a server whose discovery says it is one of ours is refused', async ({ nodes }) => {
    const node2 = await nodes.inProcess('node2.test');
    const keys = (await sendRaw(`${node2.started.federation_url}/_paracord/federation/v1/keys`, 'GET', {})).body;
    const answer = await ours.admin('POST', '/peers', { server_name: 'node2.test', endpoint: node2.started.federation_url, key_id: keys.active_key.key_id, public_key: keys.active_key.public_key, reference_version: '3' });
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(/not a Paracord reference server/);
    expect(peerRow('node2.test')).toBeUndefined();
  });
});

// Last: it moves this process's clock 8 days ahead for a while (timers the node set then stay there).
describe('an entry that waited more than 7 days', () => {
  let roomId: string;
  const queueOf = async () => (await ours.admin('GET', '/queue?destination=ref3.test')).body.entries as any[];
  const pushedBodies = () => ref.events.filter((e) => e.room_id === roomId && e.event_type === 'm.message').map((e) => e.content.body);
  beforeAll(async () => {
    roomId = (await ours.admin('GET', '/rooms')).body.rooms.find((r: any) => r.name === 'Our 3.x lounge').room_id;
  });

  it('an entry that waited more than 7 days (it refuses events that old) is not pushed, and says why; a fresh one is', async () => {
    ref.failPosts = 503;
    const old = await ours.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'written before the outage' });
    expect(old.status).toBe(200);
    await eventually(async () => {
      const entry = (await queueOf()).find((e) => e.event_id === old.body.event_id);
      if (!entry || entry.attempts < 1) throw new Error('not tried yet');
      return true;
    });
    // Eight days later (the clock of this process: the node's and the peer's alike), it answers again.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    try {
      vi.setSystemTime(Date.now() + 8 * 86_400_000);
      ref.failPosts = null;
      const entry = await eventually(async () => {
        const found = (await queueOf()).find((e) => e.event_id === old.body.event_id);
        if (found?.state !== 'failed') throw new Error('not settled yet');
        return found;
      });
      expect(entry.last_error).toMatch(/not carried to ref3\.test: the event is more than 7 days old/);
    } finally {
      vi.useRealTimers();
      ref.failPosts = null;
    }
    expect((await ours.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'written after the outage' })).status).toBe(200);
    await eventually(async () => {
      if (!pushedBodies().includes('written after the outage')) throw new Error('not pushed yet');
      return true;
    });
    expect(pushedBodies()).not.toContain('written before the outage');
  });
});
