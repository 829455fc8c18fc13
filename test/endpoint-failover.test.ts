/**
 * Issue #32 item 4, "peers try them in order", with the node's real HttpClient, Discovery, trust
 * store (SQLite) and address policy against real TLS servers on loopback: a peer's discovery lists
 * three endpoints — its IPv4 one, a bystander's server (a hostile or stale entry), its IPv6 one.
 *  - While the first answers, everything goes there.
 *  - When it stops answering (refused), the next endpoints are tried as the same origin with the
 *    same certificate pin: the bystander is connected to but gets no request (its
 *    certificate is not the pinned one), and the peer's IPv6 endpoint serves the request.
 *  - What was learnt of a peer survives a restart (kept in the database, as node.ts does).
 *  - A failure that is not the network's stands: when the first endpoint answers with another
 *    certificate, the request fails and no other endpoint is asked.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { AddressPolicy } from '../main/core/federation/address-policy.ts';
import { Discovery } from '../main/core/federation/discovery.ts';
import { HttpClient } from '../main/core/federation/http-client.ts';
import { Settings } from '../main/core/store/settings.ts';
import { ensureSelfSignedCertificate, type TlsMaterial } from '../main/core/tls/certificate.ts';
import { TrustStore } from '../main/core/trust/trust-store.ts';
import { describe, expect, it } from './helpers/fixtures.ts';
import { tempDir } from './helpers/temp-dir.ts';

async function certificate(name: string): Promise<TlsMaterial> {
  const dir = tempDir('paracord-cert-');
  return ensureSelfSignedCertificate(join(dir, 'cert.pem'), join(dir, 'key.pem'), name, dir);
}

/** An https server on `host`: `seen` counts its connections and requests. */
async function serve(host: string, tls: TlsMaterial, answer: (path: string) => unknown, port = 0) {
  const seen = { connections: 0, requests: [] as string[] };
  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    seen.requests.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer(req.url ?? '')));
  });
  server.on('connection', () => (seen.connections += 1));
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const origin = `https://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  return { server, seen, origin, port: address.port, close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }) };
}

describe('a peer reachable at several endpoints (issue #32 item 4)', () => {
  it('tries the next endpoint its discovery lists when the first is refused, with the same pin: a bystander listed there gets no request', async ({ tempDb }) => {
    const [peerCert, otherCert] = await Promise.all([certificate('peer.test'), certificate('bystander.test')]);
    const bystander = await serve('127.0.0.1', otherCert, () => ({ served_by: 'bystander' }));
    let endpoints: string[] = [];
    const answer = (who: string) => (path: string) =>
      path === '/.well-known/paracord/server'
        ? { server_name: 'peer.test', domain: 'peer.test', federation_endpoint: endpoints[0], enabled: true, version: 'federation-v1', capabilities: [], federation_endpoints: endpoints }
        : { served_by: who };
    let v4 = await serve('127.0.0.1', peerCert, answer('ipv4'));
    const v6 = await serve('::1', peerCert, answer('ipv6'));
    endpoints = [v4.origin, bystander.origin, v6.origin];
    try {
      const { db } = tempDb;
      const trust = new TrustStore(db, new Settings(db));
      // The owner added the peer by its IPv4 endpoint, with its certificate.
      trust.upsert('peer.test', { trust: 'allow', endpoint: v4.origin, endpoint_source: 'owner', tls_fingerprint: peerCert.fingerprint256 });
      // Test mode (--insecure-http) lets loopback stand in for the public addresses alternates must have.
      const policy = new AddressPolicy({ insecureHttp: true, allowPrivateAddresses: false, endpointVouch: (origin) => trust.endpointVouch(origin) });
      // As node.ts keeps them: the other endpoints of peers' stored origins, in the settings table.
      const settings = new Settings(db);
      const failoverStore = { load: () => settings.get('endpoint_alternates'), save: (text: string) => settings.set('endpoint_alternates', text), keep: (origin: string) => trust.endpointVouch(origin) !== undefined };
      const http = new HttpClient({ allowInsecureHttp: false, pinFor: (url) => trust.pinnedFingerprintFor(url), policy, failoverStore });
      const discovery = new Discovery(http, trust);
      const get = async () => (await http.send('GET', `${v4.origin}/hello`, { accept: 'application/json' })).json as { served_by: string };

      // Read where it lives, from the endpoint the owner gave.
      expect((await discovery.fetchDocument(v4.origin)).federation_endpoints).toEqual(endpoints);
      // The twin: the first endpoint answers, and is the only one asked.
      expect(await get()).toEqual({ served_by: 'ipv4' });
      expect(v6.seen.requests).toEqual([]);

      // The IPv4 endpoint goes away: the next ones are tried, as the same origin.
      await v4.close();
      // (A request on the kept-alive connection the stop cut fails once, as for any peer that stops: senders retry.)
      const first = await get().catch((error: Error) => error);
      if (first instanceof Error) expect(first.message).toContain('other side closed');
      expect(await get()).toEqual({ served_by: 'ipv6' });
      expect(bystander.seen.connections).toBeGreaterThan(0);
      expect(bystander.seen.requests).toEqual([]);
      expect(http.lastConnection(v4.origin)?.to).toMatchObject({ endpoint: v6.origin, family: 6 });
      expect(http.lastConnection(v4.origin)?.failed.map((f) => f.family)).toContain(4);
      // After a restart (a new client on the same database), the peer is still reached without reading its discovery again.
      const restarted = new HttpClient({ allowInsecureHttp: false, pinFor: (url) => trust.pinnedFingerprintFor(url), policy, failoverStore });
      expect((await restarted.send('GET', `${v4.origin}/hello`, {})).json).toEqual({ served_by: 'ipv6' });

      // Something else answers at the first endpoint now (another certificate): that is no network
      // failure, the request fails and no other endpoint is asked.
      v4 = await serve('127.0.0.1', otherCert, () => ({ served_by: 'impostor' }), v4.port);
      const asked = v6.seen.requests.length;
      const fresh = new HttpClient({ allowInsecureHttp: false, pinFor: (url) => trust.pinnedFingerprintFor(url), policy });
      fresh.failover.learn(v4.origin, endpoints);
      await expect(fresh.send('GET', `${v4.origin}/hello`, {})).rejects.toThrow(/certificate|fingerprint|pin/i);
      expect(v6.seen.requests.length).toBe(asked);
      expect(v4.seen.requests).toEqual([]);

      // A peer's discovery cannot send us into the LAN: an alternate at a private, link-local or
      // metadata address is never connected to (outside test mode, loopback neither), whatever the pin.
      const strict = new AddressPolicy({ insecureHttp: false, allowPrivateAddresses: false, endpointVouch: (origin) => trust.endpointVouch(origin) });
      const lan = new HttpClient({ allowInsecureHttp: false, pinFor: (url) => trust.pinnedFingerprintFor(url), policy: strict });
      await v4.close();
      lan.failover.learn(v4.origin, [v4.origin, 'https://10.0.0.1:7447', 'https://[fe80::1]:7447', 'https://169.254.169.254', v6.origin]);
      const before = v6.seen.connections;
      await expect(lan.send('GET', `${v4.origin}/hello`, {})).rejects.toThrow(/ECONNREFUSED|connect/);
      expect(v6.seen.connections).toBe(before);
      for (const ip of ['10.0.0.1', '192.168.1.1', '100.64.0.1', 'fe80::1', 'fd00::1', '169.254.169.254', '127.0.0.1', '::1']) expect(strict.alternateRefusal(ip), ip).toMatch(/tried at a public address only/);
      expect(strict.alternateRefusal('1.1.1.1')).toBeNull();
      expect(new AddressPolicy({ insecureHttp: false, allowPrivateAddresses: true }).alternateRefusal('192.168.1.1')).toBeNull();
    } finally {
      await Promise.all([v4.close(), v6.close(), bystander.close()]);
    }
  }, 60_000);
});
