/**
 * A host restored from a backup gets back its own events from its rooms' members
 * (docs/PROTOCOL.md §Recovering a restored host's own events). Real nodes in this process, real
 * SQLite files, a real backup and restore: alpha hosts a room beta joined; alpha is backed up, its
 * owner and a member of alpha (Sam) go on talking (beta gets it all), alpha's box dies and is
 * restored from the backup at the same address with the same key: what Sam and the owner said
 * after the backup comes back from beta, in order, and the room goes on both ways.
 *
 * Then the attacks: a member serving as alpha's an event of another origin, one signed outside the
 * window, a forged one, one of another room — refused, nothing of them stored (an honest event
 * served beside them is taken); a member that does not advertise own_events is not asked; the
 * member-side route answers only the room's host (403) and refuses bad queries (400).
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, type InProcessNode, type Nodes } from './helpers/fixtures.ts';
import { createBackup } from '../main/core/backup/create.ts';
import type { NodeConfig } from '../main/core/config.ts';
import { restoreBackup } from '../main/core/backup/restore.ts';
import { Identity } from '../main/core/identity/identity.ts';
import { OWN_EVENTS_CAPABILITY, OWN_EVENTS_PATH } from '../main/core/federation/paths.ts';
import type { Envelope } from '../main/core/federation/envelope.ts';
import { makeEvent } from './helpers/events.ts';
import type { FakePeer } from './helpers/fake-peer.ts';
import { joinFakePeer } from './helpers/fake-members.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { cookieOf, memberRequest } from './helpers/member-client.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { adminApi } from './helpers/admin-api.ts';
import { enc, eventually, inviteAndJoin, messages, send } from './helpers/rooms.ts';
import { sendSigned } from './helpers/signed-request.ts';
import { tempDir } from './helpers/temp-dir.ts';

const ALPHA = 'alpha.test';
const BETA = 'beta.test';
const OWNER = `@owner:${ALPHA}`;
const SAM = `@sam:${ALPHA}`;
const CONFIG: { config: Partial<NodeConfig>; graceMs: number } = { config: { retryInitialMs: 100, retryMaxMs: 400 }, graceMs: 1_000 };

const asHost = (n: InProcessNode) => ({ admin: n.admin, federationUrl: n.started.federation_url! }) as unknown as NodeProcess;
const storedIds = (node: InProcessNode, ids: string[]) =>
  queryNodeDb<{ event_id: string }>(node.dataDir, `SELECT event_id FROM federation_events WHERE event_id IN (${ids.map(() => '?').join(',')})`, ...ids).map((r) => r.event_id);
const mark = (node: InProcessNode) => queryNodeDb<{ value: string }>(node.dataDir, "SELECT value FROM settings WHERE key = 'restored_own_events'")[0]?.value ?? null;

/** Backs up the node's data folder (while it runs) into a new file. */
async function backUp(node: InProcessNode): Promise<string> {
  const out = join(tempDir('own-events-backup-'), 'alpha.pcbak');
  await createBackup({ dataDir: node.dataDir, out });
  return out;
}

/** Stops `node` (its box dies), restores `backup` into a new folder and starts it there at the same address. */
async function restoreAndStart(nodes: Nodes, node: InProcessNode, backup: string, config = CONFIG, prepare?: (dataDir: string) => void): Promise<InProcessNode> {
  const port = await stopNode(nodes, node);
  const fresh = join(tempDir('own-events-restored-'), 'alpha');
  restoreBackup({ dataDir: fresh, input: backup, passphrase: null });
  expect(mark({ dataDir: fresh } as InProcessNode)).toMatch(/"since":\d+/);
  prepare?.(fresh);
  return nodes.inProcess(ALPHA, { ...config, dataDir: fresh, listen: `127.0.0.1:${port}` });
}

/** Stops an in-process node of `nodes` (its box goes away); the set no longer stops it. */
async function stopNode(nodes: Nodes, node: InProcessNode): Promise<string> {
  const port = new URL(node.started.federation_url!).port;
  nodes.inProcessNodes.splice(nodes.inProcessNodes.indexOf(node), 1);
  await node.node.stop(1_000);
  return port;
}

