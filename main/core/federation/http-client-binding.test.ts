/**
 * A sender binds its requests to a server whose discovery advertised binding when last read, also
 * while its discovery cannot be read now (destination-binding-restart.test.ts, with real nodes).
 * A server that has since gone back to a version without binding, whose discovery cannot be read,
 * refuses the bound form as a bad signature and takes the unbound one: after that once, the memory
 * is not used for it (each request would otherwise try the bound form and look the discovery up
 * again first). A real HttpClient, Discovery and binding memory over real SQLite; the server is a
 * real HTTP server on 127.0.0.1.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Identity } from '../identity/identity.ts';
import { Settings } from '../store/settings.ts';
import { TrustStore } from '../trust/trust-store.ts';
import { AddressPolicy } from './address-policy.ts';
import { DestinationBindingMemory } from './destination-binding.ts';
import { Discovery } from './discovery.ts';
import { HttpClient } from './http-client.ts';
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { tempDir } from '../../../test/helpers/temp-dir.ts';

describe('a server remembered as binding', () => {
  it('gets bound requests while its discovery cannot be read, and unbound ones once it refused the bound form and took the unbound', async ({ tempDb, nodes }) => {
    const { db } = tempDb;
    let downgraded = false;
    const seen: string[] = [];
    const server = createServer((req, res) => {
      req.resume();
      if (req.url?.includes('/.well-known/')) {
        seen.push('discovery');
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"unavailable","message":"down"}');
        return;
      }
      const bound = req.headers['x-paracord-destination'] !== undefined;
      seen.push(bound ? 'bound' : 'unbound');
      if (downgraded && bound) res.writeHead(403, { 'content-type': 'application/json' }).end('{"error":"bad_signature","message":"bad signature"}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    nodes.servers.push(server);
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const trust = new TrustStore(db, new Settings(db));
    trust.upsert('old.test', { trust: 'allow', endpoint, endpoint_source: 'owner' });
    const memory = new DestinationBindingMemory(db);
    memory.observe('old.test', true);
    const http: HttpClient = new HttpClient({
      allowInsecureHttp: true,
      policy: new AddressPolicy({ insecureHttp: true, allowPrivateAddresses: false, endpointVouch: () => ({ vouch: 'owner', addresses: 'any' }) }),
      bindsDestination: (s) => discovery.bindsDestination(s),
      remembersBinding: (s) => discovery.boundWhenLastRead(s),
      forgetDestination: (s) => discovery.forget(s),
    });
    const discovery = new Discovery(http, trust, memory);
    const me = Identity.create(join(tempDir('paracord-binding-'), 'identity.json'), 'me.test');
    const ask = async () => (await http.signed(me, 'POST', endpoint, '/_paracord/federation/v1/event', '{}', { destination: 'old.test' })).status;

    // Its discovery answers 503: bound all the same (the memory), one request each.
    expect(await ask()).toBe(200);
    expect(await ask()).toBe(200);
    expect(seen).toEqual(['discovery', 'bound', 'bound']);

    // Gone back to a version without binding: the bound form refused, the unbound one taken, once.
    downgraded = true;
    seen.length = 0;
    expect(await ask()).toBe(200);
    expect(seen).toEqual(['bound', 'discovery', 'unbound']);
    seen.length = 0;
    expect(await ask()).toBe(200);
    expect(await ask()).toBe(200);
    expect(seen).toEqual(['unbound', 'unbound']);
    http.dropConnections();
  });
});
