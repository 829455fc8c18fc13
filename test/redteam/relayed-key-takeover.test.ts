/**
 * Red team (issue #14 item 8 class: relayed origins / key cache). CRITICAL.
 * A keys document from a relaying host's /keys/cache is only checked to be SELF-signed by its
 * own active key, then stored ('relayed') next to the keys the node fetched or the owner pinned.
 * The pinned-key rule only requires the document to LIST the pinned key — public information.
 * And the fallback to the host's cache fires whenever the origin itself does not publish the key
 * id the event names — which is always true for a forged key id.
 * So any room host we joined (hh.test) can, with one relayed event, add a key it made to the keys
 * of ANY server — here victim.test, a peer the owner added with its key pinned — and then sign
 * requests as victim.test: the node accepts them (its request check takes any stored key).
 * Secure outcome: a key learnt through a relaying host verifies only events relayed by that host
 * (never requests), a document for a server we already hold keys for — above all pinned ones —
 * cannot add keys through a third party, and the forged request is refused 403.
 * Fixed (docs/SECURITY.md item 8, "Relayed keys"): relayed keys live apart, per host, verify only
 * that host's relayed events, and are learnt only for servers we know no key of directly.
 */
import { beforeAll, describe, expect, it } from '../helpers/fixtures.ts';
import { join } from 'node:path';
import { Identity } from '../../main/core/identity/identity.ts';
import { makeEvent, wire } from '../helpers/events.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import { startInProcessNode } from '../helpers/in-process-node.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';
import { eventually } from '../helpers/rooms.ts';
import { sendSigned, type RawResponse } from '../helpers/signed-request.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const FED = '/_paracord/federation/v1';
const AUTH_PROBE = `${FED}/keys/cache?server_name=nobody.test`; // 404 once authenticated, 401/403 before

/**
 * A request or event naming a key id of victim.test within 10 s of alpha reading victim.test's
 * keys is answered 503 keys_recently_fetched (not checked yet: server-keys.ts); sent again, as a
 * real sender does, until alpha has read the keys again and given its verdict.
 */
function checked(send: () => Promise<RawResponse>): Promise<RawResponse> {
  return eventually(async () => {
    const response = await send();
    expect(response.status, JSON.stringify(response.body)).not.toBe(503);
    return response;
  }, 60_000, 1_000);
}

let alpha: Awaited<ReturnType<typeof startInProcessNode>>;
let host: FakePeer;
let victim: FakePeer;