async function peer(a: InProcessNode, b: InProcessNode, bName: string): Promise<void> {
  const added = await a.admin('POST', '/peers', { server_name: bName, endpoint: b.started.federation_url });
  expect(added.status, JSON.stringify(added.body)).toBe(200);
}

/** Sam becomes a member of alpha by link. */
async function addSam(alpha: InProcessNode): Promise<void> {
  const link = await alpha.admin('POST', '/members/invites', { note: 'for Sam' });
  expect(link.status).toBe(200);
  const token = (link.body.link as string).split('/').pop()!;
  const joined = await memberRequest(alpha.started.federation_url!, 'POST', '/join', { body: { token, localpart: 'sam', passphrase: 'lantern orbit pickle seventeen' } });
  expect(joined.status, JSON.stringify(joined.body)).toBe(200);
  expect(cookieOf(joined)).toBeDefined();
}

/** Alpha (with Sam, when asked) hosts a room named `name` that beta's owner joined. */
async function alphaBetaRoom(nodes: Nodes, name: string, withSam = false) {
  const alpha = await nodes.inProcess(ALPHA, CONFIG);
  const beta = await nodes.inProcess(BETA, CONFIG);
  await peer(alpha, beta, BETA);
  await peer(beta, alpha, ALPHA);
  if (withSam) await addSam(alpha);
  const roomId = (await alpha.admin('POST', '/rooms', { name })).body.room_id as string;
  await inviteAndJoin(alpha, roomId, beta, `@owner:${BETA}`);
  return { alpha, beta, roomId };
}

/**
 * Alpha hosts a room beta joined; alpha is backed up, then sends `bodies` as its owner, which
 * reach beta: the nodes, the room, the backup and the ids sent after it.
 */
async function backedUpWithMessages(nodes: Nodes, bodies: string[]) {
  const { alpha, beta, roomId } = await alphaBetaRoom(nodes, 'kept by beta');
  const backup = await backUp(alpha);
  const after: string[] = [];
  for (const body of bodies) after.push(await send(alpha, roomId, body));
  await eventually(async () => expect((await messages(beta, roomId)).map((m) => m.event_id)).toEqual(expect.arrayContaining(after)));
  return { alpha, beta, roomId, backup, after };
}

const bodies = (list: Array<{ body?: string }>) => list.map((m) => m.body);
const ownEventsCalls = (peer: FakePeer) => peer.calls.filter((c) => c.startsWith(`GET ${OWN_EVENTS_PATH}?`)).length;

/** The envelope of an event as `node` stored it (what a member that got it holds). */
function storedEnvelope(node: InProcessNode, eventId: string): Envelope {
  const row = queryNodeDb<Record<string, any>>(node.dataDir, 'SELECT * FROM federation_events WHERE event_id = ?', eventId)[0]!;
  return {
    event_id: row.event_id, room_id: row.room_id, event_type: row.event_type, sender: row.sender, origin_server: row.origin_server,
    origin_ts: row.origin_ts, depth: row.signed_depth ?? row.depth, state_key: row.state_key, content: JSON.parse(row.content), signatures: JSON.parse(row.signatures),
  };
}

