/**
 * Red team (issue #37 item 5, review of the fix): a keys document is stored and served from
 * /keys/cache as fetched (its signature covers all of it, unknown fields included). A server
 * padding its self-signed document with 200 KB of an unknown field had it stored (uncharged) and
 * served to every room member asking. Secure outcome (keys-document.ts): a keys document of either
 * dialect is at most MAX_KEYS_DOCUMENT_BYTES; larger ones are refused, nothing stored. The twin: a
 * document with a small unknown field is taken and served verbatim (its signature still verifies).
 */
import { describe, expect, it, type Nodes } from '../helpers/fixtures.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import { startInProcessNode } from '../helpers/in-process-node.ts';
import { sendSigned } from '../helpers/signed-request.ts';

const FED = '/_paracord/federation/v1';
let alpha: Awaited<ReturnType<typeof startInProcessNode>> | undefined;
let asker: FakePeer | undefined;

/** A fake peer named `name` whose self-signed keys document carries `extra` (unknown fields). */
async function serverWithExtra(nodes: Nodes, name: string, extra: Record<string, unknown>): Promise<FakePeer> {
  const peer = await nodes.fakePeer(name);
  const { identity } = peer;
  peer.keysDocument = () => {
    const { signatures: _signatures, ...own } = identity.keysDocument();
    const unsigned = { ...own, ...extra };
    return { ...unsigned, signatures: { [name]: { [identity.keyId]: identity.signJson(unsigned) } } };
  };
  return peer;
}

describe('red team: an oversized keys document', () => {
  it('is refused when the peer is added (nothing stored, nothing served from the key cache); a small unknown field is kept and served verbatim', async ({ fileNodes }) => {
    alpha = await fileNodes.inProcess('alpha.test');
    asker = await fileNodes.fakePeer('asker.test');
    expect((await alpha.admin('POST', '/peers', { server_name: 'asker.test', endpoint: asker.url })).status).toBe(200);
    const cached = (name: string) => sendSigned(asker!.identity, alpha!.started.federation_url!, 'GET', `${FED}/keys/cache?server_name=${name}`);

    const fat = await serverWithExtra(fileNodes, 'fat.test', { padding: 'x'.repeat(200_000) });
    const added = await alpha.admin('POST', '/peers', { server_name: 'fat.test', endpoint: fat.url });
    expect(added.status, JSON.stringify(added.body).slice(0, 300)).toBe(502);
    expect(added.body.message).toMatch(/at most 65536/);
    expect((await alpha.admin('GET', '/peers')).body.peers.map((p: { server_name: string }) => p.server_name)).not.toContain('fat.test');
    expect((await cached('fat.test')).status).toBe(404);

    // The twin: a small unknown field (a newer version's, say) is fine, served as fetched.
    const slim = await serverWithExtra(fileNodes, 'slim.test', { note: 'from a newer version' });
    const slimAdded = await alpha.admin('POST', '/peers', { server_name: 'slim.test', endpoint: slim.url });
    expect(slimAdded.status, JSON.stringify(slimAdded.body)).toBe(200);
    const served = await cached('slim.test');
    expect(served.status).toBe(200);
    expect(served.body.note).toBe('from a newer version');
    expect(served.body.signatures['slim.test'][slim.identity.keyId]).toBeDefined();
  });
});
