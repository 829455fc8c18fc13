/**
 * What the peers' list says of a friend that refuses our server, and of a server only named in a
 * trust decision (a user trial): two real in-process nodes peered on loopback. After alpha blocks
 * beta, beta's next delivery is answered 403 origin_blocked, and beta's GET /peers says so
 * (`refuses_us`) until a later delivery goes through. A server blocked without ever being peered
 * (`trust nobody.test block`) is marked `never_peered`, and DELETE /peers/:name/trust forgets it
 * (a peer answers 409 is_peer; an unknown server 404).
 */
import { beforeAll, describe, expect, it, type InProcessNode } from './helpers/fixtures.ts';
import { enc, eventually, inviteAndJoin, send } from './helpers/rooms.ts';

const [ALPHA, BETA] = ['alpha.test', 'beta.test'];
let alpha: InProcessNode, beta: InProcessNode;

beforeAll(async ({ fileNodes }) => {
  const fast = { config: { retryInitialMs: 100, retryMaxMs: 400 }, graceMs: 1_000 };
  [alpha, beta] = await Promise.all([fileNodes.inProcess(ALPHA, fast), fileNodes.inProcess(BETA, fast)]);
  for (const [node, other, name] of [[alpha, beta, BETA], [beta, alpha, ALPHA]] as const) {
    expect((await node.admin('POST', '/peers', { server_name: name, endpoint: other.started.federation_url })).status).toBe(200);
  }
});

type Peer = { server_name: string; refuses_us?: { code: string; at: number } | null; never_peered?: true; trust: string };
const peerOf = async (node: InProcessNode, name: string): Promise<Peer | undefined> => ((await node.admin('GET', '/peers')).body.peers as Peer[]).find((p) => p.server_name === name);

describe('a friend that refuses our server', () => {
  it('is said to refuse us (origin_blocked) after it blocked us, until a delivery goes through again', async () => {
    const roomId = (await beta.admin('POST', '/rooms', { name: 'shared' })).body.room_id as string;
    await inviteAndJoin(beta, roomId, alpha, `@owner:${ALPHA}`);
    await send(beta, roomId, 'before the block');
    await eventually(async () => expect((await beta.admin('GET', `/rooms/${enc(roomId)}/messages`)).body.messages.at(-1).delivery.state).toBe('delivered'));
    expect((await peerOf(beta, ALPHA))?.refuses_us).toBeNull();

    expect((await alpha.admin('PUT', `/peers/${BETA}/trust`, { mode: 'block' })).status).toBe(200);
    const before = Date.now();
    await send(beta, roomId, 'after the block');
    await eventually(async () => expect((await peerOf(beta, ALPHA))?.refuses_us).toMatchObject({ code: 'origin_blocked' }));
    expect((await peerOf(beta, ALPHA))!.refuses_us!.at).toBeGreaterThanOrEqual(before - 1_000);
    expect((await peerOf(beta, ALPHA))?.never_peered).toBeUndefined();

    // Allowed again: the next delivery goes through, and nothing is said of a refusal any more.
    expect((await alpha.admin('PUT', `/peers/${BETA}/trust`, { mode: 'allow' })).status).toBe(200);
    await send(beta, roomId, 'after the unblock');
    await eventually(async () => expect((await peerOf(beta, ALPHA))?.refuses_us).toBeNull());
  });
});

describe('a server only named in a trust decision', () => {
  it('is marked never_peered, and DELETE /peers/:name/trust forgets it (a peer: 409; unknown: 404)', async () => {
    expect((await beta.admin('PUT', '/peers/nobody.test/trust', { mode: 'block', reason: 'spam' })).status).toBe(200);
    expect(await peerOf(beta, 'nobody.test')).toMatchObject({ trust: 'block', never_peered: true });
    const peer = await beta.admin('DELETE', `/peers/${ALPHA}/trust`);
    expect(peer.status).toBe(409);
    expect(peer.body.error).toBe('is_peer');
    expect((await peerOf(beta, ALPHA))?.trust).toBe('allow');
    expect((await beta.admin('DELETE', '/peers/unknown.test/trust')).body.error).toBe('unknown_peer');
    expect((await beta.admin('DELETE', '/peers/not%20a%20name/trust')).status).toBe(400);
    const forgotten = await beta.admin('DELETE', '/peers/nobody.test/trust');
    expect(forgotten.status, JSON.stringify(forgotten.body)).toBe(200);
    expect(forgotten.body).toEqual({ server_name: 'nobody.test', forgotten: true });
    expect(await peerOf(beta, 'nobody.test')).toBeUndefined();
  });
});
