/**
 * Red team (issue #37 item 2, CRITICAL): a peer that claims names. A Paracord reference server's
 * discovery declares `domain`, the suffix of its ids, and it was bound as declared: a reference
 * declaring OUR name had its events with sender `@owner:ours.test` shown, a ban "by the owner"
 * recorded, and an event-less `/leave` of our owner obeyed; one declaring a peer's name spoke for
 * that peer's users.
 * Secure outcome (name-claims.ts): no peer is ever bound to our own name or to a name another
 * server holds here; a domain alias is bound only when proven (that name serves the same server
 * and key, over https), and an alias stored by an older version that somebody else holds is not
 * honoured. The twin: a reference whose domain is proven keeps speaking under it.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it, type InProcessNode, type Nodes } from '../helpers/fixtures.ts';
import type { LookupFn } from '../../main/core/federation/address-policy.ts';
import { Identity } from '../../main/core/identity/identity.ts';
import { parseLink } from '../../main/core/peering/invite-link.ts';
import { ensureSelfSignedCertificate } from '../../main/core/tls/certificate.ts';
import Database from 'better-sqlite3';
import { FakePeer } from '../helpers/fake-peer.ts';
import { messagesOn, shownMessage } from '../helpers/interop.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';
import { ReferencePeer, reserialize } from '../helpers/reference-peer.ts';
import { enc } from '../helpers/rooms.ts';
import { sendSigned } from '../helpers/signed-request.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { PEERING_PATH } from '../../main/core/federation/paths.ts';

/** DNS that knows no name (stands in for the resolver): a name is proven only by what answers at it. */
const noNames: LookupFn = async (hostname) => {
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
};
const options = { lookup: noNames, config: { referencePollIntervalMs: 150 } };

let ours: InProcessNode;
let alpha: FakePeer;
let ref3: ReferencePeer;
let ref3Fingerprint = '';

async function tlsFor(name: string) {
  const dir = tempDir(`${name}-tls-`);
  return ensureSelfSignedCertificate(join(dir, 'cert.pem'), join(dir, 'key.pem'), name, dir);
}

/** A reference server over https (its certificate pinned by the owner), its discovery declaring `domain`. */
async function reference(nodes: Nodes, serverName: string, domain?: string) {
  const tls = await tlsFor(serverName);
  const peer = await nodes.referencePeer({ serverName, ...(domain ? { domain } : {}), tls, allowedGuilds: ['77'] });
  return { peer, fingerprint: tls.fingerprint256 };
}

/** ref3.test says something in its guild under its domain; our node polls and shows it. */
async function ref3Speaks(node: InProcessNode, body: string): Promise<void> {
  const roomId = `!77:${ref3.domain}`;
  const said = ref3.say(roomId, 'Ada', body);
  const shown = await shownMessage(node, roomId, said.event_id, undefined, 30_000);
  expect(shown).toMatchObject({ sender: `@Ada:${ref3.domain}`, origin_server: 'ref3.test', body });
}

beforeAll(async ({ fileNodes }) => {
  ours = await fileNodes.inProcess('ours.test', options);
  alpha = await fileNodes.fakePeer('alpha.test');
  expect((await ours.admin('POST', '/peers', { server_name: 'alpha.test', endpoint: alpha.url })).status).toBe(200);
  // The twin: a reference whose domain is an address serving the same server (proven).
  const tls = await tlsFor('ref3.test');
  ref3Fingerprint = tls.fingerprint256;
  ref3 = await fileNodes.referencePeer({ serverName: 'ref3.test', allowedGuilds: ['77'], tls });
  await ref3.serveDomain();
  ref3.guilds.set('77', 'Aliased');
  const added = await ours.admin('POST', '/peers', { endpoint: ref3.url, tls_fingerprint: tls.fingerprint256 });
  expect(added.status, JSON.stringify(added.body)).toBe(200);
  await ref3.addServer('ours.test', 'ours.test', `${ours.started.federation_url}/_paracord/federation/v1`);
  expect((await ours.admin('POST', '/rooms/join', { room_id: `!77:${ref3.domain}` })).status).toBe(200);
  await ref3Speaks(ours, 'hello under a proven domain');
});

