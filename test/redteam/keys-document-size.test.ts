/**
 * Red team (issue #37 item 5, review of the fix): a keys document is stored and served from
 * /keys/cache as fetched (its signature covers all of it, unknown fields included). A server
 * padding its self-signed document with 200 KB of an unknown field had it stored (uncharged) and
 * served to every room member asking. Secure outcome (keys-document.ts): a keys document of either
 * dialect is at most MAX_KEYS_DOCUMENT_BYTES; larger ones are refused, nothing stored. The twin: a
 * document with a small unknown field is taken and served verbatim (its signature still verifies).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Identity } from '../../main/core/identity/identity.ts';
import { FakePeer } from '../helpers/fake-peer.ts';
import { startInProcessNode } from '../helpers/in-process-node.ts';
import { sendSigned } from '../helpers/signed-request.ts';
import { removeTempDirs, tempDir } from '../helpers/temp-dir.ts';

const FED = '/_paracord/federation/v1';
let alpha: Awaited<ReturnType<typeof startInProcessNode>> | undefined;
let asker: FakePeer | undefined;
const servers: Server[] = [];

afterAll(async () => {
  await alpha?.node.stop();
  await asker?.stop();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  removeTempDirs();
});

/** A server named `name` whose self-signed keys document carries `extra` (unknown fields). */
async function serverWithExtra(name: string, extra: Record<string, unknown>): Promise<{ url: string; identity: Identity }> {
  const identity = Identity.create(join(tempDir(), 'identity.json'), name);
  let url = '';
  const server = createServer((req, res) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/paracord/server') return json(200, { server_name: name, federation_endpoint: url, enabled: true, version: 'federation-v1', capabilities: [] });
    if (req.url === `${FED}/keys`) {
      const { signatures: _signatures, ...own } = identity.keysDocument();
      const unsigned = { ...own, ...extra };
      return json(200, { ...unsigned, signatures: { [name]: { [identity.keyId]: identity.signJson(unsigned) } } });
    }
    json(404, { error: 'not_found', message: 'x' });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, identity };
}

describe('red team: an oversized keys document', () => {
  it('is refused when the peer is added (nothing stored, nothing served from the key cache); a small unknown field is kept and served verbatim', async () => {
    alpha = await startInProcessNode('alpha.test');
    asker = await new FakePeer('asker.test').start();
    expect((await alpha.admin('POST', '/peers', { server_name: 'asker.test', endpoint: asker.url })).status).toBe(200);
    const cached = (name: string) => sendSigned(asker!.identity, alpha!.started.federation_url!, 'GET', `${FED}/keys/cache?server_name=${name}`);

    const fat = await serverWithExtra('fat.test', { padding: 'x'.repeat(200_000) });
    const added = await alpha.admin('POST', '/peers', { server_name: 'fat.test', endpoint: fat.url });
    expect(added.status, JSON.stringify(added.body).slice(0, 300)).toBe(502);
    expect(added.body.message).toMatch(/at most 65536/);
    expect((await alpha.admin('GET', '/peers')).body.peers.map((p: { server_name: string }) => p.server_name)).not.toContain('fat.test');
    expect((await cached('fat.test')).status).toBe(404);

    // The twin: a small unknown field (a newer version's, say) is fine, served as fetched.
    const slim = await serverWithExtra('slim.test', { note: 'from a newer version' });
    const slimAdded = await alpha.admin('POST', '/peers', { server_name: 'slim.test', endpoint: slim.url });
    expect(slimAdded.status, JSON.stringify(slimAdded.body)).toBe(200);
    const served = await cached('slim.test');
    expect(served.status).toBe(200);
    expect(served.body.note).toBe('from a newer version');
    expect(served.body.signatures['slim.test'][slim.identity.keyId]).toBeDefined();
  });
});
