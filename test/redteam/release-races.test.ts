/**
 * Red team: a release of a quarantined server's held events reads them once and then stores them
 * one by one, each awaiting its commit, so the owner (or another release) can act between two of
 * them. Replayed against a real node with a real host relaying a quarantined server's events:
 * - a purge while a long release runs: before, the release still stored every event the owner had
 *   just purged (and the purge gave their bytes back to the quota although they were stored);
 * - two releases of one server at once: before, both stored each event and the second gave its
 *   bytes back to the quota (a stored event no longer counted);
 * - a quarantine set again while its end's own release runs: before, that release applied the rest
 *   although the owner had just decided to hold that server's events again.
 * Each row is now taken out of the quarantine in the transaction that stores its event
 * (trust/quarantine-release.ts), and an end's release goes on only while the end stands.
 */
import { beforeAll, describe, expect, it } from '../helpers/fixtures.ts';
import type { Envelope } from '../../main/core/federation/envelope.ts';
import { canonicalJson } from '../../main/core/crypto/canonical-json.ts';
import { chargedBytes } from '../../main/core/trust/storage-quota.ts';
import { makeEvent, wire } from '../helpers/events.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import type { startInProcessNode } from '../helpers/in-process-node.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';
import { eventually } from '../helpers/rooms.ts';
import { sendSigned } from '../helpers/signed-request.ts';

const FED = '/_paracord/federation/v1';

type Node = Awaited<ReturnType<typeof startInProcessNode>>;
let alpha: Node;
let host: FakePeer;
/** Quarantined by alpha's owner: its users' messages reach alpha relayed by the room's host. */
let quarantined: FakePeer;

const heldCount = () => queryNodeDb<{ n: number }>(alpha.dataDir, "SELECT COUNT(*) AS n FROM quarantined_events WHERE origin = 'q.test'")[0]!.n;
const storedOf = (events: readonly Envelope[]) => {
  const ids = new Set(events.map((e) => e.event_id));
  return queryNodeDb<{ event_id: string }>(alpha.dataDir, "SELECT event_id FROM federation_events WHERE origin_server = 'q.test'").filter((r) => ids.has(r.event_id)).length;
};
/** What the quota counts for every server: a stored or held event's bytes, once. */
const charged = () => queryNodeDb<{ b: number }>(alpha.dataDir, 'SELECT COALESCE(SUM(total_bytes), 0) AS b FROM peer_storage')[0]!.b;
const chargeOf = (events: readonly Envelope[]) => events.reduce((sum, e) => sum + chargedBytes(e, Buffer.byteLength(canonicalJson(e.content))), 0);

async function joinRoom(roomId: string): Promise<void> {
  host.snapshotEvents = () => [];
  expect((await host.invite(alpha.started.federation_url!, roomId, '@owner:alpha.test')).status).toBe(200);
  const invite = (await alpha.admin('GET', '/invites')).body.invites.find((i: { room_id: string }) => i.room_id === roomId);
  const accepted = await alpha.admin('POST', `/invites/${invite.invite_id}/accept`);
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
}

/** `count` messages of q.test's user in the host's room, relayed by the host in batches of 100: all held. */
async function held(roomId: string, count: number, label: string): Promise<Envelope[]> {
  const depth = Date.now();
  const events = Array.from({ length: count }, (_, i) =>
    makeEvent(quarantined.identity, { room_id: roomId, sender: '@u:q.test', content: { body: `${label} ${i}`, format: 'plain' }, depth: depth + i }));
  for (let start = 0; start < count; start += 100) {
    const answer = await sendSigned(host.identity, alpha.started.federation_url!, 'POST', `${FED}/events`, `{"events":[${events.slice(start, start + 100).map(wire).join(',')}]}`);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.results.filter((r: { held?: boolean }) => r.held !== true)).toEqual([]);
  }
  expect(heldCount()).toBe(count);
  return events;
}

/** Waits until `read` gives the same value twice 600 ms apart, and returns it. */
async function settled(read: () => number): Promise<number> {
  let last = read();
  for (;;) {
    await new Promise((r) => setTimeout(r, 600));
    const now = read();
    if (now === last) return now;
    last = now;
  }
}

