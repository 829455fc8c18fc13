/**
 * Red team (the class of issue #14 item 15: a loop a peer can spin), found 2026-11-26: a node
 * pulling from a peer (pull mode, mailbox fetches) asked for the next page as soon as an empty
 * one came back. An honest peer holds an empty answer until something comes (25 s); a peer that
 * answers at once got a signed request, a signature and a database write as fast as the network
 * allowed, for as long as it liked. Variants tried since: a cursor that moves (the page asked
 * ahead let two asks through each gap), pages of one event it refuses, errors and empty pages in
 * turn (the first retry after an error came at once).
 * Now: after a page that brought nothing new, or a failure, the next ask waits until
 * MIN_EMPTY_PAGE_GAP_MS (500 ms) after the last one was made; an honest long poll is never slowed
 * (its answer comes later than that), nor a page that brought something.
 */
import { expect, it, type InProcessNode, type Nodes } from '../helpers/fixtures.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import { EVENT_PATH, EVENTS_PATH, JOIN_PATH, MAILBOX_PATH, PULL_PATH } from '../../main/core/federation/paths.ts';
import { MEMBERSHIP_WIRE_ORDER, wireJson } from '../../main/core/federation/wire-json.ts';
import { sendSigned } from '../helpers/signed-request.ts';
import { signRequestHeaders } from '../../main/core/federation/request-signature.ts';
import { MIN_EMPTY_PAGE_GAP_MS } from '../../main/core/federation/signed-page-loop.ts';
import { envelopeWireJson } from '../../main/core/federation/envelope.ts';
import { makeEvent } from '../helpers/events.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';
import { eventually } from '../helpers/rooms.ts';
import { pacedFromNow } from '../helpers/paced.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let moved = 0;
let turn = 0;
/** A carried request signed in 1970 (and not by its key): refused here, for good. */
const refusedItem = () => ({ id: String(++moved), from: 'eager.test', path: EVENTS_PATH, key_id: 'ed25519:a', timestamp: '1', signature: moved.toString(16).padStart(128, '0'), body: '{"events":[]}' });
const answers: Array<[string, string, () => { status: number; body: unknown }]> = [
  ['pull', 'empty pages with the same cursor', () => ({ status: 200, body: { events: [], cursor: '0' } })],
  ['pull', 'empty pages with a cursor that moves', () => ({ status: 200, body: { events: [], cursor: String(++moved) } })],
  ['pull', 'pages of one event it refuses, with a cursor that moves', () => ({ status: 200, body: { events: [{ not: 'an event' }], cursor: String(++moved) } })],
  ['pull', 'an error and an empty page in turn', () => (++turn % 2 === 0 ? { status: 500, body: { error: 'internal_error', message: 'no' } } : { status: 200, body: { events: [], cursor: '0' } })],
  ['mailbox', 'pages of one request it refuses, with a cursor that moves', () => ({ status: 200, body: { items: [refusedItem()], cursor: String(moved) } })],
];

it.for(answers)('%s: a peer answering at once with %s is asked about twice a second, never twice in a gap', async ([source, , answer], { nodes }) => {
  const eager = await nodes.fakePeer('eager.test');
  const asks: number[] = [];
  eager.routes.set(source === 'pull' ? PULL_PATH : MAILBOX_PATH, () => {
    asks.push(performance.now());
    return answer();
  });
  const alpha = await nodes.inProcess('alpha.test', { config: { pull: true } });
  expect((await alpha.admin('POST', '/peers', { server_name: 'eager.test', endpoint: eager.url })).status).toBe(200);
  // Pulling has begun…
  for (let i = 0; i < 100 && asks.length === 0; i++) await sleep(50);
  expect(asks.length).toBeGreaterThan(0);
  // …and over three seconds it asks about once per gap (the bound follows the time that really
  // passed: a busy machine sleeps longer than asked; +2 for the asks at both ends).
  const from = asks.length;
  const started = performance.now();
  await sleep(3_000);
  const elapsed = performance.now() - started;
  const during = asks.slice(from);
  expect(during.length).toBeGreaterThan(0);
  // A gap counts from 0.8 of it, as in pacedFromNow (helpers/paced.ts): an ask is stamped when it arrives.
  expect(during.length).toBeLessThanOrEqual(Math.floor(elapsed / (MIN_EMPTY_PAGE_GAP_MS * 0.8)) + 2);
  // No two asks closer than half a gap (the defects made pairs a few ms apart). The peer stamps an
  // ask when it arrives, in this busy process: one stamped late reads closer to the next (397 ms
  // against 500 with four other files running, 2026-11-29).
  const gaps = asks.slice(from - 1).slice(1).map((at, i) => at - asks[from - 1 + i]!);
  expect(Math.min(...gaps)).toBeGreaterThan(MIN_EMPTY_PAGE_GAP_MS * 0.5);
});

