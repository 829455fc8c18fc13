/**
 * Issue #14, items 8 (SSRF) and 14 (destination binding). An "internal service" on 127.0.0.1
 * counts every connection it gets; each attack must leave it at 0 while the node answers a clear
 * refusal. Nodes are real (in-process, real SQLite and sockets); the resolver injected into the
 * address policy stands in for DNS, not for a component of ours.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../main/core/crypto/canonical-json.ts';
import { AddressPolicy, type LookupFn } from '../main/core/federation/address-policy.ts';
import { Discovery } from '../main/core/federation/discovery.ts';
import { HttpClient } from '../main/core/federation/http-client.ts';
import { ServerKeys } from '../main/core/federation/server-keys.ts';
import { Identity } from '../main/core/identity/identity.ts';
import { encodeLink } from '../main/core/peering/invite-link.ts';
import { openDatabase } from '../main/core/store/database.ts';
import { Settings } from '../main/core/store/settings.ts';
import { TrustStore } from '../main/core/trust/trust-store.ts';
import { FakePeer } from './helpers/fake-peer.ts';
import { startInProcessNode } from './helpers/in-process-node.ts';
import { sendRaw, sendSigned } from './helpers/signed-request.ts';
import { removeTempDirs, tempDir } from './helpers/temp-dir.ts';

const SPELLINGS_OF_LOOPBACK = ['2130706433', '0x7f000001', '0177.0.0.1', '127.1', '0x7f.1', '127.0.0.1.'];

let internal: Server;
let internalPort = 0;
let hits = 0;
const nodes: Array<Awaited<ReturnType<typeof startInProcessNode>>> = [];
const fakes: FakePeer[] = [];

beforeAll(async () => {
  internal = createServer((_req, res) => res.end('internal secret'));
  internal.on('connection', () => hits++);
  await new Promise<void>((r) => internal.listen(0, '127.0.0.1', r));
  internalPort = (internal.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const n of nodes) await n.node.stop();
  for (const f of fakes) await f.stop();
  internal.closeAllConnections();
  await new Promise<void>((r) => internal.close(() => r()));
  removeTempDirs();
});

async function node(name: string) {
  const started = await startInProcessNode(name);
  nodes.push(started);
  return started;
}

/** A link signed by a real identity, whose endpoint the attacker chose. */
function hostileLink(endpoint: string): string {
  const attacker = Identity.create(join(tempDir(), 'attacker.json'), 'attacker.test');
  const unsigned = {
    v: 1 as const, server_name: 'attacker.test', endpoint, key_id: attacker.keyId, public_key: attacker.publicKeyHex,
    tls_fingerprint: null, token: 'A'.repeat(43), expires_at: Date.now() + 3_600_000,
  };
  return encodeLink({ ...unsigned, sig: attacker.signHex(Buffer.from(canonicalJson(unsigned), 'utf8')) }).link;
}

describe('item 8: numeric spellings of 127.0.0.1 are refused before any connection', () => {
  it('as a server name, an admin endpoint, an origin header and an invite endpoint', async () => {
    const alpha = await node('alpha.test');
    const before = hits;
    for (const spelling of SPELLINGS_OF_LOOPBACK) {
      const asName = await alpha.admin('POST', '/peers', { server_name: `${spelling}:${internalPort}` });
      expect(asName.status, spelling).toBe(400);
      const asEndpoint = await alpha.admin('POST', '/peers', { server_name: 'friend.test', endpoint: `http://${spelling}:${internalPort}` });
      expect(asEndpoint.status, spelling).toBe(400);
      const asOrigin = await sendSigned(
        { serverName: 'x.test', keyId: 'ed25519:k', signHex: () => '0'.repeat(128) },
        alpha.started.federation_url!, 'GET', '/_paracord/federation/v1/keys/cache?server_name=a.test', undefined,
        { destination: null, mutateHeaders: (h) => { h['X-Paracord-Origin'] = `${spelling}:${internalPort}`; } },
      );
      expect(asOrigin.status, spelling).toBe(401);
      expect(asOrigin.body.error).toBe('invalid_auth');
      const asLink = await alpha.admin('POST', '/invites/peer/redeem', { link: hostileLink(`http://${spelling}:${internalPort}`) });
      expect(asLink.status, spelling).toBe(400);
      expect(asLink.body.error).toBe('invalid_link');
    }
    expect(hits - before).toBe(0);
    expect((await alpha.admin('GET', '/peers')).body.peers).toEqual([]);
  });

  it('invite links and POST /peering with userinfo, a path or a query are refused', async () => {
    const alpha = nodes[0]!;
    const before = hits;
    for (const endpoint of [
      `http://user:pw@127.0.0.1:${internalPort}`,
      `http://127.0.0.1:${internalPort}/admin/delete-everything`,
      `http://127.0.0.1:${internalPort}/?action=reboot`,
      `http://127.0.0.1:${internalPort}#frag`,
    ]) {
      const redeemed = await alpha.admin('POST', '/invites/peer/redeem', { link: hostileLink(endpoint) });
      expect(redeemed.status, endpoint).toBe(400);
      expect(redeemed.body.error).toBe('invalid_link');

      const redeemer = Identity.create(join(tempDir(), 'r.json'), 'redeemer.test');
      const body = JSON.stringify({ token: 'A'.repeat(43), server_name: 'redeemer.test', endpoint, key_id: redeemer.keyId, public_key: redeemer.publicKeyHex, tls_fingerprint: null });
      const peering = await sendSigned(redeemer, alpha.started.federation_url!, 'POST', '/_paracord/federation/v1/peering', body);
      expect(peering.status, endpoint).toBe(400);
      expect(peering.body.error).toBe('invalid_request');
    }
    expect(hits - before).toBe(0);
  });

  it('a peer whose discovery names an internal endpoint, or a loopback origin under the open policy, is not contacted there', async () => {
    const alpha = nodes[0]!;
    const before = hits;
    // The open policy: any origin may talk to us, and its keys are fetched at its own name.
    expect((await alpha.admin('PUT', '/policy', { default: 'open' })).status).toBe(200);
    const sender = Identity.create(join(tempDir(), 's.json'), `127.0.0.1:${internalPort}`);
    const answer = await sendSigned(sender, alpha.started.federation_url!, 'GET', '/_paracord/federation/v1/keys/cache?server_name=a.test', undefined, { destination: null });
    expect(answer.status).toBe(403);
    expect(answer.body.error).toBe('unknown_key');
    expect((await alpha.admin('PUT', '/policy', { default: 'allowlist' })).status).toBe(200);
    expect(hits - before).toBe(0);
  });
});

