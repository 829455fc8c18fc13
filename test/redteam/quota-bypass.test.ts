/**
 * Red team (issue #14 item 5 class: "one limit layer"). The per-peer storage quota is charged to
 * the ORIGIN of an event, and only on the ingest.store path. A hostile room host therefore gets
 * around it two ways, both through the real HTTP listener:
 *   A. the join snapshot: events in the answer to POST /join are inserted without being charged;
 *   B. invented origins: the host relays events signed by identities it minted itself (their
 *      self-signed keys come from its own /keys/cache), each with a fresh quota of its own.
 * Secure outcome: everything a peer makes us store is counted against a quota it cannot multiply.
 * Fixed (docs/SECURITY.md item 5, 5b): snapshots go through the ingest chain's charge; an event is
 * charged to its origin only when that origin is a peer of ours, else to the server that delivered
 * it (so minted origins share the host's quota); and one host's relayed origins are bounded (item 8).
 */
import { beforeAll, describe, expect, it } from '../helpers/fixtures.ts';
import { makeEvent, wire } from '../helpers/events.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import { startInProcessNode } from '../helpers/in-process-node.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';
import { sendSigned } from '../helpers/signed-request.ts';

const FED = '/_paracord/federation/v1';
const DAY_QUOTA = 60_000;
const MAX_RELAYED = 3;
const pad = (n: number) => Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`pad${i}`, 'y'.repeat(n)]));
const bulky = () => ({ body: 'x'.repeat(3_900), format: 'plain', ...pad(4_500) }); // ~49 KB, under the 64 KiB cap

type Node = Awaited<ReturnType<typeof startInProcessNode>>;
let alpha: Node;
let host: FakePeer;

/** Bytes the quota would charge for what `server` made alpha store (content + 512 per event). */
const storedFrom = (column: 'origin_server' | 'received_from', server: string) =>
  queryNodeDb<{ b: number | null }>(alpha.dataDir, `SELECT SUM(length(CAST(content AS BLOB)) + 512) AS b FROM federation_events WHERE ${column} = ?`, server)[0]!.b ?? 0;

async function joinHostRoom(roomId: string, by: FakePeer = host): Promise<void> {
  expect((await by.invite(alpha.started.federation_url!, roomId, '@owner:alpha.test')).status).toBe(200);
  const invite = (await alpha.admin('GET', '/invites')).body.invites.find((i: any) => i.room_id === roomId);
  const accepted = await alpha.admin('POST', `/invites/${invite.invite_id}/accept`);
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
}

beforeAll(async ({ fileNodes }) => {
  host = await fileNodes.fakePeer('hh.test', { roomHost: true });
  alpha = await fileNodes.inProcess('alpha.test', { config: { peerQuotaBytesPerDay: DAY_QUOTA, peerQuotaTotalBytes: 10 * DAY_QUOTA, maxRelayedOriginsPerHost: MAX_RELAYED } });
  expect((await alpha.admin('POST', '/peers', { server_name: 'hh.test', endpoint: host.url })).status).toBe(200);
});


