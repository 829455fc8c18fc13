/**
 * Issue #15, pull mode, with real node processes on 127.0.0.1: beta publishes an endpoint nobody
 * can reach (a closed port) and receives by pull. alpha keeps beta's events in its outbox and
 * serves them through GET /pull; beta stores them through the push chain and acknowledges.
 * 1,000 messages arrive in order, each once, although each side is SIGKILLed in the middle.
 */
import { closedPort } from './helpers/closed-port.ts';
import { join } from 'node:path';
import { Identity } from '../main/core/identity/identity.ts';
import { describe, expect, it, type Nodes } from './helpers/fixtures.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { startPeered, type NodeProcess } from './helpers/node-process.ts';
import { eventually, messages, roomWithMembers, send } from './helpers/rooms.ts';
import { sendSigned } from './helpers/signed-request.ts';
import { adminApi } from './helpers/admin-api.ts';

/**
 * alpha hosts a room with beta in it; then beta restarts unreachable: it publishes a closed port
 * and alpha knows it only there (pinned key, so alpha never needs to contact it).
 */
export async function unreachableBeta(nodes: Nodes, betaArgs: string[]) {
  const alpha = nodes.process({ serverName: 'alpha.test', args: ['--retry-initial', '200', '--retry-max', '2000'] });
  const beta = nodes.process({ serverName: 'beta.test' });
  await startPeered([alpha, beta]);
  const roomId = await roomWithMembers(alpha, 'pull', [[beta, '@owner:beta.test']]);
  const status = (await beta.admin('GET', '/status')).body;
  expect(await beta.stop()).toBe(0);
  const closed = `http://127.0.0.1:${await closedPort()}`;
  const readded = await alpha.admin('POST', '/peers', { server_name: 'beta.test', endpoint: closed, key_id: status.key_id, public_key: status.public_key, replace: true });
  expect(readded.status, JSON.stringify(readded.body)).toBe(200);
  await beta.start(['--public-url', closed, ...betaArgs]);
  return { alpha, beta, roomId, closed };
}

const sentOrder = (n: NodeProcess, roomId: string) =>
  queryNodeDb<{ event_id: string }>(n.dataDir, "SELECT event_id FROM federation_events WHERE room_id = ? AND event_type = 'm.message' AND origin_server = 'alpha.test' ORDER BY depth, event_id", roomId).map((r) => r.event_id);
const arrivalOrder = (n: NodeProcess, roomId: string) =>
  queryNodeDb<{ event_id: string }>(n.dataDir, "SELECT event_id FROM federation_events WHERE room_id = ? AND event_type = 'm.message' AND origin_server = 'alpha.test' ORDER BY rowid", roomId).map((r) => r.event_id);
const pendingFor = (n: NodeProcess, destination: string) =>
  queryNodeDb<{ n: number }>(n.dataDir, "SELECT COUNT(*) AS n FROM federation_outbox WHERE destination = ? AND state = 'pending'", destination)[0]!.n;

