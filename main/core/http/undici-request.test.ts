/**
 * The node's slice of undici is undici's own: the same classes its index exports, and requests
 * that reach a real server on 127.0.0.1 exactly as `undici.request` sends them.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as undici from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, buildConnector, request, type RequestOptions } from './undici-request.ts';

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; body: string }

describe('undici-request', () => {
  let server: Server;
  let base: string;
  const seen: Seen[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        res.setHeader('content-type', 'application/json');
        res.statusCode = req.url!.startsWith('/missing') ? 404 : 200;
        res.end(JSON.stringify({ method: req.method, url: req.url, body }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it("is undici's own Agent and connector, not a copy", () => {
    expect(Agent).toBe(undici.Agent);
    expect(buildConnector).toBe(undici.buildConnector);
  });

  const cases: Array<[string, RequestOptions]> = [
    ['/plain', {}],
    ['/with?query=1&b=%20x', { headers: { 'x-test': 'yes' } }],
    ['/posted', { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } }],
    ['/put-by-default', { body: 'text' }],
    ['/missing', { method: 'DELETE' }],
  ];
  for (const [path, options] of cases) {
    it(`sends ${options.method ?? 'its default method'} ${path} as undici.request does`, async () => {
      const agent = new Agent();
      try {
        seen.length = 0;
        const ours = await request(`${base}${path}`, { ...options, dispatcher: agent });
        const theirs = await undici.request(`${base}${path}`, { ...options, dispatcher: agent } as Parameters<typeof undici.request>[1]);
        expect(ours.statusCode).toBe(theirs.statusCode);
        expect(await ours.body.json()).toEqual(await theirs.body.json());
        expect(seen).toHaveLength(2);
        const { host: _h1, ...mine } = seen[0]!.headers;
        const { host: _h2, ...reference } = seen[1]!.headers;
        expect({ ...seen[0], headers: mine }).toEqual({ ...seen[1], headers: reference });
      } finally {
        await agent.close();
      }
    });
  }

  it('without a dispatcher goes through one shared agent, and takes a URL object', async () => {
    const response = await request(new URL(`${base}/shared?x=1`));
    expect(await response.body.json()).toEqual({ method: 'GET', url: '/shared?x=1', body: '' });
  });

  it('refuses what is not a URL before sending anything', () => {
    seen.length = 0;
    expect(() => request('not a url')).toThrow(TypeError);
    expect(seen).toEqual([]);
  });
});
