/**
 * Issue #36 goal 2, the persistent link between friends' nodes (docs/PROTOCOL.md §Persistent
 * link): two real nodes over HTTPS, peered through an invite link (certificates pinned). A lone
 * message after a quiet gap longer than the old keep-alive (10 s on the listener, 8 s on the
 * sender) goes over the connection the last one used: the receiver's federation listener takes
 * no new connection and no TLS handshake (its /metrics counters). The knob shortens both sides
 * alike, and the link closes after it. A peer that restarts, or dies with the link open, loses
 * nothing: the outbox retries on a new connection.
 */
import { describe, expect, it, type Nodes } from './helpers/fixtures.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { eventually, messages, roomWithMembers, send } from './helpers/rooms.ts';

async function friends(nodes: Nodes, args: string[] = []) {
  const alpha = nodes.process({ serverName: 'alpha.test', secure: true, args });
  const beta = nodes.process({ serverName: 'beta.test', secure: true, args });
  await Promise.all([alpha.start(), beta.start()]);
  const created = await alpha.admin('POST', '/invites/peer', {});
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  const redeemed = await beta.admin('POST', '/invites/peer/redeem', { link: created.body.link });
  expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(200);
  const roomId = await roomWithMembers(alpha, 'link', [[beta, '@owner:beta.test']]);
  // Each node's reachability self-test after its first peer: the peer probes it on connections of
  // their own (a kept one proves nothing about the network), counted by the listener; done first.
  await eventually(async () => expect([alpha, beta].every((n) => n.stderr.includes('"reachability_checked"'))).toBe(true));
  return { alpha, beta, roomId };
}

/** The receiver's federation listener, as its /metrics tells it. */
async function listener(n: NodeProcess): Promise<{ accepted: number; handshakes: number; open: number }> {
  const response = await fetch(`${n.ready.admin_url}/metrics`, { headers: { authorization: `Bearer ${n.adminToken}` } });
  const text = await response.text();
  const read = (name: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    if (!line) throw new Error(`${name} missing from /metrics`);
    return Number(line.split(' ')[1]);
  };
  return { accepted: read('paracord_federation_connections_accepted_total'), handshakes: read('paracord_federation_tls_handshakes_total'), open: read('paracord_federation_connections_open') };
}

/** Sends from alpha and waits until beta has it. */
async function delivered(alpha: NodeProcess, beta: NodeProcess, roomId: string, body: string, timeoutMs = 20_000): Promise<void> {
  await send(alpha, roomId, body);
  await eventually(async () => expect((await messages(beta, roomId)).map((m: { body: string }) => m.body)).toContain(body), timeoutMs);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the persistent link between two friends\' nodes (HTTPS, pinned)', () => {
  it('a lone message after 12 s of quiet (past the old 10 s keep-alive) reuses the connection: no new TCP or TLS handshake', async ({ nodes }) => {
    const { alpha, beta, roomId } = await friends(nodes);
    await delivered(alpha, beta, roomId, 'first');
    const before = await listener(beta);
    expect(before.handshakes).toBeGreaterThan(0);
    expect(before.open).toBeGreaterThan(0);
    await sleep(12_000);
    await delivered(alpha, beta, roomId, 'after a quiet 12 s');
    const after = await listener(beta);
    expect(after.accepted).toBe(before.accepted);
    expect(after.handshakes).toBe(before.handshakes);
  }, 60_000);

  it('--keep-alive-timeout sets both sides: a gap under it reuses the link, past it the link is closed and the next message opens a new one', async ({ nodes }) => {
    // 5 s: the listener keeps an idle connection 5 s (and says so), the sender closes its side 2 s before.
    const { alpha, beta, roomId } = await friends(nodes, ['--keep-alive-timeout', '5000']);
    await delivered(alpha, beta, roomId, 'first');
    const start = await listener(beta);
    await sleep(1_500);
    await delivered(alpha, beta, roomId, 'after 1.5 s');
    const kept = await listener(beta);
    expect(kept.accepted).toBe(start.accepted);
    // Past the link's timeout every connection to beta's listener is closed (alpha's first, at 3 s)…
    await eventually(async () => expect((await listener(beta)).open).toBe(0), 10_000);
    // …and the next message opens a new one, with its TLS handshake.
    await delivered(alpha, beta, roomId, 'after the link closed');
    const reopened = await listener(beta);
    expect(reopened.accepted).toBeGreaterThan(kept.accepted);
    expect(reopened.handshakes).toBeGreaterThan(kept.handshakes);
  }, 60_000);

  it('a peer that restarts, or is killed, with the link open loses nothing: the outbox retries on a new connection', async ({ nodes }) => {
    const { alpha, beta, roomId } = await friends(nodes, ['--retry-initial', '200', '--retry-max', '1000']);
    await delivered(alpha, beta, roomId, 'before');
    expect((await listener(beta)).open).toBeGreaterThan(0);

    // A restart: beta closes the link as it stops; alpha's messages meanwhile wait in its outbox.
    expect(await beta.stop()).toBe(0);
    await send(alpha, roomId, 'while beta restarts');
    await beta.start();
    await eventually(async () => expect((await messages(beta, roomId)).map((m: { body: string }) => m.body)).toContain('while beta restarts'), 20_000);
    await delivered(alpha, beta, roomId, 'after the restart');

    // Killed: the kernel resets the link under alpha; the next message is not lost.
    await beta.stop('SIGKILL');
    await send(alpha, roomId, 'while beta is dead');
    await sleep(500);
    await beta.start();
    await eventually(async () => expect((await messages(beta, roomId)).map((m: { body: string }) => m.body)).toContain('while beta is dead'), 20_000);
    await delivered(alpha, beta, roomId, 'after the kill');
    const bodies = (await messages(beta, roomId)).map((m: { body: string }) => m.body);
    for (const body of ['before', 'while beta restarts', 'after the restart', 'while beta is dead', 'after the kill']) expect(bodies.filter((b: string) => b === body)).toHaveLength(1);
    await eventually(async () => expect((await alpha.admin('GET', '/status')).body.queue).toEqual({ pending: 0, failed: 0 }));
  }, 90_000);
});
