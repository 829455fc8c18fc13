/**
 * Red team (issue #37 items 5 and 8), through the real listener against a real node:
 *   5. an event carrying ~900 KB of signatures of made-up servers was accepted; the database grew
 *      far more than the peer's quota was charged, and the event was served and relayed at full
 *      size. Now `signatures` is bounded (400), only the origin's signature that verified is kept
 *      (stored, served, relayed), and the quota charges every byte an event takes.
 *   8. every relayed event was charged to the relaying host against a lifetime total: a friend's
 *      busy room stopped for good once it passed. Now each peer origin pays for its own events, the
 *      daily quota (growth) is the limit that refuses, the total ends nothing, and the owner is
 *      warned at 80 % of the daily quota, before it bites.
 * Each attack has its legitimate twin in the same test.
 */
import { beforeAll, describe, expect, it, type Nodes } from '../helpers/fixtures.ts';
import { encodeHex } from '../../main/core/crypto/hex.ts';
import { randomBytes } from 'node:crypto';
import type { Envelope } from '../../main/core/federation/envelope.ts';
import { canonicalJson } from '../../main/core/crypto/canonical-json.ts';
import { chargedBytes } from '../../main/core/trust/storage-quota.ts';
import { makeEvent, wire } from '../helpers/events.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import { joinFakePeer } from '../helpers/fake-members.ts';
import { startInProcessNode } from '../helpers/in-process-node.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';
import type { NodeProcess } from '../helpers/node-process.ts';
import { enc, eventually, inviteAndJoin } from '../helpers/rooms.ts';
import { sendSigned } from '../helpers/signed-request.ts';

const FED = '/_paracord/federation/v1';

type Node = Awaited<ReturnType<typeof startInProcessNode>>;
/** Its in-process nodes stop with a short grace (what they had in flight does not matter here). */
const node = (nodes: Nodes, name: string, config: Parameters<typeof startInProcessNode>[1] = {}) => nodes.inProcess(name, { ...config, graceMs: 1_000 });
const asHost = (n: Node) => ({ admin: n.admin, federationUrl: n.started.federation_url! }) as unknown as NodeProcess;
async function hostedRoomWith(host: Node, members: FakePeer[]): Promise<string> {
  const created = await host.admin('POST', '/rooms', { name: 'bytes' });
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  for (const member of members) await joinFakePeer(asHost(host), created.body.room_id, member);
  return created.body.room_id;
}
const used = (n: Node, server: string) =>
  queryNodeDb<{ day_bytes: number; total_bytes: number }>(n.dataDir, 'SELECT day_bytes, total_bytes FROM peer_storage WHERE server_name = ?', server)[0] ?? { day_bytes: 0, total_bytes: 0 };
const bodies = async (n: Node, roomId: string) =>
  ((await n.admin('GET', `/rooms/${enc(roomId)}/messages?limit=500`)).body.messages as Array<{ body: string }>).map((m) => m.body);
const junkSignature = () => encodeHex(randomBytes(64));
/** About `chars` characters of words, each new (a message's text, as the search index sees it). */
const prose = (chars: number) => {
  let text = '';
  while (text.length < chars) text += `${randomBytes(3 + (text.length % 6)).toString('base64url').replace(/[^a-z]/gi, 'e')} `;
  return text;
};

let depth = Date.now();
const nextDepth = () => (depth = Math.max(depth + 1, Date.now()));


