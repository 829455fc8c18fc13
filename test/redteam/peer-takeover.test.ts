/**
 * Red team (issue #37 item 1, CRITICAL): taking over a peer with one invite link. Anybody given
 * one link of alpha's could redeem it as bob.test (a server alpha already peers with) with a key of
 * their own under bob's key id: the peering overwrote bob's endpoint and re-bound bob's key id, so
 * the impostor read the room as bob.test and the real bob was refused. The other way round, a link
 * "of bob.test" made by the impostor was redeemed although its preview said `already_peer`.
 * Secure outcome (name-claims.ts, ServerKeys.pin): a link may name an existing peer only with a key
 * that peer proved its own (one alpha holds, or one its own keys document lists: its rotation);
 * otherwise 409 `already_peer`, nothing changed, and the link stays unused for a genuine redeemer.
 * A key id is never re-bound, not even by the owner's `peer add`.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from '../helpers/fixtures.ts';
import { canonicalJson } from '../../main/core/crypto/canonical-json.ts';
import { Identity } from '../../main/core/identity/identity.ts';
import { encodeLink, parseLink } from '../../main/core/peering/invite-link.ts';
import { startInProcessNode } from '../helpers/in-process-node.ts';
import { enc, eventually, inviteAndJoin, messages, send } from '../helpers/rooms.ts';
import { sendSigned } from '../helpers/signed-request.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { PEERING_PATH } from '../../main/core/federation/paths.ts';

type Node = Awaited<ReturnType<typeof startInProcessNode>>;
const FED = '/_paracord/federation/v1';

/** A key of the attacker's under a key id it chose (bob's): an identity file written by hand. */
function identityWithKeyId(serverName: string, keyId: string): Identity {
  const file = join(tempDir(), 'identity.json');
  writeFileSync(file, JSON.stringify({ version: 1, server_name: serverName, active: { key_id: keyId, seed: randomBytes(32).toString('hex'), created_at: Date.now() }, next: [], old: [] }), { mode: 0o600 });
  return Identity.load(file);
}

let alpha: Node;
let bob: Node;
let carol: Node | undefined;
let bobKey: { key_id: string; public_key: string };
let roomId: string;

async function peerOf(node: Node, server: string) {
  return (await node.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === server);
}

async function newLink(node: Node): Promise<{ id: string; link: string }> {
  const created = await node.admin('POST', '/invites/peer', {});
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  return created.body;
}

async function linkState(node: Node, id: string) {
  return (await node.admin('GET', '/invites/peer')).body.invites.find((i: { id: string }) => i.id === id);
}

/** Both nodes still exchange messages in their room (the genuine peer keeps working). */
async function stillTalking(text: string): Promise<void> {
  const fromAlpha = await send(alpha, roomId, `${text} (alpha)`);
  const fromBob = await send(bob, roomId, `${text} (bob)`);
  for (const node of [alpha, bob]) {
    await eventually(async () => {
      const ids = (await messages(node, roomId)).map((m) => m.event_id);
      expect(ids).toContain(fromAlpha);
      expect(ids).toContain(fromBob);
    });
  }
}

/** What alpha holds about bob.test: endpoint, and every key id with its public key. */
async function bobAsAlphaKnowsIt() {
  const peer = await peerOf(alpha, 'bob.test');
  return { endpoint: peer.endpoint, trust: peer.trust, keys: peer.keys.map((k: { key_id: string; public_key: string }) => `${k.key_id} ${k.public_key}`).sort() };
}

beforeAll(async ({ fileNodes }) => {
  alpha = await fileNodes.inProcess('alpha.test');
  bob = await fileNodes.inProcess('bob.test');
  const { link } = await newLink(alpha);
  const redeemed = await bob.admin('POST', '/invites/peer/redeem', { link });
  expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(200);
  const identity = Identity.load(join(bob.dataDir, 'identity.json'));
  bobKey = { key_id: identity.keyId, public_key: identity.publicKeyHex };
  roomId = (await alpha.admin('POST', '/rooms', { name: 'friends' })).body.room_id;
  await inviteAndJoin(alpha, roomId, bob, '@owner:bob.test');
  await stillTalking('before');
});

