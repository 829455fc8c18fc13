/**
 * Red team (2026-11-26, federation edge and keys): a key its server rotated away from kept
 * signing requests here for good. sig.test's key K leaked; it rotated (K listed old, expired now,
 * K2 active). Alpha learns of a rotation only when it meets the new key id, and ignored the
 * documents' valid_until, so while sig.test itself sent nothing with K2 the holder of K was taken
 * for sig.test on every request, however long ago alpha last read its keys. Now a request's key
 * read more than a day ago, or past the valid_until it was served with, makes alpha read the
 * server's keys again first (rate limited per server); the rotated key is then refused.
 */
import { join } from 'node:path';
import { describe, expect, it } from '../helpers/fixtures.ts';
import { Identity } from '../../main/core/identity/identity.ts';
import { sendSigned } from '../helpers/signed-request.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const FED = '/_paracord/federation/v1';

function document(active: Identity, validForMs: number, old: Array<{ key_id: string; public_key: string; expired_at: number }> = []) {
  const validUntil = Date.now() + validForMs;
  const unsigned = {
    server_name: active.serverName,
    active_key: { key_id: active.keyId, public_key: active.publicKeyHex, valid_until: validUntil },
    next_keys: [],
    old_keys: old.map((k) => ({ ...k, valid_until: k.expired_at })),
  };
  return { ...unsigned, signatures: { [active.serverName]: { [active.keyId]: active.signJson(unsigned) } } };
}

describe('red team: a rotated key', () => {
  it('no longer signs requests once the keys it was served with are stale; the new key does', async ({ fileNodes }) => {
    const a = await fileNodes.inProcess('alpha.test');
    const sig = await fileNodes.fakePeer('sig.test');
    const leaked = sig.identity;
    // Keys served valid for 1.5 s (a native node serves a day; the test cannot wait one).
    sig.keysDocument = () => document(leaked, 1_500);
    const added = await a.admin('POST', '/peers', { server_name: 'sig.test', endpoint: sig.url });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    const probe = (who: Identity) => sendSigned(who, a.started.federation_url!, 'GET', `${FED}/keys/cache?server_name=nobody.test`);
    // Signed with K: past the signature checks (404: no cached keys of nobody.test).
    expect((await probe(leaked)).status).toBe(404);

    // sig.test rotates: K is old, expired now; K2 active.
    const rotated = Identity.create(join(tempDir(), 'identity.json'), 'sig.test');
    const expiredAt = Date.now();
    sig.keysDocument = () => document(rotated, 86_400_000, [{ key_id: leaked.keyId, public_key: leaked.publicKeyHex, expired_at: expiredAt }]);
    // The served validity passes.
    await new Promise((r) => setTimeout(r, 2_000));

    const thief = await probe(leaked);
    expect(thief.status, thief.text).toBe(403);
    expect(thief.body.error).toBe('key_expired');
    // The twin: sig.test's new key is taken.
    expect((await probe(rotated)).status).toBe(404);
  }, 60_000);
});