beforeAll(async ({ fileNodes }) => {
  host = await fileNodes.fakePeer('hh.test', { roomHost: true });
  quarantined = await fileNodes.fakePeer('q.test');
  alpha = await fileNodes.inProcess('alpha.test');
  for (const peer of [host, quarantined]) {
    const added = await alpha.admin('POST', '/peers', { server_name: peer.serverName, endpoint: peer.url });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
  }
});

describe('red team: what happens between two events of a release', () => {
  it('a purge while a long release runs: what it purged is never stored, and the quota counts exactly what is', async () => {
    expect((await alpha.admin('PUT', '/peers/q.test/trust', { mode: 'quarantine', reason: 'checking' })).status).toBe(200);
    const roomId = '!purged:hh.test';
    await joinRoom(roomId);
    const before = charged();
    const events = await held(roomId, 1_500, 'purged mid-release');
    expect(charged() - before).toBe(chargeOf(events));

    const releasing = alpha.admin('POST', '/quarantine/q.test/release');
    await eventually(async () => expect(storedOf(events)).toBeGreaterThan(0), 30_000, 10);
    const purge = await alpha.admin('POST', '/quarantine/q.test/purge');
    expect(purge.status, JSON.stringify(purge.body)).toBe(200);
    const release = await releasing;
    expect(release.status, JSON.stringify(release.body)).toBe(200);

    // The purge came mid-release (the test means nothing otherwise).
    expect(purge.body.purged).toBeGreaterThan(0);
    expect(purge.body.purged).toBeLessThan(1_500);
    const stored = storedOf(events);
    // Each event either stored by the release or purged, never both: before, all 1,500 were stored.
    expect(release.body).toEqual({ released: stored, rejected: [], kept: 0 });
    expect(stored + purge.body.purged).toBe(1_500);
    expect(heldCount()).toBe(0);
    // The quota counts the stored events, and no purged one.
    const storedEvents = events.filter((e) => queryNodeDb(alpha.dataDir, 'SELECT 1 FROM federation_events WHERE event_id = ?', e.event_id).length === 1);
    expect(charged() - before).toBe(chargeOf(storedEvents));
  });

  it('two releases of one server at once store each event once, and the quota still counts each', async () => {
    const roomId = '!twice:hh.test';
    await joinRoom(roomId);
    const before = charged();
    const events = await held(roomId, 300, 'released twice');
    const [first, second] = await Promise.all([alpha.admin('POST', '/quarantine/q.test/release'), alpha.admin('POST', '/quarantine/q.test/release')]);
    expect(first!.status, JSON.stringify(first!.body)).toBe(200);
    // The second asked while the first ran (its answer after the first's end would be 409 nothing_held).
    expect(second!.status, JSON.stringify(second!.body)).toBe(200);
    // Between them, every event once: before, each release counted all 300.
    expect(first!.body.released + second!.body.released).toBe(300);
    expect(storedOf(events)).toBe(300);
    expect(heldCount()).toBe(0);
    expect(charged() - before).toBe(chargeOf(events));
  });

  it('quarantined again while its end\'s own release runs: the rest stays held for the owner', async () => {
    const roomId = '!again:hh.test';
    await joinRoom(roomId);
    const events = await held(roomId, 1_500, 'held past an end');
    expect((await alpha.admin('PUT', '/peers/q.test/trust', { mode: 'quarantine', reason: 'checking', until_ms: Date.now() + 200 })).status).toBe(200);
    // The end comes and its release starts; the owner quarantines the server again.
    await eventually(async () => expect(storedOf(events)).toBeGreaterThan(0), 30_000, 10);
    expect((await alpha.admin('PUT', '/peers/q.test/trust', { mode: 'quarantine', reason: 'not so fast' })).status).toBe(200);

    const stored = await settled(() => storedOf(events));
    // Before, the end's release went on to store all 1,500.
    expect(stored).toBeLessThan(1_500);
    // Each event is stored or held, never both or neither (its row leaves in its insert's transaction).
    await eventually(async () => expect(storedOf(events) + heldCount()).toBe(1_500));
    const left = heldCount();
    expect(left).toBeGreaterThan(0);
    const peer = (await alpha.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'q.test');
    expect(peer).toMatchObject({ trust: 'quarantine', reason: 'not so fast' });

    // What is held now is the owner's to release, in order.
    const release = await alpha.admin('POST', '/quarantine/q.test/release');
    expect(release.body).toEqual({ released: left, rejected: [], kept: 0 });
    expect(storedOf(events)).toBe(1_500);
  });
});