/** A node pulling from a fake room host whose room its owner joined; `asks`: the host's pull pages asked. */
async function pullingFromHost(nodes: Nodes, hostName: string): Promise<{ host: FakePeer; alpha: InProcessNode; roomId: string; asks: number[] }> {
  const host = await nodes.fakePeer(hostName, { roomHost: true });
  const alpha = await nodes.inProcess('alpha.test', { config: { pull: true } });
  expect((await alpha.admin('POST', '/peers', { server_name: hostName, endpoint: host.url })).status).toBe(200);
  const roomId = `!room:${hostName}`;
  expect((await host.invite(alpha.started.federation_url!, roomId, '@owner:alpha.test')).status).toBe(200);
  const invite = (await alpha.admin('GET', '/invites')).body.invites.find((i: { room_id: string }) => i.room_id === roomId);
  expect((await alpha.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(200);
  return { host, alpha, roomId, asks: [] };
}

it('pull: a host answering at once, again and again, a copy of its event held in quarantine here (cursor moving) is paced as a page that brought nothing', async ({ nodes }) => {
  // Found 2026-11-27 (stop 54's note): a copy of a held event was counted as new, so each such
  // page had the next one asked at once (2,180 asks in 3 s).
  const { host, alpha, roomId, asks } = await pullingFromHost(nodes, 'held.test');
  expect((await alpha.admin('PUT', '/peers/held.test/trust', { mode: 'quarantine', reason: 'red team' })).status).toBe(200);
  const same = JSON.parse(envelopeWireJson(makeEvent(host.identity, { room_id: roomId })));
  host.routes.set(PULL_PATH, () => {
    asks.push(performance.now());
    return { status: 200, body: { events: [same], cursor: String(++moved) } };
  });
  await eventually(async () => expect(queryNodeDb<{ n: number }>(alpha.dataDir, 'SELECT COUNT(*) AS n FROM quarantined_events WHERE event_id = ?', same.event_id)[0]!.n).toBe(1));
  await pacedFromNow(asks);
});

it('pull: a host answering at once pages of one new event among nine it makes us refuse (cursor moving) is paced: most of a page must be new', async ({ nodes }) => {
  // A helper's review, 2026-11-27: one new event made the page fruitful whatever came with it.
  const { host, alpha, roomId, asks } = await pullingFromHost(nodes, 'mixed.test');
  let depth = 10;
  host.routes.set(PULL_PATH, () => {
    asks.push(performance.now());
    const fresh = JSON.parse(envelopeWireJson(makeEvent(host.identity, { room_id: roomId, depth: ++depth })));
    return { status: 200, body: { events: [fresh, ...Array.from({ length: 9 }, () => ({ not: 'an event' }))], cursor: String(++moved) } };
  });
  await eventually(async () => expect(queryNodeDb<{ n: number }>(alpha.dataDir, 'SELECT COUNT(*) AS n FROM federation_events WHERE room_id = ? AND depth > 10', roomId)[0]!.n).toBeGreaterThan(0));
  await pacedFromNow(asks);
});

/** A mailbox page of one request from `from` (a fake peer): signed by it, or under a key id it does not serve. */
function carriedItem(from: FakePeer, path: string, body: string, keyId?: string) {
  const at = Date.now() + ++moved; // each request its own signature (a replay is refused)
  const headers = signRequestHeaders(from.identity, 'POST', path, body, at, 'alpha.test');
  return { id: String(moved), from: from.serverName, path, key_id: keyId ?? headers['X-Paracord-Key-Id']!, timestamp: String(at), signature: headers['X-Paracord-Signature']!, body };
}

it('mailbox: a peer answering at once pages of one request carrying a copy of an invite taken already (answered 2xx) is paced: a copy is no news', async ({ nodes }) => {
  const eager = await nodes.fakePeer('copies.test', { roomHost: true });
  const alpha = await nodes.inProcess('alpha.test', { config: { pull: true } });
  expect((await alpha.admin('POST', '/peers', { server_name: 'copies.test', endpoint: eager.url })).status).toBe(200);
  const invite = makeEvent(eager.identity, {
    room_id: '!copies:copies.test', event_type: 'm.member.invite', sender: '@owner:copies.test', state_key: '@owner:alpha.test',
    content: { membership: 'invite', expires_at: Date.now() + 3_600_000, room_name: 'copies' },
  });
  const body = envelopeWireJson(invite);
  const asks: number[] = [];
  eager.routes.set(MAILBOX_PATH, () => {
    asks.push(performance.now());
    return { status: 200, body: { items: [carriedItem(eager, EVENT_PATH, body)], cursor: String(moved) } };
  });
  await eventually(async () => expect((await alpha.admin('GET', '/invites')).body.invites.some((i: { room_id: string }) => i.room_id === '!copies:copies.test')).toBe(true));
  await pacedFromNow(asks);
  // Requests it carried for itself are remembered as direct ones are (a minute), not for the mailbox's week.
  expect(queryNodeDb<{ n: number }>(alpha.dataDir, 'SELECT COUNT(*) AS n FROM federation_request_replay WHERE origin = ? AND expires_at > ?', 'copies.test', Date.now() + 86_400_000)[0]!.n).toBe(0);
});

it('mailbox: a peer answering at once pages of one request it signs under a key id it does not serve (kept here, unread) is paced: a kept request is no news', async ({ nodes }) => {
  const eager = await nodes.fakePeer('kept.test');
  const alpha = await nodes.inProcess('alpha.test', { config: { pull: true } });
  expect((await alpha.admin('POST', '/peers', { server_name: 'kept.test', endpoint: eager.url })).status).toBe(200);
  const asks: number[] = [];
  eager.routes.set(MAILBOX_PATH, () => {
    asks.push(performance.now());
    return { status: 200, body: { items: [carriedItem(eager, EVENTS_PATH, '{"events":[]}', 'ed25519:unserved')], cursor: String(moved) } };
  });
  await eventually(async () => expect(queryNodeDb<{ n: number }>(alpha.dataDir, 'SELECT COUNT(*) AS n FROM mailbox_retries WHERE from_server = ?', 'kept.test')[0]!.n).toBeGreaterThan(0));
  await pacedFromNow(asks);
});

it('mailbox: a member server answering at once pages of one request carrying a copy of its join taken already, or a join without an event (answered 200 with the room), is paced: neither is news', async ({ nodes }) => {
  // Stop 55's note: a join answered 2xx counted as new whatever it stored, so pages of copies of
  // a join (each with the room's snapshot for an answer) were asked for as fast as they came.
  const joiner = await nodes.fakePeer('joiner.test');
  // Its mailbox serves empty pages (an honest one holds them; this one answers at once, paced) until it has joined.
  let joined = false;
  let body = '';
  let eventless = '';
  const asks: number[] = [];
  joiner.routes.set(MAILBOX_PATH, () => {
    asks.push(performance.now());
    // Copies of its join, and joins without an event (a snapshot each, storing nothing), in turn.
    return { status: 200, body: { items: joined ? [carriedItem(joiner, JOIN_PATH, moved % 2 === 0 ? body : eventless)] : [], cursor: String(++moved) } };
  });
  const alpha = await nodes.inProcess('alpha.test', { config: { pull: true } });
  expect((await alpha.admin('POST', '/peers', { server_name: 'joiner.test', endpoint: joiner.url })).status).toBe(200);
  const roomId = (await alpha.admin('POST', '/rooms', { name: 'joined' })).body.room_id as string;
  expect((await alpha.admin('POST', `/rooms/${encodeURIComponent(roomId)}/invites`, { user_id: '@u:joiner.test' })).status).toBe(200);
  const joinEvent = makeEvent(joiner.identity, { room_id: roomId, event_type: 'm.member.join', sender: '@u:joiner.test', state_key: '@u:joiner.test', content: { membership: 'join' }, depth: Date.now() + 1_000 });
  body = wireJson({ origin_server: 'joiner.test', room_id: roomId, user_id: '@u:joiner.test', event: joinEvent }, MEMBERSHIP_WIRE_ORDER);
  eventless = wireJson({ origin_server: 'joiner.test', room_id: roomId, user_id: '@u:joiner.test' }, MEMBERSHIP_WIRE_ORDER);
  const first = await sendSigned(joiner.identity, alpha.started.federation_url!, 'POST', JOIN_PATH, body);
  expect([first.status, first.body.inserted]).toEqual([200, true]);
  joined = true;
  const from = asks.length;
  await eventually(async () => expect(asks.length - from).toBeGreaterThan(2));
  await pacedFromNow(asks);
});