describe('5. signatures are bounded, only the one that matters is kept, every byte is charged', () => {
  let alpha: Node;
  /** A real member node: what alpha relays, it stores as received. */
  let beta: Node;
  let sender: FakePeer;
  let watcher: FakePeer;
  let roomId: string;

  beforeAll(async ({ fileNodes }) => {
    [alpha, beta] = await Promise.all([node(fileNodes, 'alpha.test'), node(fileNodes, 'beta.test')]);
    expect((await alpha.admin('POST', '/peers', { server_name: 'beta.test', endpoint: beta.started.federation_url })).status).toBe(200);
    expect((await beta.admin('POST', '/peers', { server_name: 'alpha.test', endpoint: alpha.started.federation_url })).status).toBe(200);
    [sender, watcher] = await Promise.all([fileNodes.fakePeer('sig.test'), fileNodes.fakePeer('watch.test')]);
    roomId = await hostedRoomWith(alpha, [sender, watcher]);
    await inviteAndJoin(alpha, roomId, beta, '@owner:beta.test');
    // beta knows sig.test only through alpha (the host's key cache), as a member of a room usually does.
  });

  const signed = (body: string) => makeEvent(sender.identity, { room_id: roomId, sender: '@u:sig.test', depth: nextDepth(), content: { body, format: 'plain' } });
  const send = (event: Envelope | string) => sendSigned(sender.identity, alpha.started.federation_url!, 'POST', `${FED}/event`, typeof event === 'string' ? event : wire(event));
  const storedSignatures = (eventId: string, on: Node = alpha) => queryNodeDb<{ signatures: string }>(on.dataDir, 'SELECT signatures FROM federation_events WHERE event_id = ?', eventId)[0]?.signatures;

  it('~900 KB of made-up servers\' signatures is refused 400 and nothing is stored or charged; the same event signed plainly is accepted', async () => {
    const event = signed('carrying a megabyte of signatures');
    const bloated: Envelope = { ...event, signatures: { ...event.signatures } };
    // Valid names of made-up servers (labels of at most 63 characters), ~350 bytes per signature.
    for (let i = 0; i < 2_550; i++) bloated.signatures[`${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.s${i}.made-up.test`] = { 'ed25519:k': junkSignature() };
    const body = wire(bloated);
    expect(body.length).toBeGreaterThan(850_000);
    const before = used(alpha, 'sig.test');
    const refused = await send(body);
    expect(refused.status, refused.text.slice(0, 300)).toBe(400);
    expect(refused.body).toMatchObject({ error: 'invalid_event' });
    expect(storedSignatures(event.event_id)).toBeUndefined();
    expect(used(alpha, 'sig.test')).toEqual(before);

    const plain = await send(event);
    expect(plain.status, plain.text).toBe(202);
    expect(await bodies(alpha, roomId)).toContain('carrying a megabyte of signatures');
  });

  it('within the bound, only the origin\'s signature that verified is stored, served and relayed', async () => {
    const event = signed('with extra signatures');
    const ownKey = sender.identity.keyId;
    const extra: Envelope = {
      ...event,
      signatures: {
        'sig.test': { ...event.signatures['sig.test'], 'ed25519:zz1': junkSignature(), 'ed25519:zz2': junkSignature(), 'ed25519:zz3': junkSignature() },
        ...Object.fromEntries(['a', 'b', 'c'].map((s) => [`${s}.made-up.test`, Object.fromEntries([1, 2, 3, 4].map((k) => [`ed25519:k${k}`, junkSignature()]))])),
      },
    };
    const before = used(alpha, 'sig.test').day_bytes;
    const accepted = await send(extra);
    expect(accepted.status, accepted.text).toBe(202);
    const kept = { 'sig.test': { [ownKey]: event.signatures['sig.test']![ownKey]! } };
    // Stored in canonical form, as every row is (written from the signature that verified).
    expect(storedSignatures(event.event_id)).toBe(canonicalJson(kept));
    // Charged for what is kept, not for the signatures it came with.
    const contentBytes = Buffer.byteLength(canonicalJson(event.content));
    expect(used(alpha, 'sig.test').day_bytes - before).toBe(chargedBytes({ ...event, signatures: kept }, contentBytes));
    expect(chargedBytes(extra, contentBytes)).toBeGreaterThan(chargedBytes({ ...event, signatures: kept }, contentBytes));
    // Served as stored (to a member entitled to it) …
    const served = await sendSigned(watcher.identity, alpha.started.federation_url!, 'GET', `${FED}/event/${encodeURIComponent(event.event_id)}`);
    expect(served.status, served.text).toBe(200);
    expect(served.body.signatures).toEqual(kept);
    // … and relayed as stored, as the plain twin of the test before.
    await eventually(async () => expect(await bodies(beta, roomId)).toEqual(expect.arrayContaining(['carrying a megabyte of signatures', 'with extra signatures'])));
    expect(JSON.parse(storedSignatures(event.event_id, beta)!)).toEqual(kept);
  });

  it('the quota charges at least what the events make the database grow', async () => {
    const room = await hostedRoomWith(alpha, []);
    // sig.test joins the second room too (so the events are its own, stored and not relayed).
    await joinFakePeer(asHost(alpha), room, sender);
    // The events database and the search index's file together (rooms/search-db.ts).
    const db = () => queryNodeDb<{ bytes: number }>(alpha.dataDir,
      "SELECT (SELECT page_count * (SELECT page_size FROM pragma_page_size) FROM pragma_page_count) + (SELECT page_count FROM pragma_page_count WHERE schema = 'search') * (SELECT page_size FROM pragma_page_size WHERE schema = 'search') AS bytes")[0]!.bytes;
    const events = Array.from({ length: 200 }, (_, i) =>
      makeEvent(sender.identity, { room_id: room, sender: '@u:sig.test', depth: nextDepth(), content: { body: `${i} ${prose(1_500)}`, format: 'plain' } }));
    const beforeDb = db();
    const beforeCharged = used(alpha, 'sig.test').total_bytes;
    for (let start = 0; start < events.length; start += 100) {
      const answer = await sendSigned(sender.identity, alpha.started.federation_url!, 'POST', `${FED}/events`, `{"events":[${events.slice(start, start + 100).map(wire).join(',')}]}`);
      expect(answer.status, answer.text.slice(0, 300)).toBe(200);
      expect(answer.body.results.every((r: { inserted?: boolean }) => r.inserted === true)).toBe(true);
    }
    // The search index follows the events a moment later (rooms/search-index.ts): measured once it has them all.
    const indexed = () => queryNodeDb<{ n: number }>(alpha.dataDir, 'SELECT COUNT(*) AS n FROM search.message_search_rows r JOIN federation_events e ON e.rowid = r.event_rowid WHERE e.room_id = ?', room)[0]!.n;
    await eventually(async () => expect(indexed()).toBe(events.length));
    const grew = db() - beforeDb;
    const charged = used(alpha, 'sig.test').total_bytes - beforeCharged;
    expect(grew).toBeGreaterThan(0);
    expect(charged, `database grew ${grew} B, ${charged} B charged`).toBeGreaterThanOrEqual(grew);
    // Not wildly more either: the quota still measures what is stored.
    expect(charged).toBeLessThan(grew * 2);
  });
});

