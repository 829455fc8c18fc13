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
import { afterAll, beforeAll, describe, expect, it, type Nodes } from './helpers/fixtures.ts';
import { canonicalJson } from '../main/core/crypto/canonical-json.ts';
import { AddressPolicy, type EndpointVouch, type LookupFn } from '../main/core/federation/address-policy.ts';
import { Discovery } from '../main/core/federation/discovery.ts';
import { HttpClient } from '../main/core/federation/http-client.ts';
import { ServerKeys } from '../main/core/federation/keys/server-keys.ts';
import { Identity } from '../main/core/identity/identity.ts';
import { encodeLink } from '../main/core/peering/invite-link.ts';
import { Settings } from '../main/core/store/settings.ts';
import { TrustStore } from '../main/core/trust/trust-store.ts';
import type { FakePeer } from './helpers/fake-peer.ts';
import { sendRaw, sendSigned } from './helpers/signed-request.ts';
import { tempDir } from './helpers/temp-dir.ts';

const SPELLINGS_OF_LOOPBACK = ['2130706433', '0x7f000001', '0177.0.0.1', '127.1', '0x7f.1', '127.0.0.1.'];

let internal: Server;
let internalPort = 0;
let hits = 0;

beforeAll(async () => {
  internal = createServer((_req, res) => res.end('internal secret'));
  internal.on('connection', () => hits++);
  await new Promise<void>((r) => internal.listen(0, '127.0.0.1', r));
  internalPort = (internal.address() as AddressInfo).port;
});

