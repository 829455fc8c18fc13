/**
 * Red team (issue #37 item 1, review of the fix): one invite link claiming a server beta knows only
 * through a friend's room. sig.test is a member server of alpha's room; beta (alpha's peer, in the
 * room) knows sig.test's keys only as alpha relays them. A holder of one of beta's links redeemed
 * it as sig.test with a key of its own: the name counted as free, the pin dropped the relayed keys,
 * every sig.test event alpha relayed was then refused and counted against alpha as bad signatures
 * until alpha was quarantined. Secure outcome (name-claims.ts): a server known indirectly is not a
 * free name; a link may name it only with a key every relaying host lists for it, or a key it
 * proves at https://<name>. Otherwise 409 `already_peer`, nothing changed, the link stays unused.
 */
import { join } from 'node:path';
import { describe, expect, it, type Nodes } from '../helpers/fixtures.ts';
import { canonicalJson } from '../../main/core/crypto/canonical-json.ts';
import { Identity } from '../../main/core/identity/identity.ts';
import { encodeLink, parseLink } from '../../main/core/peering/invite-link.ts';
import { MEMBERSHIP_WIRE_ORDER, wireJson } from '../../main/core/federation/wire-json.ts';
import { makeEvent, wire } from '../helpers/events.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import { joinFakePeer } from '../helpers/fake-members.ts';
import { startInProcessNode } from '../helpers/in-process-node.ts';
import type { NodeProcess } from '../helpers/node-process.ts';
import { enc, eventually, inviteAndJoin } from '../helpers/rooms.ts';
import { sendSigned } from '../helpers/signed-request.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { PEERING_PATH } from '../../main/core/federation/paths.ts';

type Node = Awaited<ReturnType<typeof startInProcessNode>>;
const FED = '/_paracord/federation/v1';
let alpha: Node | undefined;
let beta: Node | undefined;
let sig: FakePeer | undefined;
let ghost: FakePeer | undefined;
let roomId = '';
let depth = 0;
/**
 * The depth of the fake servers' next event: later than anything alpha has stamped since their last
 * one (alpha's room clock is max(its time, the room's depth + 1)), even when the machine is slow:
 * a join older than the invite it answers loses to that invite (the red team failed that way under
 * load, when it counted up from the time the file was loaded).
 */
function nextDepth(): number {
  depth = Math.max(depth + 100, Date.now() + 2_000);
  return depth;
}
/** A message of `from` (a member server of alpha's room) sent to alpha, which relays it to beta. */
async function say(from: FakePeer, body: string): Promise<void> {
  const event = makeEvent(from.identity, { room_id: roomId, sender: `@u:${from.serverName}`, depth: nextDepth(), content: { body, format: 'plain' } });
  const sent = await sendSigned(from.identity, alpha!.started.federation_url!, 'POST', `${FED}/event`, wire(event));
  expect(sent.status, sent.text).toBe(202);
}
async function bodies(node: Node): Promise<string[]> {
  return ((await node.admin('GET', `/rooms/${enc(roomId)}/messages?limit=200`)).body.messages as Array<{ body: string }>).map((m) => m.body);
}
async function peerOf(node: Node, server: string) {
  return (await node.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === server);
}

/** A fake peer answering as sig.test with a key of the attacker's; `requests`: each request's method and URL. */
async function startImpostor(nodes: Nodes, forged: Identity): Promise<{ url: string; requests: string[] }> {
  const impostor = await nodes.fakePeer('sig.test', { identity: forged });
  return { url: impostor.url, requests: impostor.calls };
}