describe('red team: a reference that claims a name', () => {
  it('declaring our name, a peer\'s name, another reference\'s domain or a name that is not its own: refused, nothing stored; the proven twin keeps speaking', async ({ fileNodes }) => {
    const unrelated = await reference(fileNodes, 'other-ref.test');
    await unrelated.peer.serveDomain(); // a real address, serving another server
    const claims: Array<[string, string, number, string]> = [
      ['claims-self.test', 'ours.test', 409, 'name_taken'],
      ['claims-peer.test', 'alpha.test', 409, 'name_taken'],
      ['claims-alias.test', ref3.domain, 409, 'name_taken'],
      ['claims-nothing.test', 'victim.test', 400, 'unproven_domain'],
      ['claims-other.test', unrelated.peer.domain, 400, 'unproven_domain'],
    ];
    for (const [name, domain, status, code] of claims) {
      const { peer, fingerprint } = await reference(fileNodes, name, domain);
      const answer = await ours.admin('POST', '/peers', { endpoint: peer.url, tls_fingerprint: fingerprint });
      expect(answer.status, `${name} declaring ${domain}: ${JSON.stringify(answer.body)}`).toBe(status);
      expect(answer.body.error).toBe(code);
      expect(answer.body.message).toContain(domain);
    }
    const names = claims.map(([name]) => name);
    expect((await ours.admin('GET', '/peers')).body.peers.map((p: { server_name: string }) => p.server_name).filter((n: string) => names.includes(n))).toEqual([]);
    for (const table of ['federation_servers', 'federation_server_keys', 'peer_dialects']) {
      expect(queryNodeDb(ours.dataDir, `SELECT server_name FROM ${table} WHERE server_name LIKE 'claims-%'`), table).toEqual([]);
    }
    await ref3Speaks(ours, 'still here after the claims');
  });

  it('nobody takes a proven domain as a server name: not an invite link\'s redeemer, not the owner\'s `peer add`', async () => {
    const { id, link } = (await ours.admin('POST', '/invites/peer', {})).body;
    const token = (parseLink(link) as { ok: true; payload: { token: string } }).payload.token;
    const squatter = Identity.create(join(tempDir(), 'identity.json'), ref3.domain);
    const body = JSON.stringify({ token, server_name: ref3.domain, endpoint: alpha.url, key_id: squatter.keyId, public_key: squatter.publicKeyHex, tls_fingerprint: null });
    const redeemed = await sendSigned(squatter, ours.started.federation_url!, 'POST', PEERING_PATH, body);
    expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(409);
    expect(redeemed.body.error).toBe('name_taken');
    expect((await ours.admin('GET', '/invites/peer')).body.invites.find((i: { id: string }) => i.id === id).state).toBe('active');
    const added = await ours.admin('POST', '/peers', { server_name: ref3.domain, endpoint: alpha.url, key_id: squatter.keyId, public_key: squatter.publicKeyHex });
    expect(added.status, JSON.stringify(added.body)).toBe(409);
    expect(added.body.error).toBe('name_taken');
    expect(queryNodeDb(ours.dataDir, 'SELECT server_name FROM federation_servers WHERE server_name = ?', ref3.domain)).toEqual([]);
    await ref3Speaks(ours, 'still mine');
  });

  it('a database from before, where a reference was bound to our name: its events as our owner, its ban "by the owner" and its /leave of our owner are refused', async ({ fileNodes }) => {
    const { peer: evil, fingerprint } = await reference(fileNodes, 'evil-ref.test');
    expect((await ours.admin('POST', '/peers', { endpoint: evil.url, tls_fingerprint: fingerprint })).status).toBe(200);
    const roomId = (await ours.admin('POST', '/rooms', { name: 'ours' })).body.room_id as string;
    expect((await ours.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: '@friend:alpha.test' })).status).toBe(200);

    // What an earlier version stored for a reference declaring `domain: ours.test`.
    await ours.node.stop();
    const db = new Database(join(ours.dataDir, 'paracord.db'));
    db.prepare("UPDATE peer_dialects SET domain = 'ours.test' WHERE server_name = 'evil-ref.test'").run();
    db.close();
    ours = await fileNodes.inProcess('ours.test', { ...options, dataDir: ours.dataDir });
    const endpoint = `${ours.started.federation_url}/_paracord/federation/v1`;
    await evil.addServer('ours.test', 'ours.test', endpoint);
    await ref3.addServer('ours.test', 'ours.test', endpoint);

    const now = Date.now();
    const asOwner = (eventId: string, type: string, content: Record<string, unknown>, stateKey: string | null) =>
      reserialize('event', evil.signEnvelope({ event_id: eventId, room_id: roomId, event_type: type, sender: '@owner:ours.test', origin_server: 'evil-ref.test', origin_ts: now, content, depth: now, state_key: stateKey }))!;
    const said = await evil.call('ours.test', 'POST', '/event', asOwner('$owner-said:ours.test', 'm.message', { body: 'the owner says: send me your keys' }, null));
    expect(said.status, said.text).toBe(403);
    const ban = await evil.call('ours.test', 'POST', '/event', asOwner('$owner-ban:ours.test', 'm.member.ban', { membership: 'ban' }, '@friend:alpha.test'));
    expect(ban.status, ban.text).toBe(403);
    const leave = await evil.call('ours.test', 'POST', '/leave', JSON.stringify({ origin_server: 'evil-ref.test', room_id: roomId, user_id: '@owner:ours.test' }));
    expect(leave.status, leave.text).toBe(403);

    expect((await messagesOn(ours, roomId)).map((m) => m.body)).not.toContain('the owner says: send me your keys');
    const room = (await ours.admin('GET', `/rooms/${enc(roomId)}`)).body;
    expect(room.members).toContainEqual(expect.objectContaining({ user_id: '@owner:ours.test', membership: 'join' }));
    expect(room.members).toContainEqual(expect.objectContaining({ user_id: '@friend:alpha.test', membership: 'invite' }));
    // The twin: the proven domain is still honoured after the restart.
    await ref3Speaks(ours, 'after the restart');
  });

  it('a stored alias naming a server we hold keys of (no trust row) is not honoured: its events under that name are refused', async ({ fileNodes }) => {
    const { peer: evil2, fingerprint } = await reference(fileNodes, 'evil2-ref.test');
    expect((await ours.admin('POST', '/peers', { endpoint: evil2.url, tls_fingerprint: fingerprint })).status).toBe(200);
    const roomId = (await ours.admin('POST', '/rooms', { name: 'known' })).body.room_id as string;
    // known.test: keys fetched from it directly (an event origin we looked up), a member of our room, never a peer.
    await ours.node.stop();
    const db = new Database(join(ours.dataDir, 'paracord.db'));
    const now = Date.now();
    db.prepare("INSERT INTO federation_server_keys (server_name, key_id, public_key, valid_until, expired_at, source, fetched_at) VALUES ('known.test', 'ed25519:k', ?, ?, NULL, 'fetched', ?)").run('ab'.repeat(32), now + 86_400_000, now);
    db.prepare("INSERT INTO room_members (room_id, user_id, server_name, membership, role, event_id, event_depth, event_origin, updated_at) VALUES (?, '@x:known.test', 'known.test', 'join', 'member', '$planted:known.test', 1, 'known.test', ?)").run(roomId, now);
    // What an earlier version may have stored for a reference declaring `domain: known.test`.
    db.prepare("UPDATE peer_dialects SET domain = 'known.test' WHERE server_name = 'evil2-ref.test'").run();
    db.close();
    ours = await fileNodes.inProcess('ours.test', { ...options, dataDir: ours.dataDir });
    const endpoint = `${ours.started.federation_url}/_paracord/federation/v1`;
    await evil2.addServer('ours.test', 'ours.test', endpoint);
    await ref3.addServer('ours.test', 'ours.test', endpoint);
    const asKnown = reserialize('event', evil2.signEnvelope({
      event_id: '$known-said:known.test', room_id: roomId, event_type: 'm.message', sender: '@x:known.test', origin_server: 'evil2-ref.test',
      origin_ts: now, content: { body: 'known.test says hi' }, depth: now, state_key: null,
    }))!;
    const said = await evil2.call('ours.test', 'POST', '/event', asKnown);
    expect(said.status, said.text).toBe(403);
    expect((await messagesOn(ours, roomId)).map((m) => m.body)).not.toContain('known.test says hi');
    // The twin: the proven domain is still honoured.
    await ref3Speaks(ours, 'after known.test');
  });

  it('ref3 added again once its domain no longer answers: the alias bound to it is kept (no new proof), and it keeps speaking under it', async () => {
    const domainServer = (ref3 as unknown as { domainServer: import('node:http').Server }).domainServer;
    domainServer.closeAllConnections();
    await new Promise<void>((resolve) => domainServer.close(() => resolve()));
    const again = await ours.admin('POST', '/peers', { endpoint: ref3.url, tls_fingerprint: ref3Fingerprint });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    await ref3Speaks(ours, 'after being added again');
  });
});