describe('8. a friend\'s busy room is never cut for good', () => {
  const DAY = 100_000;
  const TOTAL = 60_000;
  let alpha: Node;
  let friend: FakePeer;
  let members: FakePeer[];

  beforeAll(async ({ fileNodes }) => {
    alpha = await node(fileNodes, 'alpha8.test', { config: { peerQuotaBytesPerDay: DAY, peerQuotaTotalBytes: TOTAL } });
    friend = await fileNodes.fakePeer('friend.test', { roomHost: true });
    members = await Promise.all(['m1.test', 'm2.test', 'm3.test'].map((name) => fileNodes.fakePeer(name)));
    for (const peer of [friend, ...members]) {
      const added = await alpha.admin('POST', '/peers', { server_name: peer.serverName, endpoint: peer.url });
      expect(added.status, JSON.stringify(added.body)).toBe(200);
    }
  });

  /** ~26 KB charged: bulk beside the body (attachments), so the body's search weight stays small. */
  const bulky = (from: { serverName: string; keyId: string; signHex(m: Buffer): string }, roomId: string, i: number) =>
    makeEvent(from, { room_id: roomId, sender: `@u:${from.serverName}`, depth: nextDepth(), content: { body: `busy ${i}`, attachments: [{ name: 'y'.repeat(20_000) }] } });

  it('events a friend relays are charged to each origin that is our peer, not to the friend; an origin it minted still is', async () => {
    const roomId = '!busy:friend.test';
    expect((await friend.invite(alpha.started.federation_url!, roomId, '@owner:alpha8.test')).status).toBe(200);
    const invite = (await alpha.admin('GET', '/invites')).body.invites.find((i: { room_id: string }) => i.room_id === roomId);
    expect((await alpha.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(200);
    const friendBefore = used(alpha, 'friend.test').day_bytes;

    // Nine events of three members (~230 KB), all relayed by the friend: over its 100 KB a day, within each member's.
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      for (const member of members) {
        const relayed = await sendSigned(friend.identity, alpha.started.federation_url!, 'POST', `${FED}/event`, wire(bulky(member.identity, roomId, i)));
        statuses.push(relayed.status);
      }
    }
    expect(statuses).toEqual(Array(9).fill(202));
    expect((await bodies(alpha, roomId)).filter((b) => b.startsWith('busy '))).toHaveLength(9);
    expect(used(alpha, 'friend.test').day_bytes).toBe(friendBefore);
    for (const member of members) expect(used(alpha, member.serverName).day_bytes).toBeGreaterThan(3 * 20_000);

    // The twin: an origin nobody but the friend vouches for (its key only in the friend's cache) is the friend's cost.
    const minted = friend.mint('minted.friend.test');
    const vouched = await sendSigned(friend.identity, alpha.started.federation_url!, 'POST', `${FED}/event`, wire(bulky(minted, roomId, 99)));
    expect(vouched.status, vouched.text).toBe(202);
    expect(used(alpha, 'friend.test').day_bytes).toBeGreaterThan(friendBefore + 20_000);
    expect(used(alpha, 'minted.friend.test').day_bytes).toBe(0);
  });

  it('past the total nothing is refused; the owner is warned at 80 % of the day, before the daily quota makes it wait', async ({ fileNodes }) => {
    const busy = await fileNodes.fakePeer('busy.test');
    const room = await hostedRoomWith(alpha, [busy]);
    const warnings = async () => ((await alpha.admin('GET', '/status')).body.warnings ?? []) as string[];
    let warnedAt: number | null = null;
    let refused: Awaited<ReturnType<typeof sendSigned>> | null = null;
    const accepted: number[] = [];
    for (let i = 0; i < 40 && !refused; i++) {
      const event = makeEvent(busy.identity, { room_id: room, sender: '@u:busy.test', depth: nextDepth(), content: { body: `chat ${i}`, attachments: [{ name: 'z'.repeat(4_000) }] } });
      const answer = await sendSigned(busy.identity, alpha.started.federation_url!, 'POST', `${FED}/event`, wire(event));
      if (answer.status !== 202) {
        refused = answer;
        break;
      }
      accepted.push(used(alpha, 'busy.test').total_bytes);
      if (warnedAt === null && (await warnings()).some((w) => w.startsWith('busy.test used') && w.includes('of its daily storage quota'))) warnedAt = i;
    }
    // Well past the total, nothing was refused for it: only the growth of the day is limited.
    expect(accepted.at(-1)!).toBeGreaterThan(TOTAL);
    expect(refused, 'the daily quota refuses at last').not.toBeNull();
    expect(refused!.status, refused!.text).toBe(429);
    expect(refused!.body).toMatchObject({ error: 'quota_exceeded' });
    expect(Number(refused!.headers['retry-after'])).toBeGreaterThan(0);
    // The owner heard of it in words before the refusal, and hears of the refusal too.
    expect(warnedAt, 'a warning at 80 % of the daily quota, before any refusal').not.toBeNull();
    expect(warnedAt!).toBeLessThan(accepted.length);
    const now = await warnings();
    expect(now.some((w) => w.startsWith('busy.test reached its daily storage quota') && w.includes('wait until tomorrow'))).toBe(true);
    expect(now.some((w) => w.startsWith("busy.test's events take") && w.includes('nothing is refused'))).toBe(true);
    // The room itself goes on: the owner talks, and the members' messages are all there.
    expect((await alpha.admin('POST', `/rooms/${enc(room)}/messages`, { body: 'still here' })).status).toBe(200);
    expect((await bodies(alpha, room)).filter((b) => b.startsWith('chat '))).toHaveLength(accepted.length);
  });
});