describe('pull mode', () => {
  it('1,000 messages reach a node nobody can reach, in order, once, with SIGKILL of each side in the middle', async ({ nodes }) => {
    const { alpha, beta, roomId, closed } = await unreachableBeta(nodes, ['--pull']);
    // beta advertises that it receives by pull, and says so in its reachability status.
    const reach = (await beta.admin('GET', '/reachability')).body;
    expect(reach.mode).toBe('pull');

    const total = 1000;
    const sendRange = async (from: number, to: number) => {
      for (let i = from; i < to; i++) await send(alpha, roomId, `pulled ${i}`);
    };
    // The receiver dies in the middle of pulling: killed as soon as the first events arrived,
    // while alpha is still sending.
    const firstSends = sendRange(0, 300);
    await eventually(async () => expect(arrivalOrder(beta, roomId).length).toBeGreaterThan(0), 60_000, 10);
    await beta.stop('SIGKILL');
    const atReceiverKill = arrivalOrder(beta, roomId).length;
    await firstSends;
    await sendRange(300, 600);
    // alpha could not push any of them (beta's endpoint is closed): they wait to be pulled.
    expect(pendingFor(alpha, 'beta.test')).toBeGreaterThan(0);
    await beta.start(['--public-url', closed, '--pull']);
    // The sender dies in the middle of serving pulls: while beta is still fetching the backlog.
    await eventually(async () => expect(arrivalOrder(beta, roomId).length).toBeGreaterThan(atReceiverKill), 60_000, 10);
    await alpha.stop('SIGKILL');
    const atSenderKill = arrivalOrder(beta, roomId).length;
    console.log(`pull SIGKILL test: receiver killed with ${atReceiverKill}/300 sent events stored, sender killed with ${atSenderKill}/600 stored`);
    await alpha.start();
    await sendRange(600, total);

    try {
      await eventually(async () => expect(arrivalOrder(beta, roomId)).toHaveLength(total), 60_000, 250);
    } catch (e) {
      for (const n of [alpha, beta]) console.log(n.serverName, n.stderr.split('\n').filter((l) => /pull|reach|warn|error/i.test(l) && !/"level":30.*request/.test(l)).slice(-40).join('\n'));
      throw e;
    }
    const sent = sentOrder(alpha, roomId);
    expect(sent).toHaveLength(total);
    expect(arrivalOrder(beta, roomId)).toEqual(sent);
    const shown = (await messages(beta, roomId)).filter((m) => typeof m.body === 'string' && m.body.startsWith('pulled '));
    expect(new Set(shown.map((m) => m.event_id)).size).toBe(shown.length);
    // Acknowledged pulls are deliveries: alpha's queue for beta empties.
    await eventually(async () => expect(pendingFor(alpha, 'beta.test')).toBe(0), 60_000);
    // Nothing was pushed to the closed endpoint successfully, and beta's pull state is visible on alpha.
    const peers = (await alpha.admin('GET', '/peers')).body.peers as Array<{ server_name: string; delivery?: { mode: string; last_pull_at: number | null } }>;
    expect(peers.find((p) => p.server_name === 'beta.test')?.delivery).toMatchObject({ mode: 'pull' });
  }, 300_000);

  it('events over the receiver\'s quota wait on the sender (pull) or the host (catch-up): none is lost', async ({ nodes }) => {
    const { alpha, beta, roomId, closed } = await unreachableBeta(nodes, ['--pull']);
    // The legitimate twin: under the quota, a pulled event arrives at once.
    await send(alpha, roomId, 'under the quota');
    await eventually(async () => expect(arrivalOrder(beta, roomId)).toHaveLength(1), 60_000);
    await beta.stop();
    const pullCursor = () => queryNodeDb<{ cursor: number }>(beta.dataDir, "SELECT cursor FROM pull_sources WHERE server_name = 'alpha.test'")[0]?.cursor;
    const cursorBefore = pullCursor();
    expect(cursorBefore).toBeGreaterThan(0);
    const usedByAlpha = () => queryNodeDb<{ b: number }>(beta.dataDir, "SELECT day_bytes AS b FROM peer_storage WHERE server_name = 'alpha.test'")[0]?.b ?? 0;
    const filler = 'x'.repeat(2000);
    for (let i = 0; i < 30; i++) await send(alpha, roomId, `over ${i} ${filler}`);
    // A quota that takes a few of them: the page crosses it (verify sees only the stored usage).
    await beta.start(['--public-url', closed, '--pull', '--peer-quota-day', String(usedByAlpha() + 60_000)]);
    await eventually(async () => expect(beta.stderr).toContain('"event":"quota_exceeded"'), 60_000);
    await eventually(async () => expect(arrivalOrder(beta, roomId).length).toBeGreaterThan(1), 60_000);
    const arrived = arrivalOrder(beta, roomId).length;
    expect(arrived).toBeLessThan(31);
    await beta.stop();
    // Nothing of the page was saved or acknowledged past what waits: alpha still holds all of it.
    expect(pullCursor()).toBe(cursorBefore);
    expect(pendingFor(alpha, 'beta.test')).toBeGreaterThanOrEqual(31 - arrived);
    // An invite pulled while alpha's share is used up waits too (it was taken as a refusal: lost).
    const { room_id: second } = await adminApi(alpha).createRoom({ name: 'second' });
    await adminApi(alpha).inviteToRoom({ room_id: second, user_id: '@owner:beta.test' });
    await beta.start(['--public-url', closed, '--pull', '--peer-quota-day', String(usedByAlpha())]);
    await eventually(async () => expect(beta.stderr).toContain('"event":"pull_quota_wait"'), 60_000);
    expect(beta.stderr).not.toContain('pulled_invite_refused');
    await beta.stop();
    // The quota allows them now (a new day, or the owner raised it): every event comes, in order, once.
    await beta.start(['--public-url', closed, '--pull']);
    await eventually(async () => expect(arrivalOrder(beta, roomId)).toHaveLength(31), 60_000, 250);
    expect(arrivalOrder(beta, roomId)).toEqual(sentOrder(alpha, roomId));
    await eventually(async () => expect((await adminApi(beta).listInvites({ user_id: '@owner:beta.test' })).invites.map((i) => i.room_id)).toContain(second), 30_000);

    // Catch-up (beta neither reachable nor pulling): more than one page, over the quota.
    await beta.stop();
    for (let i = 0; i < 260; i++) await send(alpha, roomId, `caught ${i}`);
    await beta.start(['--public-url', closed, '--peer-quota-day', String(usedByAlpha() + 150_000)]);
    await eventually(async () => expect(beta.stderr).toMatch(/"event":"(catch_up_quota_wait|caught_up)"/), 60_000);
    const partly = arrivalOrder(beta, roomId).length;
    expect(partly).toBeGreaterThan(31);
    expect(partly).toBeLessThan(291);
    // The room says it waits, on alpha's share of the quota, and until when (the UI's words come from this).
    const view = (await beta.admin('GET', `/rooms/${encodeURIComponent(roomId)}`)).body;
    expect(view.waits).toEqual([{ server: 'alpha.test', reason: 'storage_quota', messages: 0, until: expect.any(Number) }]);
    expect(view.waits[0].until).toBeGreaterThan(Date.now());
    await beta.stop();
    await beta.start(['--public-url', closed]);
    await eventually(async () => expect(arrivalOrder(beta, roomId)).toHaveLength(291), 60_000, 250);
  }, 300_000);

  it('an invite over the cap of pending invites is refused, not waited for: the host\'s other events behind it still come', async ({ nodes }) => {
    const { alpha, beta, roomId } = await unreachableBeta(nodes, ['--pull', '--max-pending-invites-per-peer', '1']);
    // Once beta pulls, alpha queues what it sends beta (invites too) instead of calling it.
    await send(alpha, roomId, 'before the invites');
    await eventually(async () => expect(arrivalOrder(beta, roomId)).toHaveLength(1), 30_000, 100);
    // Two rooms invite beta's owner: the second invite is over beta's cap for alpha (429 too_many_invites).
    const invited: string[] = [];
    for (const name of ['first', 'second']) {
      const { room_id: room } = await adminApi(alpha).createRoom({ name });
      await adminApi(alpha).inviteToRoom({ room_id: room, user_id: '@owner:beta.test' });
      invited.push(room);
    }
    await send(alpha, roomId, 'after the invites');
    // The message behind them arrives (it waited behind the refused invite, asked again every minute).
    await eventually(async () => expect(arrivalOrder(beta, roomId)).toHaveLength(2), 30_000, 100);
    await eventually(async () => expect(beta.stderr).toMatch(/"event":"pulled_invite_refused"[^\n]*"error":"too_many_invites"/), 10_000); // (the node's log is written asynchronously)
    const pending = (await adminApi(beta).listInvites({ user_id: '@owner:beta.test' })).invites.map((i) => i.room_id);
    expect(pending).toEqual([invited[0]]);
    await eventually(async () => expect(pendingFor(alpha, 'beta.test')).toBe(0), 30_000);
  }, 120_000);

  it('bad input to /pull and /pull/ack gets a clear 4xx JSON error and changes nothing', async ({ nodes }) => {
    const { alpha, beta, roomId } = await unreachableBeta(nodes, ['--pull']);
    await beta.stop();
    for (let i = 0; i < 5; i++) await send(alpha, roomId, `kept ${i}`);
    const before = pendingFor(alpha, 'beta.test');
    expect(before).toBe(5);
    const key = await Identity.open(join(beta.dataDir, 'identity.json'));
    const cases: Array<[string, string, string | undefined, number, string]> = [
      ['GET', '/_paracord/federation/v1/pull?cursor=abc', undefined, 400, 'invalid_request'],
      ['GET', '/_paracord/federation/v1/pull?limit=0', undefined, 400, 'invalid_request'],
      ['GET', '/_paracord/federation/v1/pull?limit=100000', undefined, 400, 'invalid_request'],
      ['GET', '/_paracord/federation/v1/pull?cursor=1&evil=1', undefined, 400, 'invalid_request'],
      ['POST', '/_paracord/federation/v1/pull/ack', '{}', 400, 'invalid_request'],
      ['POST', '/_paracord/federation/v1/pull/ack', '{"cursor":"-1"}', 400, 'invalid_request'],
      ['POST', '/_paracord/federation/v1/pull/ack', '{"cursor":"999999999999"}', 400, 'unknown_cursor'],
      ['POST', '/_paracord/federation/v1/pull/ack', '{"cursor":"1","destination":"gamma.test"}', 400, 'invalid_request'],
      ['POST', '/_paracord/federation/v1/pull/ack', 'not json', 400, 'malformed_json'],
    ];
    for (const [method, path, body, status, error] of cases) {
      const response = await sendSigned(key, alpha.federationUrl, method, path, body);
      expect(response.status, `${method} ${path} ${body}`).toBe(status);
      expect(response.body, `${method} ${path} ${body}`).toMatchObject({ error });
      expect(typeof response.body.message).toBe('string');
    }
    // Unsigned: refused before anything is looked at.
    const unsigned = await fetch(`${alpha.federationUrl}/_paracord/federation/v1/pull`);
    expect(unsigned.status).toBe(401);
    expect(pendingFor(alpha, 'beta.test')).toBe(before);
    // Only events destined to the caller: a page for beta has beta's five, nothing else.
    const page = await sendSigned(key, alpha.federationUrl, 'GET', '/_paracord/federation/v1/pull?cursor=0&limit=100');
    expect(page.status).toBe(200);
    expect(page.body.events).toHaveLength(5);
    expect(pendingFor(alpha, 'beta.test')).toBe(5); // served is not delivered: only an ack is
    // GET /pull answers without waiting for its replay entry's fsync; an exact replay is still refused.
    const stamp = Date.now();
    const pullPath = '/_paracord/federation/v1/pull?cursor=0&limit=1';
    const original = await sendSigned(key, alpha.federationUrl, 'GET', pullPath, undefined, { timestamp: stamp });
    expect(original.status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const replayed = await sendSigned(key, alpha.federationUrl, 'GET', pullPath, undefined, { timestamp: stamp });
      expect(replayed.status).toBe(409);
      expect(replayed.body.error).toBe('replayed_request');
      await new Promise((r) => setTimeout(r, 200));
    }
    const acked = await sendSigned(key, alpha.federationUrl, 'POST', '/_paracord/federation/v1/pull/ack', JSON.stringify({ cursor: page.body.cursor }));
    expect(acked.status).toBe(200);
    expect(pendingFor(alpha, 'beta.test')).toBe(0);
  }, 120_000);
});
