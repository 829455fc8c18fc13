/**
 * Issue #32 item 3 behind real NAT routers: two homes, each behind its own router that only
 * masquerades (no UPnP, nothing comes in), and a public friend (test/helpers/netns-two-homes.ts),
 * all over TLS as at home. Each home redeems the friend's invite link (from behind its router:
 * it then receives by pull at once); the homes, which cannot reach each other in either
 * direction, peer by a link that names the friend as the inviter's mailbox. A room hosted on the first home, with the second home's user
 * invited and joined through the friend's mailbox, carries 200 messages each way, in order, each
 * once, although the friend (the mailbox) is SIGKILLed in the middle.
 * Skipped, with the reason, where network namespaces are not available.
 */
import { afterAll, beforeAll, describe, expect, it } from './helpers/fixtures.ts';
import { admin, inviteAcross, poll, sendMany, serveIn } from './helpers/netns-node.ts';
import { routerUnavailable } from './helpers/netns-router.ts';
import { FRIEND, TwoHomes, homeAddress } from './helpers/netns-two-homes.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { enc } from './helpers/rooms.ts';
import { tempDir } from './helpers/temp-dir.ts';

const unavailable = routerUnavailable({ upnp: false });
if (unavailable) console.warn(`NAT mailbox tests skipped: ${unavailable}`);

const messagesFrom = (dataDir: string, roomId: string, origin: string) =>
  queryNodeDb<{ event_id: string }>(dataDir, "SELECT event_id FROM federation_events WHERE room_id = ? AND event_type = 'm.message' AND origin_server = ? ORDER BY rowid", roomId, origin).map((r) => r.event_id);
const sentBy = (dataDir: string, roomId: string, origin: string) =>
  queryNodeDb<{ event_id: string }>(dataDir, "SELECT event_id FROM federation_events WHERE room_id = ? AND event_type = 'm.message' AND origin_server = ? ORDER BY depth, event_id", roomId, origin).map((r) => r.event_id);

