/** The admin API's guards: token, Host header, no CORS, input validation. */
import type { AddressInfo } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { request } from 'undici';
import { beforeAll, describe, expect, it, type InProcessNode } from '../../../test/helpers/fixtures.ts';
import { closedPort } from '../../../test/helpers/closed-port.ts';

let alpha: InProcessNode;

beforeAll(async ({ fileNodes }) => {
  alpha = await fileNodes.inProcess('alpha.test');
});

describe('admin API guards', () => {
  it('needs the bearer token', async () => {
    const none = await request(`${alpha.started.admin_url}/_paracord/admin/v1/status`);
    expect(none.statusCode).toBe(401);
    expect(await none.body.json()).toMatchObject({ error: 'missing_token' });
    const wrong = await alpha.admin('GET', '/status', undefined, { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_token');
  });

  it('answers only loopback Host headers (DNS rebinding)', async () => {
    const rebound = await alpha.admin('GET', '/status', undefined, { host: 'evil.example:7448' });
    expect(rebound.status).toBe(403);
    expect(rebound.body.error).toBe('host_not_allowed');
    expect((await alpha.admin('GET', '/status', undefined, { host: 'localhost:1' })).status).toBe(200);
  });

  it('sends no CORS headers, even when asked', async () => {
    const response = await alpha.admin('GET', '/status', undefined, { origin: 'https://evil.example' });
    expect(response.status).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('gives JSON errors for unknown paths and wrong methods', async () => {
    expect((await alpha.admin('GET', '/nope')).body.error).toBe('not_found');
    const wrongMethod = await alpha.admin('DELETE', '/status');
    expect(wrongMethod.status).toBe(405);
  });

  it('answers a UI path that is not valid percent-encoding with 400, not a server error', async () => {
    const response = await request(`${alpha.started.admin_url}/rooms/%E0%A4%A`);
    expect(response.statusCode).toBe(400);
    expect(await response.body.json()).toMatchObject({ error: 'invalid_path' });
  });
});

describe('peers and trust input validation changes nothing', () => {
  const bad: Array<[string, string, string, unknown, number, string]> = [
    ['server name with spaces', 'POST', '/peers', { server_name: 'a b' }, 400, 'invalid_input'],
    ['key id without public key', 'POST', '/peers', { server_name: 'x.test', key_id: 'ed25519:a' }, 400, 'invalid_input'],
    ['bad public key', 'POST', '/peers', { server_name: 'x.test', key_id: 'ed25519:a', public_key: 'zz' }, 400, 'invalid_input'],
    ['unknown field', 'POST', '/peers', { server_name: 'x.test', key_id: 'ed25519:a', public_key: 'a'.repeat(64), admin: true }, 400, 'invalid_input'],
    ['endpoint that is not a URL', 'POST', '/peers', { server_name: 'x.test', endpoint: 'ftp://x' }, 400, 'invalid_input'],
    ['malformed JSON', 'POST', '/peers', '{"server_name":', 400, 'malformed_json'],
    ['body that is an array', 'POST', '/peers', '[1]', 400, 'invalid_input'],
    ['unreachable peer', 'POST', '/peers', { server_name: 'x.test', endpoint: 'http://127.0.0.1:9' }, 502, 'peer_unreachable'],
    ['self as peer', 'POST', '/peers', { server_name: 'alpha.test', key_id: 'ed25519:a', public_key: 'a'.repeat(64) }, 400, 'invalid_input'],
    ['unknown trust mode', 'PUT', '/peers/x.test/trust', { mode: 'maybe' }, 400, 'invalid_input'],
    ['negative rate limit', 'PUT', '/peers/x.test/trust', { mode: 'allow', rate_limit: { per_second: -1, burst: 1 } }, 400, 'invalid_input'],
    ['bad server name in path', 'PUT', '/peers/a%20b/trust', { mode: 'block' }, 400, 'invalid_input'],
    ['unknown policy', 'PUT', '/policy', { default: 'everyone' }, 400, 'invalid_input'],
  ];
  for (const [name, method, path, body, status, error] of bad) {
    it(`${name} → ${status} ${error}`, async () => {
      const before = (await alpha.admin('GET', '/peers')).body;
      const policyBefore = (await alpha.admin('GET', '/policy')).body;
      const response = await alpha.admin(method, path, body);
      expect(response.status).toBe(status);
      expect(response.body.error).toBe(error);
      expect(response.body.message.length).toBeGreaterThan(5);
      expect((await alpha.admin('GET', '/peers')).body).toEqual(before);
      expect((await alpha.admin('GET', '/policy')).body).toEqual(policyBefore);
    });
  }

  it('says why a peer could not be added: 502 {error, message} as ever, with the reason and the server beside them', async () => {
    const port = await closedPort();
    // Something that answers, but no Paracord discovery: 404.
    const other = createHttpServer((_req, res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('not here'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      const before = (await alpha.admin('GET', '/peers')).body;
      const cases: Array<[Record<string, unknown>, string, string]> = [
        [{ server_name: 'closed.test', endpoint: `http://127.0.0.1:${port}` }, 'refused', 'closed.test'],
        [{ server_name: 'nowhere.invalid' }, 'name_not_found', 'nowhere.invalid'],
        [{ endpoint: 'http://nowhere.invalid:7448' }, 'name_not_found', 'http://nowhere.invalid:7448'],
        [{ server_name: 'other.test', endpoint: `http://127.0.0.1:${(other.address() as AddressInfo).port}` }, 'bad_answer', 'other.test'],
      ];
      for (const [input, reason, server] of cases) {
        const response = await alpha.admin('POST', '/peers', input);
        expect(response.status, reason).toBe(502);
        expect(response.body, reason).toEqual({ error: 'peer_unreachable', message: expect.stringMatching(new RegExp(`^could not add ${server.replace(/[.:/]/g, '\\$&')}: `)), reason, server });
      }
      expect((await alpha.admin('GET', '/peers')).body).toEqual(before);
    } finally {
      await new Promise((r) => other.close(r));
    }
  });

  it('pins a given key, sets trust, and sets the policy', async () => {
    const added = await alpha.admin('POST', '/peers', { server_name: 'Pinned.Test', endpoint: 'http://127.0.0.1:9', key_id: 'ed25519:p1', public_key: 'b'.repeat(64) });
    expect(added.status).toBe(200);
    expect(added.body).toMatchObject({ server_name: 'pinned.test', trust: 'allow', keys: [{ key_id: 'ed25519:p1', source: 'pinned' }] });
    const blocked = await alpha.admin('PUT', '/peers/pinned.test/trust', { mode: 'block', reason: 'spam', rate_limit: { per_second: 5, burst: 10 } });
    expect(blocked.body).toMatchObject({ trust: 'block', reason: 'spam', rate_limit: { per_second: 5, burst: 10 } });
    expect((await alpha.admin('GET', '/status')).body.peer_counts).toMatchObject({ block: 1 });
    expect((await alpha.admin('PUT', '/policy', { default: 'open' })).body).toMatchObject({ default: 'open', rate_limit: { per_second: 200, burst: 1000 } });
    expect((await alpha.admin('GET', '/policy')).body).toMatchObject({ default: 'open' });
    expect((await alpha.admin('PUT', '/policy', {})).status).toBe(400);
  });
});