describe('red team: per-peer storage quota', () => {
  it('A. events in a join snapshot are charged to the host like any other (no quota-free 1000-event dump)', async () => {
    const roomId = '!snap:hh.test';
    host.snapshotEvents = (room) => Array.from({ length: 12 }, () => makeEvent(host.identity, { room_id: room, content: bulky() }));
    await joinHostRoom(roomId);
    const stored = storedFrom('origin_server', 'hh.test');
    const counted = queryNodeDb<{ b: number }>(alpha.dataDir, 'SELECT COALESCE(SUM(day_bytes), 0) AS b FROM peer_storage WHERE server_name = ?', 'hh.test')[0]!.b;
    // ~600 KB stored from hh.test against a 60 KB daily quota, and the counter says (almost) nothing.
    expect(stored, `stored ${stored} B from hh.test, quota counter ${counted} B`).toBeLessThanOrEqual(DAY_QUOTA + 70_000);
    expect(counted).toBeGreaterThanOrEqual(stored - 70_000);
  });

  it('B. a host cannot multiply its quota by relaying events of origins it minted itself', async () => {
    const roomId = '!mint:hh.test';
    host.snapshotEvents = () => [];
    await joinHostRoom(roomId);
    const before = storedFrom('received_from', 'hh.test');
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const name = `m${i}.hh-minted.test`;
      const minted = host.mint(name);
      const event = makeEvent(minted, { room_id: roomId, sender: `@u:${name}`, content: bulky() });
      const answer = await sendSigned(host.identity, alpha.started.federation_url!, 'POST', `${FED}/event`, wire(event));
      statuses.push(answer.status);
    }
    const relayed = storedFrom('received_from', 'hh.test') - before;
    // One peer made us store ~500 KB in a minute against a 60 KB daily quota.
    expect(relayed, `statuses ${statuses.join(',')}; stored ${relayed} B relayed by hh.test`).toBeLessThanOrEqual(DAY_QUOTA + 70_000);
    expect(statuses.some((s) => s === 429 || s === 413)).toBe(true);
    const keyRows = queryNodeDb<{ n: number }>(alpha.dataDir,
      "SELECT (SELECT COUNT(*) FROM federation_server_keys WHERE server_name LIKE '%.hh-minted.test') + (SELECT COUNT(*) FROM federation_relayed_keys WHERE server_name LIKE '%.hh-minted.test') AS n")[0]!.n;
    expect(keyRows, 'key rows stored for minted origins').toBeLessThanOrEqual(10);
  });

  it(`C. one host can make us look up keys of at most ${MAX_RELAYED} servers it relays (403 too_many_relayed_origins)`, async ({ nodes }) => {
    const other = await nodes.fakePeer('hh2.test', { roomHost: true });
    expect((await alpha.admin('POST', '/peers', { server_name: 'hh2.test', endpoint: other.url })).status).toBe(200);
    const roomId = '!c:hh2.test';
    await joinHostRoom(roomId, other);
    const send = (name: string, body: string) => {
      const minted = other.minted.get(name) ?? other.mint(name);
      return sendSigned(other.identity, alpha.started.federation_url!, 'POST', `${FED}/event`, wire(makeEvent(minted, { room_id: roomId, sender: `@u:${name}`, content: { body, format: 'plain' } })));
    };
    const answers = [];
    for (let i = 0; i <= MAX_RELAYED; i++) answers.push(await send(`c${i}.hh2-minted.test`, 'hi'));
    expect(answers.slice(0, MAX_RELAYED).map((a) => a.status)).toEqual(Array(MAX_RELAYED).fill(202));
    const over = answers[MAX_RELAYED]!;
    expect(over.status, JSON.stringify(over.body)).toBe(403);
    expect(over.body.error).toBe('too_many_relayed_origins');
    const origins = queryNodeDb<{ n: number }>(alpha.dataDir, 'SELECT COUNT(DISTINCT server_name) AS n FROM federation_relayed_keys WHERE relayed_by = ?', 'hh2.test')[0]!.n;
    expect(origins).toBe(MAX_RELAYED);
    // The origins already learnt go on.
    expect((await send('c0.hh2-minted.test', 'again')).status).toBe(202);
    // Under the open policy (the origin itself would be contacted) the bound holds before any contact.
    expect((await alpha.admin('PUT', '/policy', { default: 'open' })).status).toBe(200);
    try {
      const open = await send('open.hh2-minted.test', 'hi');
      expect(open.status, JSON.stringify(open.body)).toBe(403);
      expect(open.body.error).toBe('too_many_relayed_origins');
    } finally {
      expect((await alpha.admin('PUT', '/policy', { default: 'allowlist' })).status).toBe(200);
    }
    const introduced = queryNodeDb<{ n: number }>(alpha.dataDir, 'SELECT COUNT(*) AS n FROM federation_relayed_origins WHERE relayed_by = ?', 'hh2.test')[0]!.n;
    expect(introduced).toBe(MAX_RELAYED);
  });
});