afterAll(async () => {
  internal.closeAllConnections();
  await new Promise<void>((r) => internal.close(() => r()));
});

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
  it('as a server name, an admin endpoint, an origin header and an invite endpoint', async ({ fileNodes }) => {
    const alpha = await fileNodes.inProcess('alpha.test');
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

  it('invite links and POST /peering with userinfo, a path or a query are refused', async ({ fileNodes }) => {
    const alpha = fileNodes.inProcessNodes[0]!;
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

  it('an origin named by a loopback address under the open policy is not contacted for its keys', async ({ fileNodes }) => {
    const alpha = fileNodes.inProcessNodes[0]!;
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

  it('under the open policy, reading strangers\' keys is budgeted per source address (3, then one every 10 s), and what a read met is not told back', async ({ fileNodes }) => {
    // Made-up names that resolve nowhere: each is a keys read this node tries for a stranger.
    const alpha = await nodeWithDns(fileNodes, 'alpha-budget.test', {});
    expect((await alpha.admin('PUT', '/policy', { default: 'open' })).status).toBe(200);
    const answers = [];
    for (let i = 1; i <= 4; i++) {
      const sender = Identity.create(join(tempDir(), `s${i}.json`), `made-up-${i}.test`);
      answers.push(await sendSigned(sender, alpha.started.federation_url!, 'GET', '/_paracord/federation/v1/keys/cache?server_name=a.test', undefined, { destination: null }));
    }
    expect(answers.map((a) => a.status), JSON.stringify(answers.map((a) => a.body))).toEqual([503, 503, 503, 429]);
    // (Before: the fourth read too, and each answer told the resolver's words: getaddrinfo ENOTFOUND …)
    for (const answer of answers.slice(0, 3)) {
      expect(answer.body.error).toBe('keys_unavailable');
      expect(answer.body.message).not.toMatch(/ENOTFOUND|getaddrinfo/);
    }
    expect(answers[3]!.body.error).toBe('rate_limited');
  });
});

/** A resolver standing in for DNS: names map to the addresses the test gives them (changeable). */
function dns(table: Record<string, string>): { lookup: LookupFn; table: Record<string, string> } {
  return {
    table,
    lookup: async (hostname) => {
      const address = table[hostname];
      if (!address) throw new Error(`getaddrinfo ENOTFOUND ${hostname}`);
      return [{ address, family: address.includes(':') ? 6 : 4 }];
    },
  };
}

function nodeWithDns(nodes: Nodes, name: string, table: Record<string, string>) {
  return nodes.inProcess(name, { lookup: dns(table).lookup });
}

describe('item 8: endpoints are trusted by who named them and by address, not by name', () => {
  it('an invite link whose host name resolves to loopback is refused, even in --insecure-http test mode', async ({ fileNodes }) => {
    // A compromised friend points the name in its link at our loopback (or LAN).
    const beta = await nodeWithDns(fileNodes, 'beta-ssrf.test', { 'friend.test': '127.0.0.1', 'lan-friend.test': '10.0.0.8' });
    const before = hits;
    for (const host of ['friend.test', 'lan-friend.test']) {
      const redeemed = await beta.admin('POST', '/invites/peer/redeem', { link: hostileLink(`http://${host}:${internalPort}`) });
      expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(403);
      expect(redeemed.body.error).toBe('address_refused');
      expect(redeemed.body.message).toContain('host name');
    }
    expect(hits - before).toBe(0);
    expect((await beta.admin('GET', '/peers')).body.peers).toEqual([]);
  });

  it('POST /peering whose endpoint host name resolves to loopback is refused, and the link stays unused', async ({ fileNodes }) => {
    const alpha = await nodeWithDns(fileNodes, 'alpha-ssrf.test', { 'redeemer.test': '127.0.0.1' });
    const invite = await alpha.admin('POST', '/invites/peer', {});
    expect(invite.status).toBe(200);
    const token = JSON.parse(Buffer.from(invite.body.link.slice('paracord://peer/'.length), 'base64url').toString()).token as string;
    const redeemer = Identity.create(join(tempDir(), 'r.json'), 'redeemer.test');
    const body = JSON.stringify({ token, server_name: 'redeemer.test', endpoint: `http://redeemer.test:${internalPort}`, key_id: redeemer.keyId, public_key: redeemer.publicKeyHex, tls_fingerprint: null });
    const before = hits;
    const peering = await sendSigned(redeemer, alpha.started.federation_url!, 'POST', '/_paracord/federation/v1/peering', body);
    expect(peering.status, JSON.stringify(peering.body)).toBe(403);
    expect(peering.body.error).toBe('address_refused');
    // The verdict, not what the name resolved to here (an oracle of our network otherwise).
    expect(peering.body.message).not.toContain('127.0.0.1');
    expect(hits - before).toBe(0);
    expect((await alpha.admin('GET', '/peers')).body.peers).toEqual([]);
    expect((await alpha.admin('GET', '/invites/peer')).body.invites[0].state).toBe('active');
  });

  it('a host name the owner gave is trusted for the addresses it had when added: re-pointed elsewhere on loopback, it is refused', async ({ fileNodes }) => {
    const friend = await fileNodes.fakePeer('moved.test');
    const port = Number(new URL(friend.url).port);
    // The internal service a compromised friend re-points its name to: same port, another loopback address.
    let movedHits = 0;
    const elsewhere = createServer((_req, res) => res.end('internal secret'));
    elsewhere.on('connection', () => movedHits++);
    await new Promise<void>((r) => elsewhere.listen(port, '127.0.0.2', r));
    fileNodes.servers.push(elsewhere);
    const table = { 'moved.test': '127.0.0.1' };
    const gamma = await nodeWithDns(fileNodes, 'gamma-ssrf.test', table);
    const endpoint = `http://moved.test:${port}`;
    const added = await gamma.admin('POST', '/peers', { server_name: 'moved.test', endpoint });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    const room = (await gamma.admin('POST', '/rooms', { name: 'moving' })).body.room_id as string;
    const first = await gamma.admin('POST', `/rooms/${encodeURIComponent(room)}/invites`, { user_id: '@one:moved.test' });
    expect(first.status, JSON.stringify(first.body)).toBe(200);

    table['moved.test'] = '127.0.0.2';
    friend.dropConnections();
    const second = await gamma.admin('POST', `/rooms/${encodeURIComponent(room)}/invites`, { user_id: '@two:moved.test' });
    expect(second.status).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(second.body)).toContain('did not vouch for this address');
    expect(movedHits).toBe(0);
  });

  it('a peer whose discovery names an internal endpoint is not contacted there', async ({ fileNodes }) => {
    const table = { 'internal.test': '127.0.0.1' };
    const delta = await nodeWithDns(fileNodes, 'delta-ssrf.test', table);
    const before = hits;
    // Added by name only: its discovery is asked at https://<name>, which resolves to loopback.
    const byName = await delta.admin('POST', '/peers', { server_name: `internal.test:${internalPort}` });
    expect(byName.status).toBe(502);
    expect(byName.body.message).toContain('refusing to connect');
    // Why, without reading the words: an address this node does not connect to.
    expect(byName.body).toMatchObject({ error: 'peer_unreachable', reason: 'address_refused', server: `internal.test:${internalPort}` });
    // Added at an endpoint the owner gave, whose discovery names an internal one: never used.
    const friend = await fileNodes.fakePeer('lying.test');
    friend.federationEndpoint = `http://internal.test:${internalPort}`;
    const added = await delta.admin('POST', '/peers', { server_name: 'lying.test', endpoint: friend.url });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    expect(added.body.endpoint).toBe(friend.url);
    const room = (await delta.admin('POST', '/rooms', { name: 'lies' })).body.room_id as string;
    const invited = await delta.admin('POST', `/rooms/${encodeURIComponent(room)}/invites`, { user_id: '@u:lying.test' });
    expect(invited.status, JSON.stringify(invited.body)).toBe(200);
    expect(hits - before).toBe(0);
  });
});

describe('item 8: the address policy, after resolution, with the resolved address pinned', () => {
  function client(lookup: LookupFn, stored: (origin: string) => EndpointVouch | undefined = () => undefined) {
    return new HttpClient({ allowInsecureHttp: true, policy: new AddressPolicy({ insecureHttp: true, allowPrivateAddresses: false, endpointVouch: stored, lookup }) });
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
    // First answer: the owner's LAN peer on loopback (the address the owner vouched for); any
    // later answer would move it elsewhere.
    const owner = (o: string): EndpointVouch | undefined => (o === `http://rebind.test:${internalPort}` ? { vouch: 'owner', addresses: new Set(['127.0.0.1']) } : undefined);
    const http = client(async () => (lookups++ === 0 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '127.0.0.2', family: 4 }]), owner);
    const before = hits;
    const response = await http.send('GET', `http://rebind.test:${internalPort}/`, {});
    expect(response.text).toBe('internal secret');
    expect(lookups).toBe(1);
    expect(hits - before).toBe(1);
    // And the same name without the owner's word is refused.
    await expect(client(async () => [{ address: '127.0.0.1', family: 4 }]).send('GET', `http://rebind.test:${internalPort}/`, {})).rejects.toThrow(/not given by the owner/);
    // Nor with the owner's word for another address, or with a peer's word for the name.
    await expect(client(async () => [{ address: '127.0.0.2', family: 4 }], owner).send('GET', `http://rebind.test:${internalPort}/`, {})).rejects.toThrow(/did not vouch/);
    await expect(client(async () => [{ address: '127.0.0.1', family: 4 }], () => ({ vouch: 'peering' })).send('GET', `http://rebind.test:${internalPort}/`, {})).rejects.toThrow(/host name/);
    expect(hits - before).toBe(1);
  });

  it('a relayed event\'s unknown origin is not contacted under the allowlist: its keys come from the host\'s cache', async ({ tempDb }) => {
    const dir = tempDir();
    const { db } = tempDb;
    const trust = new TrustStore(db, new Settings(db));
    const origin = Identity.create(join(dir, 'origin.json'), `127.0.0.1:${internalPort}`);
    // The host: a real HTTP server serving the origin's self-signed keys document from its cache.
    const hostServer = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(req.url?.startsWith('/_paracord/federation/v1/keys/cache') ? JSON.stringify(origin.keysDocument()) : '{}');
    });
    await new Promise<void>((r) => hostServer.listen(0, '127.0.0.1', r));
    trust.upsert('host.test', { trust: 'allow', endpoint_source: 'owner', endpoint: `http://127.0.0.1:${(hostServer.address() as AddressInfo).port}` });
    const http = new HttpClient({ allowInsecureHttp: true, policy: new AddressPolicy({ insecureHttp: true, allowPrivateAddresses: false, endpointVouch: (o) => trust.endpointVouch(o) }) });
    const me = Identity.create(join(dir, 'me.json'), 'me.test');
    const keys = new ServerKeys(db, http, new Discovery(http, trust), pino({ level: 'silent' }), () => me);
    keys.mayContactRelayedOrigin = (server) => trust.defaultPolicy === 'open' || trust.get(server) !== undefined;
    const before = hits;
    const found = await keys.lookup(origin.serverName, origin.keyId, { purpose: 'event', originTs: Date.now() }, { via: 'host.test' });
    expect(found.ok).toBe(true);
    expect(hits - before).toBe(0);
    hostServer.closeAllConnections();
    await new Promise<void>((r) => hostServer.close(() => r()));
  });
});

