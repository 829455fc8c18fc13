/**
 * The JSON body setter answers exactly as Koa's own does: the same handlers served by a Koa app
 * with it and one without, over real HTTP, give the same status, headers and bytes. Whether it
 * keeps Node's undici unloaded is checked on a real process (test/startup-modules.test.ts).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import Koa, { type Context } from 'koa';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonBodies } from './json-body.ts';

const handlers: Record<string, (ctx: Context) => void> = {
  object: (ctx) => { ctx.body = { a: 1, text: 'é ✓' }; },
  array: (ctx) => { ctx.body = [1, 'two', { three: 3 }]; },
  empty: (ctx) => { ctx.body = {}; },
  nullProto: (ctx) => { ctx.body = Object.assign(Object.create(null) as object, { x: true }); },
  created: (ctx) => { ctx.status = 201; ctx.body = { id: 'x' }; },
  error: (ctx) => { ctx.status = 404; ctx.body = { error: 'not_found', message: 'nothing here' }; },
  problemType: (ctx) => { ctx.type = 'application/problem+json'; ctx.body = { title: 'x' }; },
  textType: (ctx) => { ctx.type = 'text/plain'; ctx.body = { coerced: 'to json' }; },
  nullBody: (ctx) => { ctx.body = null; },
  jsonNull: (ctx) => { ctx.type = 'application/json'; ctx.body = null; },
  string: (ctx) => { ctx.body = 'plain words'; },
  html: (ctx) => { ctx.body = '<p>hi</p>'; },
  buffer: (ctx) => { ctx.body = Buffer.from('bytes'); },
  stream: (ctx) => { ctx.body = Readable.from(['a', 'b']); },
  streamThenObject: (ctx) => { ctx.body = Readable.from(['never sent']); ctx.body = { replaced: true }; },
  objectThenString: (ctx) => { ctx.body = { first: 1 }; ctx.body = 'second'; },
  // What middleware later reads back (request-log.ts, metrics) is the object itself.
  readBack: (ctx) => { const value = { error: 'x' }; ctx.body = value; ctx.set('x-same', String(ctx.body === value)); },
  head: (ctx) => { ctx.body = { for: 'HEAD' }; },
};

function appOf(withJsonBodies: boolean): Koa {
  const app = new Koa();
  if (withJsonBodies) jsonBodies(app);
  app.use((ctx) => handlers[ctx.path.slice(1)]!(ctx));
  return app;
}

const servers: Server[] = [];
async function serve(app: Koa): Promise<string> {
  const server = createServer(app.callback());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function answer(base: string, path: string, method: 'GET' | 'HEAD' = 'GET') {
  const response = await request(`${base}/${path}`, { method });
  const { date: _date, ...headers } = response.headers;
  return { status: response.statusCode, headers, body: await response.body.text() };
}

describe('JSON bodies without Koa’s Response check', () => {
  let ours: string;
  let koas: string;
  beforeAll(async () => {
    ours = await serve(appOf(true));
    koas = await serve(appOf(false));
  });
  afterAll(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))));

  for (const path of Object.keys(handlers)) {
    it(`answers /${path} as Koa does`, async () => {
      const method = path === 'head' ? 'HEAD' : 'GET';
      const mine = await answer(ours, path, method);
      expect(mine).toEqual(await answer(koas, path, method));
      if (path === 'readBack') expect(mine.headers['x-same']).toBe('true');
    });
  }

  it('takes objects and arrays itself, and leaves every other value to Koa', async () => {
    expect(await answer(ours, 'object')).toMatchObject({ status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"a":1,"text":"é ✓"}' });
    expect((await answer(ours, 'created')).status).toBe(201);
    expect((await answer(ours, 'problemType')).headers['content-type']).toBe('application/problem+json');
  });

  it('refuses to install on a Koa whose response has no body accessor', () => {
    const app = new Koa();
    Object.setPrototypeOf(app.response, {});
    expect(() => jsonBodies(app)).toThrow(/no body accessor/);
  });
});