beforeAll(async ({ fileNodes }) => {
  host = await fileNodes.fakePeer('hh.test', { roomHost: true });
  victim = await fileNodes.fakePeer('victim.test');
  alpha = await fileNodes.inProcess('alpha.test');
  expect((await alpha.admin('POST', '/peers', { server_name: 'hh.test', endpoint: host.url })).status).toBe(200);
  const pinned = await alpha.admin('POST', '/peers', { server_name: 'victim.test', endpoint: victim.url, key_id: victim.identity.keyId, public_key: victim.identity.publicKeyHex });
  expect(pinned.status, JSON.stringify(pinned.body)).toBe(200);
  const roomId = '!r:hh.test';
  expect((await host.invite(alpha.started.federation_url!, roomId, '@owner:alpha.test')).status).toBe(200);
  const invite = (await alpha.admin('GET', '/invites')).body.invites.find((i: any) => i.room_id === roomId);
  expect((await alpha.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(200);
});


describe('red team: a room host plants a key for another server', () => {
  it('hh.test cannot make alpha accept requests signed "as victim.test" with a key hh.test made', async () => {
    // The genuine peer is accepted; a stranger's key for its name is not (the baseline).
    expect((await sendSigned(victim.identity, alpha.started.federation_url!, 'GET', AUTH_PROBE)).status).toBe(404);
    const stranger = Identity.create(join(tempDir(), 'identity.json'), 'victim.test');
    expect((await checked(() => sendSigned(stranger, alpha.started.federation_url!, 'GET', AUTH_PROBE))).status).toBe(403);
    const forged = Identity.create(join(tempDir(), 'identity.json'), 'victim.test');

    // hh.test's key cache: a document "of victim.test", self-signed by the forged key, listing
    // victim.test's pinned key too (its public key is public), so the pinned-key rule holds.
    const own = forged.keysDocument();
    const unsigned = {
      server_name: 'victim.test', active_key: own.active_key,
      next_keys: [{ key_id: victim.identity.keyId, public_key: victim.identity.publicKeyHex, valid_until: own.active_key.valid_until }],
      old_keys: [],
    };
    host.cacheDocuments.set('victim.test', { ...unsigned, signatures: { 'victim.test': { [forged.keyId]: forged.signJson(unsigned) } } });

    // One event "of victim.test" relayed by hh.test into its own room makes alpha consult the cache.
    const relayed = makeEvent(forged, { room_id: '!r:hh.test', sender: '@u:victim.test', content: { body: 'planted', format: 'plain' } });
    const delivered = await checked(() => sendSigned(host.identity, alpha.started.federation_url!, 'POST', `${FED}/event`, wire(relayed)));

    const rows = queryNodeDb<{ key_id: string; source: string }>(alpha.dataDir, 'SELECT key_id, source FROM federation_server_keys WHERE server_name = ?', 'victim.test');
    const asVictim = await checked(() => sendSigned(forged, alpha.started.federation_url!, 'GET', AUTH_PROBE));
    expect(asVictim.status, `relay answered ${delivered.status}; victim.test keys now ${JSON.stringify(rows)}; request signed with hh.test's key as victim.test → ${asVictim.status} ${JSON.stringify(asVictim.body)}`).toBe(403);
    expect(rows.map((r) => r.key_id)).not.toContain(forged.keyId);
  });

  it('nor declare victim.test\'s genuine (pinned) key expired, shutting the real peer out', async () => {
    const forged = Identity.create(join(tempDir(), 'identity.json'), 'victim.test');
    const own = forged.keysDocument();
    const unsigned = {
      server_name: 'victim.test', active_key: own.active_key, next_keys: [],
      old_keys: [{ key_id: victim.identity.keyId, public_key: victim.identity.publicKeyHex, expired_at: 1, valid_until: 1 }],
    };
    host.cacheDocuments.set('victim.test', { ...unsigned, signatures: { 'victim.test': { [forged.keyId]: forged.signJson(unsigned) } } });
    const relayed = makeEvent(forged, { room_id: '!r:hh.test', sender: '@u:victim.test', content: { body: 'expire', format: 'plain' } });
    const delivered = await sendSigned(host.identity, alpha.started.federation_url!, 'POST', `${FED}/event`, wire(relayed));
    const genuine = await sendSigned(victim.identity, alpha.started.federation_url!, 'GET', AUTH_PROBE);
    expect(genuine.status, `relay answered ${delivered.status}; the genuine victim.test now gets ${genuine.status} ${JSON.stringify(genuine.body)}`).toBe(404);
  });

  it('a key learnt from hh.test\'s cache verifies events hh.test relays — not requests, not events another host relays', async ({ nodes }) => {
    // A server alpha knows nothing of directly: its key comes from hh.test's cache (allowed).
    const minted = host.mint('m.hh-minted.test');
    const event = makeEvent(minted, { room_id: '!r:hh.test', sender: '@u:m.hh-minted.test', content: { body: 'hello', format: 'plain' } });
    const delivered = await sendSigned(host.identity, alpha.started.federation_url!, 'POST', `${FED}/event`, wire(event));
    expect(delivered.status, JSON.stringify(delivered.body)).toBe(202);
    const relayedRows = queryNodeDb<{ relayed_by: string }>(alpha.dataDir, 'SELECT relayed_by FROM federation_relayed_keys WHERE server_name = ?', 'm.hh-minted.test');
    expect(relayedRows.map((r) => r.relayed_by)).toEqual(['hh.test']);
    expect(queryNodeDb(alpha.dataDir, 'SELECT 1 FROM federation_server_keys WHERE server_name = ?', 'm.hh-minted.test')).toEqual([]);

    // A request signed with that key is not authenticated, even where the origin itself would be allowed.
    expect((await alpha.admin('PUT', '/policy', { default: 'open' })).status).toBe(200);
    try {
      // m.hh-minted.test has no address: alpha cannot read its keys, so the key id is not checked
      // (503 keys_unavailable, "retry later"); the key hh.test served is never taken for a request.
      const asMinted = await sendSigned(minted, alpha.started.federation_url!, 'GET', AUTH_PROBE);
      expect(asMinted.status, JSON.stringify(asMinted.body)).toBe(503);
      expect(asMinted.body.error).toBe('keys_unavailable');
    } finally {
      expect((await alpha.admin('PUT', '/policy', { default: 'allowlist' })).status).toBe(200);
    }

    // Another host relaying an event signed with that key (and serving no keys of its own for it) is refused.
    const other = await nodes.fakePeer('hh3.test', { roomHost: true });
    expect((await alpha.admin('POST', '/peers', { server_name: 'hh3.test', endpoint: other.url })).status).toBe(200);
    expect((await other.invite(alpha.started.federation_url!, '!o:hh3.test', '@owner:alpha.test')).status).toBe(200);
    const invite = (await alpha.admin('GET', '/invites')).body.invites.find((i: any) => i.room_id === '!o:hh3.test');
    expect((await alpha.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(200);
    const elsewhere = makeEvent(minted, { room_id: '!o:hh3.test', sender: '@u:m.hh-minted.test', content: { body: 'elsewhere', format: 'plain' } });
    const refused = await sendSigned(other.identity, alpha.started.federation_url!, 'POST', `${FED}/event`, wire(elsewhere));
    expect(refused.status, JSON.stringify(refused.body)).toBe(403);
    expect(refused.body.error).toBe('bad_event_signature');
    expect(queryNodeDb(alpha.dataDir, 'SELECT 1 FROM federation_events WHERE event_id = ?', elsewhere.event_id)).toEqual([]);
  });

  it('direct knowledge supersedes relayed keys: once the owner pins a server, its relayed keys are gone', async ({ nodes }) => {
    const minted = host.mint('late.hh-minted.test');
    const event = makeEvent(minted, { room_id: '!r:hh.test', sender: '@u:late.hh-minted.test', content: { body: 'before', format: 'plain' } });
    expect((await sendSigned(host.identity, alpha.started.federation_url!, 'POST', `${FED}/event`, wire(event))).status).toBe(202);
    const real = await nodes.fakePeer('late.hh-minted.test');
    const pinned = await alpha.admin('POST', '/peers', { server_name: 'late.hh-minted.test', endpoint: real.url, key_id: real.identity.keyId, public_key: real.identity.publicKeyHex });
    expect(pinned.status, JSON.stringify(pinned.body)).toBe(200);
    expect(queryNodeDb(alpha.dataDir, 'SELECT 1 FROM federation_relayed_keys WHERE server_name = ?', 'late.hh-minted.test')).toEqual([]);
    // hh.test can no longer relay events signed with the key it served.
    const after = makeEvent(minted, { room_id: '!r:hh.test', sender: '@u:late.hh-minted.test', content: { body: 'after', format: 'plain' } });
    const refused = await sendSigned(host.identity, alpha.started.federation_url!, 'POST', `${FED}/event`, wire(after));
    expect(refused.status, JSON.stringify(refused.body)).toBe(403);
  });

  it('a batch of events of a server alpha knows no key of makes alpha ask the host\'s cache once, not once per event', async () => {
    const minted = host.mint('batch.hh-minted.test');
    // Fifty events, each naming a key id of its own (the host chooses them): every lookup misses.
    const events = Array.from({ length: 50 }, (_, i) => {
      const event = makeEvent(minted, { room_id: '!r:hh.test', sender: '@u:batch.hh-minted.test', content: { body: `batch ${i}`, format: 'plain' } });
      return { ...event, signatures: { 'batch.hh-minted.test': { [`ed25519:k${i}`]: Object.values(event.signatures['batch.hh-minted.test']!)[0]! } } };
    });
    const asked = () => host.requests.filter((path) => path === `${FED}/keys/cache`).length;
    const before = asked();
    const answer = await sendSigned(host.identity, alpha.started.federation_url!, 'POST', `${FED}/events`, `{"events":[${events.map(wire).join(',')}]}`);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(asked() - before).toBe(1);
  });
});