describe('red team: one invite link against a peer we already have', () => {
  it('redeeming alpha\'s link as bob.test with bob\'s key id and another key is refused 409 already_peer; bob keeps talking; the link stays usable', async ({ fileNodes }) => {
    const before = await bobAsAlphaKnowsIt();
    const { id, link } = await newLink(alpha);
    const token = (parseLink(link) as { ok: true; payload: { token: string } }).payload.token;
    const impostor = await fileNodes.fakePeer('bob.test', { identity: identityWithKeyId('bob.test', bobKey.key_id) });
    const body = JSON.stringify({ token, server_name: 'bob.test', endpoint: impostor.url, key_id: bobKey.key_id, public_key: impostor.identity.publicKeyHex, tls_fingerprint: null });
    const answer = await sendSigned(impostor.identity, alpha.started.federation_url!, 'POST', PEERING_PATH, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(409);
    expect(answer.body).toMatchObject({ error: 'already_peer' });
    expect(answer.body.message).toMatch(/bob\.test is already a peer/);

    // Nothing changed: bob's endpoint and key as before, the impostor reads nothing as bob.test.
    expect(await bobAsAlphaKnowsIt()).toEqual(before);
    const asBob = await sendSigned(impostor.identity, alpha.started.federation_url!, 'GET', `${FED}/events?room_id=${enc(roomId)}&since_depth=0`);
    expect(asBob.status).toBe(403);
    expect((await linkState(alpha, id)).state).toBe('active');
    await stillTalking('after the impostor');

    // The twin: the link, unused, still peers a genuine new server.
    carol = await fileNodes.inProcess('carol.test');
    const redeemed = await carol.admin('POST', '/invites/peer/redeem', { link });
    expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(200);
    expect(await linkState(alpha, id)).toMatchObject({ state: 'used', used_by: 'carol.test' });
  });

  it('a new key id whose keys document lists bob\'s pinned key as its own old key is refused too', async ({ fileNodes }) => {
    const before = await bobAsAlphaKnowsIt();
    const { id, link } = await newLink(alpha);
    const token = (parseLink(link) as { ok: true; payload: { token: string } }).payload.token;
    const forged = Identity.create(join(tempDir(), 'identity.json'), 'bob.test');
    const impostor = await fileNodes.fakePeer('bob.test', { identity: forged });
    // Self-signed by the forged key, listing bob's public key (public information): the pinned-key rule holds.
    impostor.keysDocument = () => {
      const own = forged.keysDocument();
      const unsigned = { server_name: 'bob.test', active_key: own.active_key, next_keys: [], old_keys: [{ ...bobKey, valid_until: Date.now(), expired_at: Date.now() }] };
      return { ...unsigned, signatures: { 'bob.test': { [forged.keyId]: forged.signJson(unsigned) } } };
    };
    const body = JSON.stringify({ token, server_name: 'bob.test', endpoint: impostor.url, key_id: forged.keyId, public_key: forged.publicKeyHex, tls_fingerprint: null });
    const answer = await sendSigned(forged, alpha.started.federation_url!, 'POST', PEERING_PATH, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(409);
    expect(answer.body.error).toBe('already_peer');
    expect(await bobAsAlphaKnowsIt()).toEqual(before);
    expect((await linkState(alpha, id)).state).toBe('active');
    await stillTalking('after the forged rotation');
  });

  it('a link "of bob.test" made by the impostor: the preview says already_peer, redeeming is refused 409 before the impostor is contacted; bob\'s genuine link still re-peers', async ({ fileNodes }) => {
    const before = await bobAsAlphaKnowsIt();
    const impostor = await fileNodes.fakePeer('bob.test', { identity: identityWithKeyId('bob.test', bobKey.key_id) });
    const unsigned = {
      v: 1 as const, server_name: 'bob.test', endpoint: impostor.url, key_id: bobKey.key_id, public_key: impostor.identity.publicKeyHex,
      tls_fingerprint: null, token: randomBytes(32).toString('base64url'), expires_at: Date.now() + 3_600_000,
    };
    const { link } = encodeLink({ ...unsigned, sig: impostor.identity.signHex(Buffer.from(canonicalJson(unsigned), 'utf8')) });
    const preview = await alpha.admin('POST', '/invites/peer/preview', { link });
    expect(preview.status).toBe(200);
    expect(preview.body.already_peer).toBe(true);
    const redeemed = await alpha.admin('POST', '/invites/peer/redeem', { link });
    expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(409);
    expect(redeemed.body.error).toBe('already_peer');
    expect(impostor.requests).toEqual([]);
    expect(await bobAsAlphaKnowsIt()).toEqual(before);
    await stillTalking('after the forged link');

    // The twin: a genuine link of bob's (the key alpha holds) peers again and changes nothing else.
    const genuine = await newLink(bob);
    const again = await alpha.admin('POST', '/invites/peer/redeem', { link: genuine.link });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(await bobAsAlphaKnowsIt()).toEqual(before);
    expect(await linkState(bob, genuine.id)).toMatchObject({ state: 'used', used_by: 'alpha.test' });
    await stillTalking('after peering again');
  });

  it('the owner\'s own `peer add` cannot re-bind bob\'s key id either (409 already_peer; confirmed, 409 key_id_bound; nothing changed)', async ({ fileNodes }) => {
    const before = await bobAsAlphaKnowsIt();
    const impostor = await fileNodes.fakePeer('bob.test', { identity: identityWithKeyId('bob.test', bobKey.key_id) });
    const input = { server_name: 'bob.test', endpoint: impostor.url, key_id: bobKey.key_id, public_key: impostor.identity.publicKeyHex };
    const added = await alpha.admin('POST', '/peers', input);
    expect(added.status, JSON.stringify(added.body)).toBe(409);
    expect(added.body.error).toBe('already_peer');
    const confirmed = await alpha.admin('POST', '/peers', { ...input, replace: true });
    expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(409);
    expect(confirmed.body.error).toBe('key_id_bound');
    expect(await bobAsAlphaKnowsIt()).toEqual(before);
    await stillTalking('after the owner\'s mistake');
  });

  it('the owner\'s `peer add` of bob at another endpoint (serving a forged rotation) is refused 409 already_peer unless confirmed; nothing changed; the same endpoint still re-adds', async ({ fileNodes }) => {
    const before = await bobAsAlphaKnowsIt();
    const forged = Identity.create(join(tempDir(), 'identity.json'), 'bob.test');
    const impostor = await fileNodes.fakePeer('bob.test', { identity: forged });
    // Self-signed by the forged key, listing bob's pinned key as its own expired old key.
    impostor.keysDocument = () => {
      const own = forged.keysDocument();
      const unsigned = { server_name: 'bob.test', active_key: own.active_key, next_keys: [], old_keys: [{ ...bobKey, valid_until: Date.now(), expired_at: Date.now() - 1_000 }] };
      return { ...unsigned, signatures: { 'bob.test': { [forged.keyId]: forged.signJson(unsigned) } } };
    };
    const readd = await alpha.admin('POST', '/peers', { server_name: 'bob.test', endpoint: impostor.url });
    expect(readd.status, JSON.stringify(readd.body)).toBe(409);
    expect(readd.body.error).toBe('already_peer');
    expect(readd.body.message).toMatch(/replace/);
    // A key the owner types for bob that alpha does not hold is a change too.
    const pinned = await alpha.admin('POST', '/peers', { server_name: 'bob.test', endpoint: before.endpoint, key_id: forged.keyId, public_key: forged.publicKeyHex });
    expect(pinned.status, JSON.stringify(pinned.body)).toBe(409);
    expect(pinned.body.error).toBe('already_peer');
    expect(await bobAsAlphaKnowsIt()).toEqual(before);
    await stillTalking('after the owner\'s re-add');

    // The twin: bob added again where alpha knows it changes nothing and is taken.
    const same = await alpha.admin('POST', '/peers', { server_name: 'bob.test', endpoint: before.endpoint });
    expect(same.status, JSON.stringify(same.body)).toBe(200);
    expect(await bobAsAlphaKnowsIt()).toEqual(before);
    await stillTalking('after the genuine re-add');
  });

  it('bob\'s own rotation is how its key changes: after it, a link redeemed with its new key is taken', async () => {
    const rotated = await bob.admin('POST', '/keys/rotate', {});
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const identity = Identity.load(join(bob.dataDir, 'identity.json'));
    expect(identity.keyId).not.toBe(bobKey.key_id);
    const { id, link } = await newLink(alpha);
    const redeemed = await bob.admin('POST', '/invites/peer/redeem', { link });
    expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(200);
    expect(await linkState(alpha, id)).toMatchObject({ state: 'used', used_by: 'bob.test' });
    const keys = (await bobAsAlphaKnowsIt()).keys;
    expect(keys).toContain(`${identity.keyId} ${identity.publicKeyHex}`);
    expect(keys).toContain(`${bobKey.key_id} ${bobKey.public_key}`);
    await stillTalking('after the rotation');
  });
});