describe('a host restored from a backup', () => {
  it('gets back from its member the messages its owner and members sent after the backup, in order, and the room goes on', async ({ nodes }) => {
    const set = await alphaBetaRoom(nodes, 'kept', true);
    let { alpha } = set;
    const { beta, roomId } = set;
    await inviteAndJoin(alpha, roomId, alpha, SAM);
    await send(alpha, roomId, 'before the backup');
    await eventually(async () => expect(bodies(await messages(beta, roomId))).toContain('before the backup'));

    const backup = await backUp(alpha);
    const after: string[] = [];
    for (const [i, sender] of [OWNER, SAM, OWNER, SAM, OWNER].entries()) after.push(await send(alpha, roomId, `after the backup ${i}`, sender));
    await eventually(async () => expect((await messages(beta, roomId)).map((m) => m.event_id)).toEqual(expect.arrayContaining(after)));
    const betaView = await messages(beta, roomId);

    alpha = await restoreAndStart(nodes, alpha, backup);
    // Back, in beta's order, with their senders, and nothing else.
    await eventually(async () => {
      const view = await messages(alpha, roomId);
      expect(view.map((m) => [m.event_id, m.sender, m.body])).toEqual(betaView.map((m) => [m.event_id, m.sender, m.body]));
    }, 30_000);
    // Every member answered complete: the restored mark is cleared.
    await eventually(async () => expect(mark(alpha)).toBe(''));

    // The room goes on, both ways.
    const fromAlpha = await send(alpha, roomId, 'alpha, restored', SAM);
    await eventually(async () => expect((await messages(beta, roomId)).map((m) => m.event_id)).toContain(fromAlpha));
    const fromBeta = await send(beta, roomId, 'welcome back', `@owner:${BETA}`);
    await eventually(async () => expect((await messages(alpha, roomId)).map((m) => m.event_id)).toContain(fromBeta));
    const last = (await messages(alpha, roomId)).slice(-2).map((m) => m.body);
    expect(last).toEqual(['alpha, restored', 'welcome back']);

    // The member side: only the room's host is served; bad queries are refused.
    const alphaId = Identity.load(join(alpha.dataDir, 'identity.json'));
    const betaUrl = beta.started.federation_url!;
    const served = await sendSigned(alphaId, betaUrl, 'GET', `${OWN_EVENTS_PATH}?room_id=${enc(roomId)}&since_depth=0&limit=200`);
    expect(served.status, served.text).toBe(200);
    expect(served.body.complete).toBe(true);
    expect((served.body.events as Envelope[]).every((e) => e.origin_server === ALPHA)).toBe(true);
    expect((served.body.events as Envelope[]).map((e) => e.event_id)).toEqual(expect.arrayContaining(after));
    const carol = await nodes.fakePeer('carol.test');
    await peer(beta, { started: { federation_url: carol.url } } as InProcessNode, 'carol.test');
    const notHost = await sendSigned(carol.identity, betaUrl, 'GET', `${OWN_EVENTS_PATH}?room_id=${enc(roomId)}&since_depth=0&limit=10`);
    expect(notHost.status, notHost.text).toBe(403);
    expect(notHost.body.error).toBe('not_room_host');
    expect(notHost.text).not.toContain('after the backup');
    for (const query of [`room_id=${enc(roomId)}&limit=0`, `room_id=${enc(roomId)}&limit=201`, 'room_id=lobby', `room_id=${enc(roomId)}&since_depth=-1`, `room_id=${enc(roomId)}&since_event_id=nope`, `room_id=${enc(roomId)}&extra=1`, 'limit=10']) {
      const bad = await sendSigned(alphaId, betaUrl, 'GET', `${OWN_EVENTS_PATH}?${query}`);
      expect(bad.status, `${query}: ${bad.text}`).toBe(400);
    }
  }, 120_000);

  it('asks again, with back-off, a member that was away when it started, and clears its mark only once it answered', async ({ nodes }) => {
    const backedUp = await backedUpWithMessages(nodes, ['after the backup, one', 'after the backup, two']);
    let { alpha } = backedUp;
    const { beta, roomId, backup, after } = backedUp;

    const betaPort = await stopNode(nodes, beta);
    alpha = await restoreAndStart(nodes, alpha, backup, { ...CONFIG, config: { ...CONFIG.config, ownEventsRetryMs: 300 } });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(storedIds(alpha, after)).toEqual([]);
    expect(mark(alpha)).toMatch(/"first_try_at":\d+/);

    await nodes.inProcess(BETA, { ...CONFIG, dataDir: beta.dataDir, listen: `127.0.0.1:${betaPort}` });
    await eventually(async () => expect(storedIds(alpha, after).sort()).toEqual([...after].sort()), 30_000);
    await eventually(async () => expect(mark(alpha)).toBe(''));
    expect(bodies(await messages(alpha, roomId)).slice(-2)).toEqual(['after the backup, one', 'after the backup, two']);
  }, 120_000);

  it('gives up a day after its first try: the mark is cleared though a member never answered', async ({ nodes }) => {
    const backedUp = await backedUpWithMessages(nodes, ['only beta keeps this']);
    let { alpha } = backedUp;
    const { beta, backup, after } = backedUp;
    await stopNode(nodes, beta);
    // As if the restored node had been trying since the day before yesterday.
    alpha = await restoreAndStart(nodes, alpha, backup, { ...CONFIG, config: { ...CONFIG.config, ownEventsRetryMs: 300 } }, (dir) => {
      const db = new Database(join(dir, 'paracord.db'));
      const row = db.prepare("SELECT value FROM settings WHERE key = 'restored_own_events'").get() as { value: string };
      db.prepare("UPDATE settings SET value = ? WHERE key = 'restored_own_events'").run(JSON.stringify({ ...JSON.parse(row.value), first_try_at: Date.now() - 2 * 24 * 3600_000 }));
      db.close();
    });
    await eventually(async () => expect(mark(alpha)).toBe(''), 20_000);
    expect(storedIds(alpha, after)).toEqual([]);
  }, 120_000);

  it('does not let a member stall it: one serving a lie is not asked again, one replaying what it already served stops after a few pages', async ({ nodes }) => {
    let alpha = await nodes.inProcess(ALPHA, CONFIG);
    const liar: FakePeer = await nodes.fakePeer('liar.test');
    const replayer: FakePeer = await nodes.fakePeer('replayer.test');
    for (const p of [liar, replayer]) p.capabilities.push(OWN_EVENTS_CAPABILITY);
    const roomId = (await alpha.admin('POST', '/rooms', { name: 'stalled?' })).body.room_id as string;
    const liarUser = await joinFakePeer(asHost(alpha), roomId, liar);
    await joinFakePeer(asHost(alpha), roomId, replayer);
    const backup = await backUp(alpha);
    const honestId = await send(alpha, roomId, 'sent after the backup');
    const honest = storedEnvelope(alpha, honestId);
    // Each page: one junk event (not alpha's) or the same honest one again, "more to come" and a cursor that moves.
    let page = 0;
    const moving = (events: unknown[]) => () => ({ status: 200, body: { room_id: roomId, events, complete: false, next_since_depth: honest.depth + ++page, next_since_event_id: honestId } });
    liar.routes.set(OWN_EVENTS_PATH, moving([makeEvent(liar.identity, { room_id: roomId, sender: liarUser, content: { body: 'junk', format: 'plain' } })]));
    replayer.routes.set(OWN_EVENTS_PATH, moving([honest]));

    alpha = await restoreAndStart(nodes, alpha, backup);
    await eventually(async () => expect(storedIds(alpha, [honestId])).toEqual([honestId]), 30_000);
    await eventually(async () => expect(ownEventsCalls(liar) + ownEventsCalls(replayer)).toBeGreaterThanOrEqual(3));
    await new Promise((r) => setTimeout(r, 2_000));
    // The liar once; the replayer: its first page (new), then three that bring nothing.
    expect(ownEventsCalls(liar)).toBe(1);
    expect(ownEventsCalls(replayer)).toBeLessThanOrEqual(4);
    // The replayer never answered complete: the mark stays for the next run.
    expect(mark(alpha)).toMatch(/"first_try_at":\d+/);
  }, 120_000);

  it('authorizes what comes back as of when it was signed: a join made with an invite that expired since, and the messages after it, come back', async ({ nodes }) => {
    const set = await alphaBetaRoom(nodes, 'short invites', true);
    let { alpha } = set;
    const { beta, roomId } = set;
    const backup = await backUp(alpha);
    // After the backup: Sam is invited for 3 s, joins at once, and talks.
    await adminApi(alpha).inviteToRoom({ room_id: roomId, user_id: SAM, max_age_seconds: 3 });
    const invite = (await adminApi(alpha).listInvites({ user_id: SAM })).invites.find((i) => i.room_id === roomId)!;
    await adminApi(alpha).acceptInvite({ invite_id: invite.invite_id, user_id: SAM });
    const said = [await send(alpha, roomId, 'sam, one', SAM), await send(alpha, roomId, 'sam, two', SAM)];
    await eventually(async () => expect((await messages(beta, roomId)).map((m) => m.event_id)).toEqual(expect.arrayContaining(said)));
    // Restored once the invite expired.
    await new Promise((r) => setTimeout(r, 3_500));
    alpha = await restoreAndStart(nodes, alpha, backup);
    await eventually(async () => expect(storedIds(alpha, said).sort()).toEqual([...said].sort()), 30_000);
    expect(bodies(await messages(alpha, roomId)).slice(-2)).toEqual(['sam, one', 'sam, two']);
    await eventually(async () => expect(mark(alpha)).toBe(''));
  }, 120_000);

  it('does not count a member done while an event it served could not be applied: it is asked again', async ({ nodes }) => {
    let alpha = await nodes.inProcess(ALPHA, CONFIG);
    const keeper: FakePeer = await nodes.fakePeer('keeper.test');
    keeper.capabilities.push(OWN_EVENTS_CAPABILITY);
    const roomId = (await alpha.admin('POST', '/rooms', { name: 'kept, partly' })).body.room_id as string;
    await joinFakePeer(asHost(alpha), roomId, keeper);
    const backup = await backUp(alpha);
    const honestId = await send(alpha, roomId, 'sent after the backup');
    const honest = storedEnvelope(alpha, honestId);
    // Signed by alpha, but its sender is in no room here: refused now (not_a_member), maybe not later.
    const alphaId = Identity.load(join(alpha.dataDir, 'identity.json'));
    const stranger = makeEvent(alphaId, { room_id: roomId, sender: `@nobody:${ALPHA}`, content: { body: 'from no member', format: 'plain' } });
    keeper.routes.set(OWN_EVENTS_PATH, () => ({ status: 200, body: { room_id: roomId, events: [honest, stranger], complete: true, next_since_depth: stranger.depth, next_since_event_id: stranger.event_id } }));

    alpha = await restoreAndStart(nodes, alpha, backup, { ...CONFIG, config: { ...CONFIG.config, ownEventsRetryMs: 300 } });
    await eventually(async () => expect(storedIds(alpha, [honestId])).toEqual([honestId]), 30_000);
    await eventually(async () => expect(ownEventsCalls(keeper)).toBeGreaterThanOrEqual(2));
    expect(storedIds(alpha, [stranger.event_id])).toEqual([]);
    expect(mark(alpha)).toMatch(/"first_try_at":\d+/);
  }, 120_000);

  it('does not take from a member an invite, an unban or a role grant for one of its own users', async ({ nodes }) => {
    let alpha = await nodes.inProcess(ALPHA, CONFIG);
    const mallory: FakePeer = await nodes.fakePeer('mallory.test');
    mallory.capabilities.push(OWN_EVENTS_CAPABILITY);
    const roomId = (await alpha.admin('POST', '/rooms', { name: 'grants' })).body.room_id as string;
    const malloryUser = await joinFakePeer(asHost(alpha), roomId, mallory);
    const backup = await backUp(alpha);
    const honestId = await send(alpha, roomId, 'sent after the backup');
    const honest = storedEnvelope(alpha, honestId);
    // Signed by alpha's owner: an invite alpha signed but dropped (eve's server never accepted it),
    // a grant (its revocation withheld), an unban of mallory's user. None of them stored before the backup.
    const alphaId = Identity.load(join(alpha.dataDir, 'identity.json'));
    const t = honest.origin_ts + 1;
    const favours = [
      makeEvent(alphaId, { room_id: roomId, event_type: 'm.member.invite', state_key: '@eve:mallory.test', origin_ts: t, depth: honest.depth + 1, content: { membership: 'invite', expires_at: t + 3600_000 } }),
      makeEvent(alphaId, { room_id: roomId, event_type: 'm.room.role', state_key: malloryUser, origin_ts: t, depth: honest.depth + 2, content: { role: 'moderator' } }),
      makeEvent(alphaId, { room_id: roomId, event_type: 'm.member.unban', state_key: '@bob:mallory.test', origin_ts: t, depth: honest.depth + 3, content: { membership: 'leave' } }),
    ];
    mallory.routes.set(OWN_EVENTS_PATH, () => ({ status: 200, body: { room_id: roomId, events: [honest, ...favours], complete: true, next_since_depth: honest.depth + 3, next_since_event_id: favours[2]!.event_id } }));

    alpha = await restoreAndStart(nodes, alpha, backup);
    await eventually(async () => expect(storedIds(alpha, [honestId])).toEqual([honestId]), 30_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(storedIds(alpha, favours.map((e) => e.event_id))).toEqual([]);
    // Refused, not failed: the member is done.
    await eventually(async () => expect(mark(alpha)).toBe(''));
    const roles = queryNodeDb<{ user_id: string; role: string; membership: string }>(alpha.dataDir, 'SELECT user_id, role, membership FROM room_members WHERE room_id = ?', roomId);
    expect(roles.find((r) => r.user_id === malloryUser)?.role).toBe('member');
    expect(roles.find((r) => r.user_id === '@eve:mallory.test')).toBeUndefined();
  }, 120_000);

  it('refuses what a member serves as its own but is not: another origin, outside the window, forged, another room; an older member is not asked', async ({ nodes }) => {
    let alpha = await nodes.inProcess(ALPHA, CONFIG);
    const mallory: FakePeer = await nodes.fakePeer('mallory.test');
    mallory.capabilities.push(OWN_EVENTS_CAPABILITY);
    const older: FakePeer = await nodes.fakePeer('older.test');
    const roomId = (await alpha.admin('POST', '/rooms', { name: 'watched' })).body.room_id as string;
    const otherRoom = (await alpha.admin('POST', '/rooms', { name: 'elsewhere' })).body.room_id as string;
    const malloryUser = await joinFakePeer(asHost(alpha), roomId, mallory);
    await joinFakePeer(asHost(alpha), roomId, older);

    const backup = await backUp(alpha);
    const honestId = await send(alpha, roomId, 'sent after the backup');
    // The honest copy mallory holds (as alpha stored and pushed it).
    const row = queryNodeDb<Record<string, any>>(alpha.dataDir, 'SELECT * FROM federation_events WHERE event_id = ?', honestId)[0]!;
    const honest: Envelope = {
      event_id: row.event_id, room_id: row.room_id, event_type: row.event_type, sender: row.sender, origin_server: row.origin_server,
      origin_ts: row.origin_ts, depth: row.signed_depth ?? row.depth, state_key: row.state_key, content: JSON.parse(row.content), signatures: JSON.parse(row.signatures),
    };
    const alphaId = Identity.load(join(alpha.dataDir, 'identity.json'));
    const now = Date.now();
    const day = 24 * 3600_000;
    const bad = {
      otherOrigin: makeEvent(mallory.identity, { room_id: roomId, sender: malloryUser, content: { body: 'not alpha\'s', format: 'plain' } }),
      longBefore: makeEvent(alphaId, { room_id: roomId, origin_ts: now - 3 * day, depth: now - 3 * day, content: { body: 'from long before the backup', format: 'plain' } }),
      ahead: makeEvent(alphaId, { room_id: roomId, origin_ts: now + day, depth: now + day, content: { body: 'from the future', format: 'plain' } }),
      forged: { ...makeEvent(alphaId, { room_id: roomId, content: { body: 'signed', format: 'plain' } }), content: { body: 'forged', format: 'plain' } },
      otherRoom: makeEvent(alphaId, { room_id: otherRoom, content: { body: 'of another room', format: 'plain' } }),
      // Alpha's name and key id, mallory's key.
      impostor: makeEvent({ serverName: ALPHA, keyId: alphaId.keyId, signHex: (m: Buffer) => mallory.identity.signHex(m) }, { room_id: roomId }),
    };
    const served = [bad.otherOrigin, bad.longBefore, bad.forged, honest, bad.otherRoom, bad.ahead, bad.impostor];
    mallory.routes.set(OWN_EVENTS_PATH, () => ({ status: 200, body: { room_id: roomId, events: served, complete: true, next_since_depth: now, next_since_event_id: honestId } }));

    alpha = await restoreAndStart(nodes, alpha, backup);
    await eventually(async () => expect(storedIds(alpha, [honestId])).toEqual([honestId]), 30_000);
    await eventually(async () => expect(mark(alpha)).toBe(''));
    expect(storedIds(alpha, Object.values(bad).map((e) => e.event_id))).toEqual([]);
    expect(bodies(await messages(alpha, roomId))).not.toEqual(expect.arrayContaining(['forged']));
    expect(mallory.calls.filter((c) => c.startsWith(`GET ${OWN_EVENTS_PATH}?`))).toHaveLength(1);
    expect(mallory.calls.find((c) => c.startsWith(`GET ${OWN_EVENTS_PATH}?`))).toContain(`room_id=${enc(roomId)}`);
    // The older member advertises no own_events: it is not asked (it would answer 404).
    expect(older.requests).not.toContain(OWN_EVENTS_PATH);
  }, 120_000);
});
