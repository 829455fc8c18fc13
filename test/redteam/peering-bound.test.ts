/**
 * Red team (peering by invite link, 2026-11-30): our POST /peering followed the inviter's own word
 * on destination binding. An inviter X that holds another server's (C's) unused link puts C's token
 * in a link of its own and leaves `destination_binding` out of its discovery: our signed request
 * then named no destination, and X, within the minute a signature holds, passed it on to C, which
 * took us as a peer nobody asked for (and its friend lost the link). Now the request is bound to the
 * link's server whatever its discovery says, so C refuses it (bound to X). A real node in this
 * process redeems the link of a fake inviter that advertises no binding.
 */
import { expect, it } from '../helpers/fixtures.ts';
import { canonicalJson } from '../../main/core/crypto/canonical-json.ts';
import { PEERING_PATH } from '../../main/core/federation/paths.ts';
import { encodeLink } from '../../main/core/peering/invite-link.ts';
import type { IncomingHttpHeaders } from 'node:http';

it("a redeemer's POST /peering is bound to the link's server even when its discovery advertises no binding", async ({ fileNodes }) => {
  const alpha = await fileNodes.inProcess('alpha.test');
  const inviter = await fileNodes.fakePeer('x.test');
  expect(inviter.capabilities).not.toContain('destination_binding');
  let seen: IncomingHttpHeaders | null = null;
  inviter.routes.set(PEERING_PATH, (_url, _body, headers) => {
    seen = headers;
    return { status: 200, body: { server_name: 'x.test', key_id: inviter.identity.keyId, public_key: inviter.identity.publicKeyHex, reachable: true } };
  });
  const unsigned = {
    v: 1 as const, server_name: 'x.test', endpoint: inviter.url, key_id: inviter.identity.keyId, public_key: inviter.identity.publicKeyHex,
    tls_fingerprint: null, token: 'C'.repeat(43), expires_at: Date.now() + 3_600_000,
  };
  const link = encodeLink({ ...unsigned, sig: inviter.identity.signHex(Buffer.from(canonicalJson(unsigned), 'utf8')) }).link;
  const redeemed = await alpha.admin('POST', '/invites/peer/redeem', { link });
  expect(seen, JSON.stringify(redeemed.body)).not.toBeNull();
  // (Before: no destination header; the signature covered none, and any server could take the request.)
  expect(seen!['x-paracord-destination']).toBe('x.test');
});
