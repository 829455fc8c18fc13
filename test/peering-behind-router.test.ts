/**
 * Issue #32 item 1, with real node processes on 127.0.0.1: a friend redeems alpha's invite link
 * from "behind a router" — it names an endpoint alpha cannot call back. Redeeming no longer
 * depends on that callback: alpha peers (the token authorizes, the request is signed with the key
 * it names), records the endpoint as never reached, and says so in its answer; the redeemer
 * receives by pull at once. A room on alpha then works both ways: alpha's invite waits in the
 * queue and is pulled, the join and messages go to alpha directly, alpha's messages are pulled.
 * And the endpoint the redeemer named (someone else's server here) gets nothing but the one
 * callback: no event is ever pushed there.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { describe, expect, it, type Nodes } from './helpers/fixtures.ts';
import { enc, eventually, messages, send } from './helpers/rooms.ts';

/** Someone else's web server: answers 404 to everything, and remembers what it was asked. */
async function bystander(nodes: Nodes): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not here');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  nodes.servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen };
}

describe('redeeming an invite link from behind a router (issue #32 item 1)', () => {
  it('peers although the inviter cannot call the redeemer back; the redeemer receives by pull at once; a room on the inviter works both ways; the named endpoint gets no pushes', async ({ nodes }) => {
    const elsewhere = await bystander(nodes);
    const alpha = nodes.process({ serverName: 'alpha.test', args: ['--retry-initial', '200', '--retry-max', '2000'] });
    const beta = nodes.process({ serverName: 'beta.test', args: ['--public-url', elsewhere.url] });
    await Promise.all([alpha.start(), beta.start()]);
    expect((await beta.admin('GET', '/reachability')).body.mode).toBe('push');

    const invite = await alpha.admin('POST', '/invites/peer', {});
    expect(invite.status).toBe(200);
    const redeemed = await beta.admin('POST', '/invites/peer/redeem', { link: invite.body.link });
    expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(200);
    expect(redeemed.body).toMatchObject({ server_name: 'alpha.test', reachable: false });
    expect(redeemed.body.reach_error).toContain('404');
    // The link is used; each side holds the other as a peer.
    expect((await alpha.admin('GET', '/invites/peer')).body.invites[0]).toMatchObject({ state: 'used', used_by: 'beta.test' });
    expect((await alpha.admin('GET', '/peers')).body.peers.map((p: { server_name: string }) => p.server_name)).toEqual(['beta.test']);
    // beta receives by pull now, and says why in words; alpha knows beta fetches its messages itself.
    const reach = (await beta.admin('GET', '/reachability')).body;
    expect(reach).toMatchObject({ mode: 'pull', reachable: false, via: 'alpha.test' });
    expect(reach.error).toContain('alpha.test could not reach this node');
    const betaOnAlpha = (await alpha.admin('GET', '/peers')).body.peers[0];
    expect(betaOnAlpha.delivery.mode).toBe('pull');
    // The one callback. A GET of its discovery document may come too: alpha reads it to check the
    // caller of beta's reach-probe (its self-test, a second after start, may run after the redeem).
    // (Under load it also came from alpha checking whether beta binds, when beta's look-up of
    // alpha's discovery outlasted its deadline and its first pull went out unbound: beta now binds
    // to a server it saw bind, destination-binding-restart.test.ts.) The end of the test checks
    // that nothing but GETs, and no event, ever came here.
    expect(elsewhere.seen.filter((s) => s !== 'GET /.well-known/paracord/server')).toEqual(['GET /_paracord/federation/v1/keys']);

    // A room on alpha: the invite cannot be sent to beta, so it waits to be fetched, and says so.
    const created = await alpha.admin('POST', '/rooms', { name: 'home' });
    const roomId: string = created.body.room_id;
    const invited = await alpha.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: '@owner:beta.test' });
    expect(invited.status, JSON.stringify(invited.body)).toBe(200);
    const invites = await eventually(async () => {
      const list = (await beta.admin('GET', '/invites?user_id=%40owner%3Abeta.test')).body.invites as Array<{ invite_id: string; room_id: string }>;
      expect(list.map((i) => i.room_id)).toEqual([roomId]);
      return list;
    });
    const accepted = await beta.admin('POST', `/invites/${invites[0]!.invite_id}/accept`, { user_id: '@owner:beta.test' });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);

    // Messages both ways: beta's are pushed to alpha, alpha's are pulled by beta.
    for (let i = 0; i < 20; i++) {
      await send(alpha, roomId, `from alpha ${i}`);
      await send(beta, roomId, `from beta ${i}`);
    }
    const expected = (await eventually(async () => {
      const seen = (await messages(alpha, roomId)).map((m) => m.body);
      expect(seen.filter((b: string) => b.startsWith('from beta'))).toHaveLength(20);
      return seen;
    }, 30_000));
    await eventually(async () => expect((await messages(beta, roomId)).map((m) => m.body)).toEqual(expected), 30_000);

    // While beta has not fetched, alpha's queue says where its message waits.
    expect(await beta.stop()).toBe(0);
    await send(alpha, roomId, 'while beta is away');
    const queue = (await alpha.admin('GET', '/queue?destination=beta.test')).body.entries;
    expect(queue.length).toBeGreaterThan(0);
    expect(queue[0]).toMatchObject({ delivery: 'pull', waiting: 'waiting for beta.test to fetch it' });
    // Nothing was ever pushed to the endpoint beta named (it is someone else's server).
    await new Promise((r) => setTimeout(r, 1_000));
    expect(elsewhere.seen.filter((s) => !s.startsWith('GET /'))).toEqual([]);
    expect(elsewhere.seen.filter((s) => s.includes('/event'))).toEqual([]);
  }, 120_000);

  it('a redeemer naming an endpoint where another node answers, with another key, is refused and the link stays unused', async ({ nodes }) => {
    const alpha = nodes.process({ serverName: 'alpha.test' });
    const other = nodes.process({ serverName: 'other.test' });
    await Promise.all([alpha.start(), other.start()]);
    const beta = nodes.process({ serverName: 'beta.test', args: ['--public-url', other.federationUrl] });
    await beta.start();
    const invite = await alpha.admin('POST', '/invites/peer', {});
    const redeemed = await beta.admin('POST', '/invites/peer/redeem', { link: invite.body.link });
    expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(403);
    expect(redeemed.body.error).toBe('peering_refused');
    expect(redeemed.body.message).toContain('pin_mismatch');
    expect((await alpha.admin('GET', '/invites/peer')).body.invites[0].state).toBe('active');
    expect((await alpha.admin('GET', '/peers')).body.peers).toEqual([]);
    expect((await beta.admin('GET', '/reachability')).body.mode).toBe('push');
  }, 60_000);
});