describe('item 14: signed requests are bound to their destination', () => {
  const PATH = '/_paracord/federation/v1/keys/cache?server_name=nobody.test';

  async function peer(nodes: Nodes, name: string, binds: boolean): Promise<FakePeer> {
    const fake = await nodes.fakePeer(name);
    if (binds) fake.capabilities.push('destination_binding');
    return fake;
  }

  it('a request signed for B and replayed to C is refused; bound to the right node it is accepted', async ({ fileNodes }) => {
    const b = await fileNodes.inProcess('b.test');
    const c = await fileNodes.inProcess('c.test');
    expect((await sendRaw(`${c.started.federation_url}/.well-known/paracord/server`, 'GET', {})).body.capabilities).toContain('destination_binding');
    const sender = await peer(fileNodes, 'sender.test', true);
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

  it('an unbound request from a server that advertises binding is refused; old four-line peers still work', async ({ fileNodes }) => {
    const c = fileNodes.inProcessNodes[fileNodes.inProcessNodes.length - 1]!;
    const legacy = await peer(fileNodes, 'legacy.test', false);
    const added = await c.admin('POST', '/peers', { server_name: 'legacy.test', endpoint: legacy.url, key_id: legacy.identity.keyId, public_key: legacy.identity.publicKeyHex });
    expect(added.status).toBe(200);
    const old = await sendSigned(legacy.identity, c.started.federation_url!, 'GET', PATH, undefined, { destination: null });
    expect(old.status, JSON.stringify(old.body)).toBe(404);

    const sender = fileNodes.fakes.find((f) => f.serverName === 'sender.test')!;
    const unbound = await sendSigned(sender.identity, c.started.federation_url!, 'GET', PATH, undefined, { destination: null });
    expect(unbound.status).toBe(403);
    expect(unbound.body.error).toBe('destination_binding_required');
    const bound = await sendSigned(sender.identity, c.started.federation_url!, 'GET', PATH);
    expect(bound.status).toBe(404);
  });

  it('a server seen to bind stays bound while its discovery cannot be read, across a restart; a downgrade read from it is honoured', async ({ fileNodes, nodes }) => {
    const binder = await peer(fileNodes, 'binder.test', true);
    const legacy = await peer(fileNodes, 'legacy-down.test', false);
    let d = await nodes.inProcess('d-bind.test');
    const dataDir = d.dataDir;
    for (const f of [binder, legacy]) {
      const added = await d.admin('POST', '/peers', { server_name: f.serverName, endpoint: f.url, key_id: f.identity.keyId, public_key: f.identity.publicKeyHex });
      expect(added.status, JSON.stringify(added.body)).toBe(200);
    }
    // A replay attacker makes the origin's discovery unreadable (or it is just down).
    binder.discoveryDown = true;
    legacy.discoveryDown = true;
    const unbound = () => sendSigned(binder.identity, d.started.federation_url!, 'GET', PATH, undefined, { destination: null });
    const first = await unbound();
    expect(first.status, JSON.stringify(first.body)).toBe(403);
    expect(first.body.error).toBe('destination_binding_required');
    expect((await sendSigned(binder.identity, d.started.federation_url!, 'GET', PATH, undefined, { destination: 'd-bind.test' })).status).toBe(404);
    // A server never seen to bind keeps the four-line form, reachable or not.
    expect((await sendSigned(legacy.identity, d.started.federation_url!, 'GET', PATH, undefined, { destination: null })).status).toBe(404);

    // Remembered in the store: a restart (no cache left) still refuses.
    await d.node.stop();
    d = await nodes.inProcess('d-bind.test', { dataDir });
    const afterRestart = await unbound();
    expect(afterRestart.status).toBe(403);
    expect(afterRestart.body.error).toBe('destination_binding_required');

    // The server itself says it no longer binds (downgraded): its four-line requests work again.
    binder.capabilities = [];
    binder.discoveryDown = false;
    await d.node.stop();
    d = await nodes.inProcess('d-bind.test', { dataDir });
    expect((await unbound()).status).toBe(404);
  });

  it('our outbound client binds to peers that advertise it, and the peer accepts', async ({ fileNodes }) => {
    // Two of our nodes peer and exchange a signed request through the node's own client.
    const x = await fileNodes.inProcess('x.test');
    const y = await fileNodes.inProcess('y.test');
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