describe('item 8: the address policy, after resolution, with the resolved address pinned', () => {
  function client(lookup: LookupFn, owner: (origin: string) => boolean = () => false) {
    return new HttpClient({ allowInsecureHttp: true, policy: new AddressPolicy({ insecureHttp: true, allowPrivateAddresses: false, isOwnerEndpoint: owner, lookup }) });
  }

  it('a name that resolves to loopback, private or metadata addresses is refused with no connection', async () => {
    const before = hits;
    for (const address of ['127.0.0.1', '10.0.0.8', '169.254.169.254', '100.64.0.1', '::1', 'fd00:ec2::254', '::ffff:127.0.0.1', '0.0.0.0']) {
      const http = client(async () => [{ address, family: address.includes(':') ? 6 : 4 }]);
      await expect(http.send('GET', `http://evil.test:${internalPort}/`, {}), address).rejects.toThrow(/refusing to connect/);
    }
    // Half-internal names are refused too.
    const mixed = client(async () => [{ address: '93.184.216.34', family: 4 }, { address: '127.0.0.1', family: 4 }]);
    await expect(mixed.send('GET', `http://evil.test:${internalPort}/`, {})).rejects.toThrow(/loopback/);
    expect(hits - before).toBe(0);
  });

  it('DNS rebinding: the connection goes to the address that was checked, resolved once', async () => {
    let lookups = 0;
    // First answer: the owner's LAN peer on loopback; any later answer would move it elsewhere.
    const http = client(async () => (lookups++ === 0 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '127.0.0.2', family: 4 }]), (o) => o === `http://rebind.test:${internalPort}`);
    const before = hits;
    const response = await http.send('GET', `http://rebind.test:${internalPort}/`, {});
    expect(response.text).toBe('internal secret');
    expect(lookups).toBe(1);
    expect(hits - before).toBe(1);
    // And the same name without the owner's word is refused.
    await expect(client(async () => [{ address: '127.0.0.1', family: 4 }]).send('GET', `http://rebind.test:${internalPort}/`, {})).rejects.toThrow(/not given by the owner/);
  });

  it('a relayed event\'s unknown origin is not contacted under the allowlist: its keys come from the host\'s cache', async () => {
    const dir = tempDir();
    const db = openDatabase(join(dir, 'node.db'));
    const trust = new TrustStore(db, new Settings(db));
    const origin = Identity.create(join(dir, 'origin.json'), `127.0.0.1:${internalPort}`);
    // The host: a real HTTP server serving the origin's self-signed keys document from its cache.
    const hostServer = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(req.url?.startsWith('/_paracord/federation/v1/keys/cache') ? JSON.stringify(origin.keysDocument()) : '{}');
    });
    await new Promise<void>((r) => hostServer.listen(0, '127.0.0.1', r));
    trust.upsert('host.test', { trust: 'allow', endpoint: `http://127.0.0.1:${(hostServer.address() as AddressInfo).port}` });
    const http = new HttpClient({ allowInsecureHttp: true, policy: new AddressPolicy({ insecureHttp: true, allowPrivateAddresses: false, isOwnerEndpoint: (o) => trust.isExplicitEndpoint(o) }) });
    const me = Identity.create(join(dir, 'me.json'), 'me.test');
    const keys = new ServerKeys(db, http, new Discovery(http, trust), pino({ level: 'silent' }), () => me);
    keys.mayContactRelayedOrigin = (server) => trust.defaultPolicy === 'open' || trust.get(server) !== undefined;
    const before = hits;
    const found = await keys.lookup(origin.serverName, origin.keyId, { purpose: 'event', originTs: Date.now() }, { via: 'host.test' });
    expect(found.ok).toBe(true);
    expect(hits - before).toBe(0);
    hostServer.closeAllConnections();
    await new Promise<void>((r) => hostServer.close(() => r()));
    db.close();
  });
});

