/**
 * Red team 2026-11-26 (peering and reachability): a friend's reach-probe made us dial whatever
 * its discovery document listed as its "other family" endpoint. The probe's answerer fetches the
 * caller's keys at the IPv6 (or IPv4) endpoint of the caller's `federation_endpoints` too, and did
 * so with the vouch of a link (`peering`) and the caller's certificate pin: a literal loopback,
 * LAN or unique-local address passes that vouch. So a hostile friend listing
 * `https://[::1]:<port>` (or the router, a LAN host) made our node open a TCP connection there and
 * send a TLS ClientHello, once per probe, at any port it liked — a discovery document is the
 * peer's word, read without the owner asking, and its other endpoints are dialled at public
 * addresses only (docs/PROTOCOL.md "Other endpoints from discovery").
 *
 * Real in-process node (TLS, no test mode), a hostile friend as a real https server that redeems
 * the node's invite link and then asks for a reach-probe; a trap listener on [::1] counts the
 * connections it gets.
 */
import { once } from 'node:events';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Identity } from '../../main/core/identity/identity.ts';
import { parseLink } from '../../main/core/peering/invite-link.ts';
import { ensureSelfSignedCertificate } from '../../main/core/tls/certificate.ts';
import { describe, expect, it } from '../helpers/fixtures.ts';
import { sendSigned } from '../helpers/signed-request.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const FED = '/_paracord/federation/v1';

describe('red team: a reach-probe dials only public addresses of the caller\'s other endpoints', () => {
  it('a friend whose discovery lists https://[::1]:<port> gets no connection made there by its probe', async ({ nodes }) => {
    // The trap: an internal service on IPv6 loopback.
    let trapped = 0;
    const trap = createTcpServer((socket) => {
      trapped++;
      socket.destroy();
    });
    nodes.servers.push(trap);
    trap.listen(0, '::1');
    await once(trap, 'listening');
    const trapPort = (trap.address() as AddressInfo).port;

    // The hostile friend: a real https server with its own certificate, its keys, a discovery
    // document listing the trap as its "IPv6 endpoint".
    const dir = tempDir('paracord-hostile-');
    const tls = await ensureSelfSignedCertificate(join(dir, 'cert.pem'), join(dir, 'key.pem'), 'hostile.test', dir);
    const identity = Identity.create(join(dir, 'identity.json'), 'hostile.test');
    let base = '';
    const server: Server = createHttpsServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      const path = (req.url ?? '').split('?')[0];
      const body = path === '/.well-known/paracord/server'
        ? { server_name: 'hostile.test', domain: 'hostile.test', federation_endpoint: base, enabled: true, version: 'federation-v1', capabilities: [], federation_endpoints: [base, `https://[::1]:${trapPort}`] }
        : path === `${FED}/keys` ? identity.keysDocument() : { error: 'not_found' };
      res.writeHead(path === `${FED}/keys` || path === '/.well-known/paracord/server' ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    nodes.servers.push(server as unknown as (typeof nodes.servers)[number]);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

    // alpha: a real node over TLS, not in test mode.
    const alpha = await nodes.inProcess('alpha.test', { insecureHttp: false });
    const alphaUrl = alpha.started.federation_url!;
    expect(alphaUrl).toMatch(/^https:/);
    const created = await alpha.admin('POST', '/invites/peer', {});
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const parsed = parseLink(created.body.link);
    if (!parsed.ok) throw new Error(parsed.reason);

    // The friend redeems the link at its own endpoint, certificate pinned: alpha reaches it there.
    const request = JSON.stringify({ token: parsed.payload.token, server_name: 'hostile.test', endpoint: base, key_id: identity.keyId, public_key: identity.publicKeyHex, tls_fingerprint: tls.fingerprint256 });
    const peered = await sendSigned(identity, alphaUrl, 'POST', `${FED}/peering`, request);
    expect(peered.status, peered.text).toBe(200);
    expect(peered.body.reachable).toBe(true);

    // Its probe: alpha calls it back at its endpoint (IPv4), then tries its "IPv6 endpoint".
    const probe = await sendSigned(identity, alphaUrl, 'POST', `${FED}/reach-probe`, '{}');
    expect(probe.status, probe.text).toBe(200);
    expect(probe.body.reachable).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(trapped, 'alpha connected to an IPv6 loopback port its friend\'s discovery named').toBe(0);
    expect(probe.body.families.ipv6).not.toBe(true);
  });
});
