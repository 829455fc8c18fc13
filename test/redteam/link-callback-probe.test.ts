/**
 * Red team (peering by invite link, 2026-11-30): a redemption refused at its call-back (what
 * answers at the endpoint it names is not its server) leaves the link unused, for a genuine
 * redeemer whose endpoint was wrong. Its holder could therefore name address after address of the
 * owner's network with a certificate pin, one every 10 s, and learn from each "pin_mismatch" that
 * something answers TLS there, for as long as the link lasted. Now the third refused call-back ends
 * the link, and is answered `link_ended` rather than its verdict; the owner sees why. The same
 * request again counts once, and redemptions sent together are checked one at a time (a review of
 * the first fix: all of them got their verdict before the count ended the link). A real node in
 * this process, a real TLS listener as the "device".
 */
import { createServer as createHttpsServer, type Server } from 'node:https';
import { connect, createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import selfsigned from 'selfsigned';
import { expect, it } from '../helpers/fixtures.ts';
import { Identity } from '../../main/core/identity/identity.ts';
import { PEERING_PATH } from '../../main/core/federation/paths.ts';
import { parseLink } from '../../main/core/peering/invite-link.ts';
import { MAX_REFUSED_CALLBACKS } from '../../shared/contract/admin/peer-invites.ts';
import { sendSigned } from '../helpers/signed-request.ts';
import { tempDir } from '../helpers/temp-dir.ts';

it(`the ${MAX_REFUSED_CALLBACKS}rd redemption refused at its call-back ends the link: no more answers about what listens where`, async ({ fileNodes }) => {
  // More redemptions from one address than the default allows (5, then one every 10 s): each is
  // checked here, not the rate limit.
  const alpha = await fileNodes.inProcess('alpha.test', { config: { peeringRateLimit: { per_second: 10, burst: 20 } } });
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'device.lan' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  let asked = 0;
  const device: Server = createHttpsServer({ key: pems.private, cert: pems.cert }, (_req, res) => {
    asked++;
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => device.listen(0, '127.0.0.1', r));
  try {
    const created = await alpha.admin('POST', '/invites/peer', {});
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const parsed = parseLink(created.body.link);
    if (!parsed.ok) throw new Error('a link the node made does not parse');
    const holder = Identity.create(join(tempDir(), 'identity.json'), 'holder.test');
    const endpoint = `https://127.0.0.1:${(device.address() as { port: number }).port}`;
    const newPin = () => Array.from({ length: 32 }, () => Math.floor(Math.random() * 256).toString(16).padStart(2, '0').toUpperCase()).join(':');
    // Another pin each time, as a prober's would be: never the device's certificate.
    const redeem = (pin = newPin(), at = endpoint) => {
      const body = JSON.stringify({ token: parsed.payload.token, server_name: 'holder.test', endpoint: at, key_id: holder.keyId, public_key: holder.publicKeyHex, tls_fingerprint: pin });
      return sendSigned(holder, alpha.started.federation_url!, 'POST', PEERING_PATH, body);
    };
    const state = async () => (await alpha.admin('GET', '/invites/peer')).body.invites.find((i: { id: string }) => i.id === created.body.id);

    // The same request again (as a redeemer's mailbox leaves it every few minutes) counts once.
    const samePin = newPin();
    for (let i = 0; i < 2; i++) {
      const refused = await redeem(samePin);
      expect(refused.status, JSON.stringify(refused.body)).toBe(403);
      expect(refused.body.error).toBe('pin_mismatch');
      expect(await state()).toMatchObject({ state: 'active', refused_callbacks: 1 });
    }
    // Several at once (a slow listener in front of the device holds the first call-back for a
    // second): one call-back at a time per link, the others 429 before anything is tried.
    const slow = createNetServer((socket) => {
      setTimeout(() => {
        const upstream = connect((device.address() as { port: number }).port, '127.0.0.1');
        socket.pipe(upstream).pipe(socket);
        upstream.on('error', () => socket.destroy());
        socket.on('error', () => upstream.destroy());
      }, 1_000);
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    try {
      const slowEndpoint = `https://127.0.0.1:${(slow.address() as { port: number }).port}`;
      const together = await Promise.all([redeem(newPin(), slowEndpoint), redeem(), redeem()]);
      expect(together.map((r) => r.status).sort(), JSON.stringify(together.map((r) => r.body))).toEqual([403, 429, 429]);
      expect(together.find((r) => r.status === 403)!.body.error).toBe('pin_mismatch');
    } finally {
      await new Promise((r) => slow.close(r));
    }
    expect(await state()).toMatchObject({ state: 'active', refused_callbacks: 2 });
    // The third refused call-back ends the link, and says so instead of its verdict.
    const third = await redeem();
    expect(third.status, JSON.stringify(third.body)).toBe(403);
    expect(third.body.error).toBe('link_ended');
    // From now on the link is over, whatever it names: nothing is sent to the address any more.
    const seen = asked;
    const over = await redeem();
    expect(over.status, JSON.stringify(over.body)).toBe(403);
    expect(over.body).toMatchObject({ error: 'link_ended' });
    expect(asked).toBe(seen);
    // (Before: each attempt answered pin_mismatch, and the link stayed active.)
    expect(await state()).toMatchObject({ state: 'revoked', refused_callbacks: MAX_REFUSED_CALLBACKS, used_by: null });
    // The owner's own revocation of another link still says "revoked by its owner".
    const other = await alpha.admin('POST', '/invites/peer', {});
    expect((await alpha.admin('DELETE', `/invites/peer/${other.body.id}`)).status).toBe(200);
    const otherToken = (parseLink(other.body.link) as { ok: true; payload: { token: string } }).payload.token;
    const revoked = await sendSigned(holder, alpha.started.federation_url!, 'POST', PEERING_PATH, JSON.stringify({ token: otherToken, server_name: 'holder.test', endpoint, key_id: holder.keyId, public_key: holder.publicKeyHex, tls_fingerprint: null }));
    expect(revoked.body).toMatchObject({ error: 'link_revoked' });
  } finally {
    await new Promise((r) => device.close(r));
  }
});
