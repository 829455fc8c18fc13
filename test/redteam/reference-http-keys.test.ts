/**
 * Red team (reference dialect, 2026-11-30): the Paracord reference serves an unsigned keys
 * document. Over plain http the owner confirms its key when adding it, and only the document's
 * listing that key was checked: whoever answered on the path could list keys of its own beside it,
 * and they were stored as the server's (first in the list at add time: pinned), so requests signed
 * with them verified as that server's. Now, over plain http, only the confirmed key is kept, at
 * add time and at every refetch (reference/keys.ts `unsignedKeysTrust`). A real node in this
 * process; the reference is the test's model of it (test/helpers/reference-peer.ts).
 */
import { join } from 'node:path';
import { expect, it } from '../helpers/fixtures.ts';
import { Identity } from '../../main/core/identity/identity.ts';
import { tempDir } from '../helpers/temp-dir.ts';

it('over plain http, only the key the owner confirmed is kept of a reference\'s keys document, at add time and at a refetch', async ({ fileNodes }) => {
  const ours = await fileNodes.inProcess('ours.test');
  const ref = await fileNodes.referencePeer({ serverName: 'ref.test' });
  const intruder = (name: string) => {
    const key = Identity.create(join(tempDir(), 'identity.json'), 'ref.test');
    return { key_id: `ed25519:${name}`, public_key: key.publicKeyHex };
  };
  // At add time, a key of the intruder's first (keys[0] is what a reference signs with).
  const first = intruder('first');
  ref.keysBefore = [first];
  const added = await ours.admin('POST', '/peers', { endpoint: ref.url, key_id: ref.keyId, public_key: ref.publicKeyHex });
  expect(added.status, JSON.stringify(added.body)).toBe(200);
  const held = () => (ours.node.context.keys.list('ref.test') as Array<{ key_id: string; public_key: string; expired_at: number | null }>).filter((k) => k.expired_at === null);
  // (Before: ed25519:first was pinned as the server's key.)
  expect(held().map((k) => k.key_id)).toEqual([ref.keyId]);

  // A refetch (as an unknown key id in a signed request makes one) with another key listed after its own.
  ref.keysBefore = [];
  const after = intruder('after');
  ref.keysAfter = [after];
  const refetched = await ours.node.context.keys.fetchAndStore('ref.test');
  expect(refetched.active_key).toMatchObject({ key_id: ref.keyId, public_key: ref.publicKeyHex });
  // (Before: ed25519:after was stored as a current key of ref.test.)
  expect(held().map((k) => k.key_id)).toEqual([ref.keyId]);
  expect(ours.node.context.keys.get('ref.test', after.key_id)).toBeUndefined();
});
