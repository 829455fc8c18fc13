import { Writable } from 'node:stream';
import { pino } from 'pino';
import { request } from 'undici';
import { beforeAll, describe, expect, it, type InProcessNode } from '../../../../test/helpers/fixtures.ts';

let node: InProcessNode;
const lines: Array<{ event?: string; path?: string; status?: number; error?: string }> = [];

beforeAll(async ({ fileNodes }) => {
  const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(...String(chunk).split('\n').filter(Boolean).map((l) => JSON.parse(l))), done()) });
  node = await fileNodes.inProcess('log.test', { log: pino({ level: 'debug' }, sink) });
});

/** The request log's line for `path` (the latest). */
const lineFor = (path: string) => lines.filter((l) => l.event === 'http_request' && l.path === path).at(-1);

describe('request log', () => {
  it('records the status and code a refusal is answered with, not the 404 Koa starts from', async () => {
    const url = `${node.started.admin_url}/_paracord/admin/v1/status`;
    const refused = await request(url, { headers: { authorization: 'Bearer wrong' } });
    expect(refused.statusCode).toBe(401);
    await refused.body.dump();
    expect(lineFor('/_paracord/admin/v1/status')).toMatchObject({ status: 401, error: 'invalid_token' });
    // Twin: answered, and a path nobody serves.
    expect((await node.admin('GET', '/status')).status).toBe(200);
    expect(lineFor('/_paracord/admin/v1/status')).toMatchObject({ status: 200 });
    const missing = await request(`${node.started.admin_url}/_paracord/admin/v1/nowhere`, { headers: { authorization: `Bearer ${node.token}` } });
    await missing.body.dump();
    expect(lineFor('/_paracord/admin/v1/nowhere')).toMatchObject({ status: 404 });
  });
});
