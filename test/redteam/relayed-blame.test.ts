/**
 * Red team (2026-11-26, federation edge and keys): a member server that tells two servers
 * different keys under one key id gets the room's host quarantined. sig.test (hostile) is a
 * member of alpha's room; alpha fetched its key K early. sig.test then serves a document binding
 * the same id K to another public key, which beta (also its peer) fetches. sig.test's messages,
 * signed with the key alpha knows, verify at alpha and are relayed to beta, where they fail
 * against the key beta knows: counted as alpha's bad signatures until beta quarantined alpha,
 * the room's host. A relayed event's signature failure is not proven to be the relaying host's
 * doing (the origin chooses what each server learns of its keys): only a failure of an event
 * the request's signer originates counts (docs/SECURITY.md "Auto-quarantine ...").
 */
import { join } from 'node:path';
import { describe, expect, it } from '../helpers/fixtures.ts';
import { Identity } from '../../main/core/identity/identity.ts';
import { makeEvent, wire } from '../helpers/events.ts';
import { joinFakePeer } from '../helpers/fake-members.ts';
import type { NodeProcess } from '../helpers/node-process.ts';
import { enc, eventually, inviteAndJoin, send } from '../helpers/rooms.ts';
import { sendSigned } from '../helpers/signed-request.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const FED = '/_paracord/federation/v1';

describe('red team: a member server equivocating on its key id', () => {
  it('does not get the host that relays its events quarantined; a bad signature the host originates still counts', async ({ fileNodes }) => {
    const [a, b] = await Promise.all([fileNodes.inProcess('alpha.test'), fileNodes.inProcess('beta.test')]);
    expect((await a.admin('POST', '/peers', { server_name: 'beta.test', endpoint: b.started.federation_url })).status).toBe(200);
    expect((await b.admin('POST', '/peers', { server_name: 'alpha.test', endpoint: a.started.federation_url })).status).toBe(200);
    expect((await b.admin('PUT', '/policy', { auto_quarantine: { signature_failures: 5, rate_limited: 2000, window_seconds: 600 } })).status).toBe(200);
    const sig = await fileNodes.fakePeer('sig.test');
    const roomId = (await a.admin('POST', '/rooms', { name: 'r' })).body.room_id as string;
    await joinFakePeer({ admin: a.admin, federationUrl: a.started.federation_url } as unknown as NodeProcess, roomId, sig);
    await inviteAndJoin(a, roomId, b, '@owner:beta.test');

    // sig.test now binds its key id to another public key, and beta learns that one (it peers with sig.test).
    const other = Identity.create(join(tempDir(), 'identity.json'), 'sig.test');
    sig.keysDocument = () => {
      const unsigned = {
        server_name: 'sig.test',
        active_key: { key_id: sig.identity.keyId, public_key: other.publicKeyHex, valid_until: Date.now() + 86_400_000 },
        next_keys: [], old_keys: [],
      };
      return { ...unsigned, signatures: { 'sig.test': { [sig.identity.keyId]: other.signJson(unsigned) } } };
    };
    const added = await b.admin('POST', '/peers', { server_name: 'sig.test', endpoint: sig.url });
    expect(added.status, JSON.stringify(added.body)).toBe(200);

    // sig.test's messages, signed with the key alpha holds: alpha stores and relays them.
    let depth = Date.now() + 2_000;
    for (let i = 0; i < 8; i++) {
      depth = Math.max(depth + 100, Date.now() + 2_000);
      const event = makeEvent(sig.identity, { room_id: roomId, sender: '@u:sig.test', depth, content: { body: `two-faced ${i}`, format: 'plain' } });
      const sent = await sendSigned(sig.identity, a.started.federation_url!, 'POST', `${FED}/event`, wire(event));
      expect(sent.status, sent.text).toBe(202);
    }
    // The twin: alpha's own message after them reaches beta, and alpha is still allowed there.
    await send(a, roomId, 'host after');
    await eventually(async () => {
      const bodies = ((await b.admin('GET', `/rooms/${enc(roomId)}/messages?limit=200`)).body.messages as Array<{ body: string }>).map((m) => m.body);
      expect(bodies, JSON.stringify((await b.admin('GET', '/peers')).body.peers.map((p: { server_name: string; trust: string }) => [p.server_name, p.trust]))).toContain('host after');
    });
    const peerOf = async (server: string) => (await b.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === server);
    expect((await peerOf('alpha.test')).trust).toBe('allow');

    // A bad signature on an event alpha itself originates still counts against alpha.
    const alphaId = Identity.load(join(a.dataDir, 'identity.json'));
    for (let i = 0; i < 6; i++) {
      depth = Math.max(depth + 100, Date.now() + 2_000);
      const event = makeEvent(alphaId, { room_id: roomId, sender: '@owner:alpha.test', depth, content: { body: `forged ${i}`, format: 'plain' } });
      for (const k of Object.keys(event.signatures['alpha.test']!)) event.signatures['alpha.test']![k] = '00'.repeat(64);
      const sent = await sendSigned(alphaId, b.started.federation_url!, 'POST', `${FED}/event`, wire(event));
      expect(sent.status, sent.text).toBe(403);
    }
    await eventually(async () => expect((await peerOf('alpha.test')).trust).toBe('quarantine'));
  }, 90_000);
});