describe.skipIf(unavailable !== null)('two homes behind two NAT routers and a public friend', () => {
  const net = new TwoHomes();
  beforeAll(() => net.start());
  afterAll(() => net.stop());

  it('a room hosted on one home, with the other home\'s user: invite, join and 200 messages each way through the friend\'s mailbox, which is SIGKILLed once', async () => {
    const port = 7452;
    const dirs = { carol: tempDir('paracord-carol-'), alpha: tempDir('paracord-alpha-'), beta: tempDir('paracord-beta-') };
    const carolArgs = ['--public-url', `https://${FRIEND}:${port}`];
    let carol = await serveIn(net.wan, dirs.carol, 'carol.test', `${FRIEND}:${port}`, carolArgs, true);
    // Quick retries (as in the other delivery tests): the mailbox's downtime is short.
    const retries = ['--retry-initial', '200', '--retry-max', '2000'];
    const alpha = await serveIn(net.lans[0], dirs.alpha, 'alpha.test', `${homeAddress(1)}:${port}`, ['--public-url', `https://${homeAddress(1)}:${port}`, ...retries], true);
    const beta = await serveIn(net.lans[1], dirs.beta, 'beta.test', `${homeAddress(2)}:${port}`, ['--public-url', `https://${homeAddress(2)}:${port}`, ...retries], true);
    const on = {
      carol: (m: string, p: string, b?: unknown) => admin(net.wan, dirs.carol, carol.ready.admin_url, m, p, b),
      alpha: (m: string, p: string, b?: unknown) => admin(net.lans[0], dirs.alpha, alpha.ready.admin_url, m, p, b),
      beta: (m: string, p: string, b?: unknown) => admin(net.lans[1], dirs.beta, beta.ready.admin_url, m, p, b),
    };
    try {
      // Each home redeems carol's link from behind its router: peered, and receiving by pull at once.
      for (const home of ['alpha', 'beta'] as const) {
        const link = on.carol('POST', '/invites/peer', {});
        const redeemed = on[home]('POST', '/invites/peer/redeem', { link: link.body.link });
        expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(200);
        expect(redeemed.body.reachable).toBe(false);
      }
      // Both fetch from carol's mailbox (they chose it).
      await poll(() => expect(queryNodeDb<{ n: number }>(dirs.carol, 'SELECT COUNT(*) AS n FROM mailbox_clients')[0]!.n).toBe(2), 60_000);
      await poll(() => expect(queryNodeDb<{ n: number }>(dirs.alpha, 'SELECT COUNT(*) AS n FROM mailbox_sources WHERE last_error IS NULL AND last_fetch_at IS NOT NULL')[0]!.n).toBe(1), 60_000);
      // The homes peer by a link, although neither can reach the other: alpha's link names carol,
      // where alpha receives; beta's request waits there, and alpha's answer comes back the same way.
      const link = on.alpha('POST', '/invites/peer', {}).body.link as string;
      const payload = JSON.parse(Buffer.from(link.slice('paracord://peer/'.length), 'base64url').toString('utf8')) as { mailboxes?: string[] };
      expect(payload.mailboxes).toEqual(['carol.test']);
      const redeemed = on.beta('POST', '/invites/peer/redeem', { link });
      expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(200);
      expect(redeemed.body).toMatchObject({ server_name: 'alpha.test', waiting_at: 'carol.test' });
      await poll(() => {
        expect((on.alpha('GET', '/peers').body.peers as Array<{ server_name: string }>).map((p) => p.server_name)).toContain('beta.test');
        const peers = on.beta('GET', '/peers').body;
        expect(peers.pending).toBeUndefined();
        expect((peers.peers as Array<{ server_name: string }>).map((p) => p.server_name)).toContain('alpha.test');
      }, 60_000);
      // The link was used once: beta's request, left again, changes nothing.
      expect(on.alpha('GET', '/invites/peer').body.invites).toMatchObject([{ state: 'used', used_by: 'beta.test' }]);

      const roomId: string = on.alpha('POST', '/rooms', { name: 'two routers' }).body.room_id;
      const invite = await inviteAcross(on.alpha, on.beta, roomId, '@owner:beta.test', undefined, 60_000);
      const accepted = on.beta('POST', `/invites/${invite.invite_id}/accept`, { user_id: '@owner:beta.test' });
      expect(accepted.body, JSON.stringify(accepted.body)).toEqual({ room_id: roomId, waiting_for_host: true });
      await poll(() => expect((on.beta('GET', `/rooms/${enc(roomId)}`).body.members as Array<{ membership: string }>).filter((m) => m.membership === 'join')).toHaveLength(2), 60_000);

      const batch = (from: number, to: number) => {
        const range = Array.from({ length: to - from }, (_, k) => from + k);
        sendMany(net.lans[0], dirs.alpha, alpha.ready.admin_url, roomId, range.map((k) => `alpha ${k}`));
        sendMany(net.lans[1], dirs.beta, beta.ready.admin_url, roomId, range.map((k) => `beta ${k}`));
      };
      const t0 = Date.now();
      batch(0, 80);
      await poll(() => expect(messagesFrom(dirs.beta, roomId, 'alpha.test').length).toBeGreaterThan(0), 60_000);
      // The mailbox dies in the middle, and comes back.
      carol.run.child.kill('SIGKILL');
      await new Promise((r) => carol.run.child.once('exit', r));
      batch(80, 140);
      carol = await serveIn(net.wan, dirs.carol, 'carol.test', `${FRIEND}:${port}`, carolArgs, true);
      batch(140, 200);
      await poll(() => {
        expect(messagesFrom(dirs.beta, roomId, 'alpha.test')).toHaveLength(200);
        expect(messagesFrom(dirs.alpha, roomId, 'beta.test')).toHaveLength(200);
      }, 120_000);
      console.log(`nat mailbox: 200 messages each way, with the mailbox SIGKILLed once, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      expect(messagesFrom(dirs.beta, roomId, 'alpha.test')).toEqual(sentBy(dirs.alpha, roomId, 'alpha.test'));
      expect(messagesFrom(dirs.alpha, roomId, 'beta.test')).toEqual(sentBy(dirs.beta, roomId, 'beta.test'));
    } finally {
      // A clean stop waits for the long-polls in flight; nothing here is about stopping.
      for (const n of [alpha, beta, carol]) {
        const exited = new Promise((r) => n.run.child.once('exit', r));
        if (n.run.child.exitCode === null && n.run.child.signalCode === null && n.run.child.kill('SIGKILL')) await exited;
      }
    }
  }, 300_000);
});