describe('item 14: signed requests are bound to their destination', () => {
  const PATH = '/_paracord/federation/v1/keys/cache?server_name=nobody.test';

  async function peer(name: string, binds: boolean): Promise<FakePeer> {
    const fake = await new FakePeer(name).start();
    if (binds) fake.capabilities.push('destination_binding');
    fakes.push(fake);
    return fake;
  }

  it('a request signed for B and replayed to C is refused; bound to the right node it is accepted', async () => {
    const b = await node('b.test');
    const c = await node('c.test');
    expect((await sendRaw(`${c.started.federation_url}/.well-known/paracord/server`, 'GET', {})).body.capabilities).toContain('destination_binding');
    const sender = await peer('sender.test', true);
    for (const n of [b, c]) {
      const added = await n.admin('POST', '/peers', { server_name: 'sender.test', endpoint: sender.url, key_id: sender.identity.keyId, public_key: sender.identity.publicKeyHex });
      expect(added.status, JSON.stringify(added.body)).toBe(200);
    }
    let captured: Record<string, string> = {};
    const toB = await sendSigned(sender.identity, b.started.federation_url!, 'GET', PATH, undefined, { destination: 'b.test', mutateHeaders: (h) => { captured = { ...h }; } });
    expect(toB.status, JSON.stringify(toB.body)).toBe(404); // past authentication: there is just no such cached document
    expect(toB.body.error).toBe('not_found');

    const replayed = await sendRaw(c.started.federation_url! + PATH, 'GET', captured);
    expect(replayed.status).toBe(403);
    expect(replayed.body.error).toBe('wrong_destination');
    // Rewriting the destination header breaks the signature.
    const rewritten = await sendRaw(c.started.federation_url! + PATH, 'GET', { ...captured, 'X-Paracord-Destination': 'c.test' });
    expect(rewritten.status).toBe(403);
    expect(rewritten.body.error).toBe('bad_signature');
    // Dropping it too (the four-line form of the same signature does not verify).
    const { 'X-Paracord-Destination': _dropped, ...unbound } = captured;
    const stripped = await sendRaw(c.started.federation_url! + PATH, 'GET', unbound);
    expect(stripped.status).toBe(403);
  });

  it('an unbound request from a server that advertises binding is refused; old four-line peers still work', async () => {
    const c = nodes[nodes.length - 1]!;
    const legacy = await peer('legacy.test', false);
    const added = await c.admin('POST', '/peers', { server_name: 'legacy.test', endpoint: legacy.url, key_id: legacy.identity.keyId, public_key: legacy.identity.publicKeyHex });
    expect(added.status).toBe(200);
    const old = await sendSigned(legacy.identity, c.started.federation_url!, 'GET', PATH, undefined, { destination: null });
    expect(old.status, JSON.stringify(old.body)).toBe(404);

    const sender = fakes.find((f) => f.serverName === 'sender.test')!;
    const unbound = await sendSigned(sender.identity, c.started.federation_url!, 'GET', PATH, undefined, { destination: null });
    expect(unbound.status).toBe(403);
    expect(unbound.body.error).toBe('destination_binding_required');
    const bound = await sendSigned(sender.identity, c.started.federation_url!, 'GET', PATH);
    expect(bound.status).toBe(404);
  });

  it('our outbound client binds to peers that advertise it, and the peer accepts', async () => {
    // Two of our nodes peer and exchange a signed request through the node's own client.
    const x = await node('x.test');
    const y = await node('y.test');
    const keysOf = async (n: typeof x) => (await sendRaw(`${n.started.federation_url}/_paracord/federation/v1/keys`, 'GET', {})).body;
    const yKeys = await keysOf(y);
    const xKeys = await keysOf(x);
    expect((await x.admin('POST', '/peers', { server_name: 'y.test', endpoint: y.started.federation_url, key_id: yKeys.active_key.key_id, public_key: yKeys.active_key.public_key })).status).toBe(200);
    expect((await y.admin('POST', '/peers', { server_name: 'x.test', endpoint: x.started.federation_url, key_id: xKeys.active_key.key_id, public_key: xKeys.active_key.public_key })).status).toBe(200);
    const room = await x.admin('POST', '/rooms', { name: 'bound' });
    expect(room.status).toBe(200);
    const invited = await x.admin('POST', `/rooms/${encodeURIComponent(room.body.room_id)}/invites`, { user_id: '@owner:y.test' });
    expect(invited.status, JSON.stringify(invited.body)).toBe(200);
  });
});