describe('red team: an invite link naming a server known only through a friend\'s room', () => {
  it('is refused 409 already_peer with another key; sig.test\'s events keep arriving through alpha, alpha stays allowed; sig.test\'s own key is taken', async ({ fileNodes }) => {
    // beta's limit on peering requests per address is lifted: the bound under test is the one per name.
    [alpha, beta] = await Promise.all([fileNodes.inProcess('alpha.test'), fileNodes.inProcess('beta.test', { config: { peeringRateLimit: { per_second: 100, burst: 100 } } })]);
    const a = alpha;
    const b = beta;
    expect((await a.admin('POST', '/peers', { server_name: 'beta.test', endpoint: b.started.federation_url })).status).toBe(200);
    expect((await b.admin('POST', '/peers', { server_name: 'alpha.test', endpoint: a.started.federation_url })).status).toBe(200);
    sig = await fileNodes.fakePeer('sig.test');
    const s = sig;
    roomId = (await a.admin('POST', '/rooms', { name: 'r' })).body.room_id as string;
    await joinFakePeer({ admin: a.admin, federationUrl: a.started.federation_url } as unknown as NodeProcess, roomId, s);
    await inviteAndJoin(a, roomId, b, '@owner:beta.test');
    await say(s, 'one');
    await eventually(async () => expect(await bodies(b)).toContain('one'));
    const sigPeer = () => peerOf(b, 'sig.test');
    expect(await sigPeer()).toBeUndefined(); // beta knows sig.test only through alpha

    // The attack: beta's link redeemed as sig.test with the attacker's key.
    const forged = Identity.create(join(tempDir(), 'identity.json'), 'sig.test');
    const fake = await startImpostor(fileNodes, forged);
    const { id, link } = (await b.admin('POST', '/invites/peer', {})).body;
    const token = (parseLink(link) as { ok: true; payload: { token: string } }).payload.token;
    const request = (who: Identity, endpoint: string) =>
      JSON.stringify({ token, server_name: 'sig.test', endpoint, key_id: who.keyId, public_key: who.publicKeyHex, tls_fingerprint: null });
    const answer = await sendSigned(forged, b.started.federation_url!, 'POST', PEERING_PATH, request(forged, fake.url));
    expect(answer.status, JSON.stringify(answer.body)).toBe(409);
    expect(answer.body.error).toBe('already_peer');
    expect(await sigPeer()).toBeUndefined();
    const linkState = async () => (await b.admin('GET', '/invites/peer')).body.invites.find((i: { id: string }) => i.id === id);
    expect((await linkState()).state).toBe('active');

    // The other way round: a link "of sig.test" made by the attacker: the preview says so, redeeming is refused before contact.
    const unsigned = {
      v: 1 as const, server_name: 'sig.test', endpoint: fake.url, key_id: forged.keyId, public_key: forged.publicKeyHex,
      tls_fingerprint: null, token: 'x'.repeat(43), expires_at: Date.now() + 3_600_000,
    };
    const forgedLink = encodeLink({ ...unsigned, sig: forged.signHex(Buffer.from(canonicalJson(unsigned), 'utf8')) }).link;
    expect((await b.admin('POST', '/invites/peer/preview', { link: forgedLink })).body.already_peer).toBe(true);
    const redeemed = await b.admin('POST', '/invites/peer/redeem', { link: forgedLink });
    expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(409);
    expect(redeemed.body.error).toBe('already_peer');
    expect(fake.requests.filter((r) => r.startsWith('POST'))).toEqual([]);

    // sig.test's events relayed by alpha still verify on beta, and alpha is not blamed.
    for (let i = 0; i < 12; i++) await say(s, `after ${i}`);
    await eventually(async () => expect(await bodies(b)).toContain('after 11'));
    expect((await peerOf(b, 'alpha.test')).trust).toBe('allow');

    // The twin: the genuine sig.test redeems the same link with the key alpha relayed for it.
    const genuine = await sendSigned(s.identity, b.started.federation_url!, 'POST', PEERING_PATH, request(s.identity, s.url));
    expect(genuine.status, JSON.stringify(genuine.body)).toBe(200);
    expect(await linkState()).toMatchObject({ state: 'used', used_by: 'sig.test' });
    expect((await sigPeer()).keys.map((k: { key_id: string }) => k.key_id)).toContain(s.identity.keyId);
    await say(s, 'after peering');
    await eventually(async () => expect(await bodies(b)).toContain('after peering'));
  }, 90_000);

  it('events of a member whose keys beta cannot find are refused without blaming alpha, which relays them; a bad signature sent directly still counts', async ({ fileNodes }) => {
    const a = alpha!;
    const b = beta!;
    expect((await b.admin('PUT', '/policy', { auto_quarantine: { signature_failures: 5, rate_limited: 2000, window_seconds: 600 } })).status).toBe(200);
    // ghost.test: alpha pinned its key (no keys document fetched, so alpha's key cache has none) and
    // https://ghost.test does not answer: beta finds no key for its events.
    ghost = await fileNodes.fakePeer('ghost.test');
    const g = ghost;
    const added = await a.admin('POST', '/peers', { server_name: 'ghost.test', endpoint: g.url, key_id: g.identity.keyId, public_key: g.identity.publicKeyHex });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    expect((await a.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: '@u:ghost.test' })).status).toBe(200);
    const joinEvent = makeEvent(g.identity, { room_id: roomId, event_type: 'm.member.join', sender: '@u:ghost.test', state_key: '@u:ghost.test', content: { membership: 'join' }, depth: nextDepth() });
    const joined = await sendSigned(g.identity, a.started.federation_url!, 'POST', `${FED}/join`,
      wireJson({ origin_server: 'ghost.test', room_id: roomId, user_id: '@u:ghost.test', event: joinEvent }, MEMBERSHIP_WIRE_ORDER));
    expect(joined.status, JSON.stringify(joined.body)).toBe(200);
    for (let i = 0; i < 12; i++) await say(g, `ghost ${i}`);
    await eventually(async () => expect(await bodies(a)).toContain('ghost 11'));
    // The twin: an event of sig.test relayed after them arrives; alpha is still allowed on beta.
    await say(sig!, 'after the ghost');
    await eventually(async () => expect(await bodies(b)).toContain('after the ghost'));
    expect(await bodies(b)).not.toContain('ghost 11');
    expect((await peerOf(b, 'alpha.test')).trust).toBe('allow');

    // A signature that fails against the origin's own key, sent by the origin itself (alpha, the host), still counts.
    const alphaId = Identity.load(join(a.dataDir, 'identity.json'));
    for (let i = 0; i < 6; i++) {
      const event = makeEvent(alphaId, { room_id: roomId, sender: '@owner:alpha.test', depth: nextDepth(), content: { body: `forged ${i}`, format: 'plain' } });
      const sigs = event.signatures['alpha.test']!;
      for (const k of Object.keys(sigs)) sigs[k] = '00'.repeat(64);
      const sent = await sendSigned(alphaId, b.started.federation_url!, 'POST', `${FED}/event`, wire(event));
      expect(sent.status, sent.text).toBe(403);
      expect(sent.body.error).toBe('bad_event_signature');
    }
    await eventually(async () => expect((await peerOf(b, 'alpha.test')).trust).toBe('quarantine'));
  }, 90_000);

  it('a link redeemed again and again as sig.test (now a peer) with fresh keys makes beta fetch sig.test\'s keys at most 3 times a minute; sig.test\'s own key is still taken', async () => {
    const b = beta!;
    const s = sig!;
    const { id, link } = (await b.admin('POST', '/invites/peer', {})).body;
    const token = (parseLink(link) as { ok: true; payload: { token: string } }).payload.token;
    const keyFetches = () => s.requests.filter((r) => r === `${FED}/keys`).length;
    const before = keyFetches();
    for (let i = 0; i < 8; i++) {
      const forged = Identity.create(join(tempDir(), 'identity.json'), 'sig.test');
      const body = JSON.stringify({ token, server_name: 'sig.test', endpoint: s.url, key_id: forged.keyId, public_key: forged.publicKeyHex, tls_fingerprint: null });
      const answer = await sendSigned(forged, b.started.federation_url!, 'POST', PEERING_PATH, body);
      expect(answer.status, JSON.stringify(answer.body)).toBe(409);
    }
    expect(keyFetches() - before).toBeLessThanOrEqual(3);
    expect(keyFetches() - before).toBeGreaterThan(0);
    // The twin: sig.test with the key beta holds.
    const body = JSON.stringify({ token, server_name: 'sig.test', endpoint: s.url, key_id: s.identity.keyId, public_key: s.identity.publicKeyHex, tls_fingerprint: null });
    const genuine = await sendSigned(s.identity, b.started.federation_url!, 'POST', PEERING_PATH, body);
    expect(genuine.status, JSON.stringify(genuine.body)).toBe(200);
    expect((await b.admin('GET', '/invites/peer')).body.invites.find((i: { id: string }) => i.id === id)).toMatchObject({ state: 'used', used_by: 'sig.test' });
  });
});
