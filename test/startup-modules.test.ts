/**
 * What a serving node loads (issue #36 goal 5, idle memory). Importing `node:http` as an ES module
 * loads Node's own bundled undici (its facade reads the lazy WebSocket export; 1.5–2 MB of a
 * serving node's RSS), so the node takes node:http through require (main/core/http/node-http.ts).
 * The IPv6 pinhole's import had brought it back unnoticed, and Koa's JSON answers load it too
 * (main/core/http/json-body.ts). This checks the real `serve` as the CLI starts it (the bundle
 * of scripts/bundle.mjs) after it has peered, made a room and delivered a message to a
 * Server-Sent Events stream.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { request } from 'undici';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/node-process.ts';
import { describe, expect, it } from './helpers/fixtures.ts';
import { eventually, messages, roomWithMembers, send } from './helpers/rooms.ts';

const hook = pathToFileURL(join(REPO_ROOT, 'test/helpers/report-modules.mjs')).href;

/** Waits until the child's stderr has ended ('exit' can come before the last output is read). */
async function stderrEnded(node: { child: { stderr: NodeJS.ReadableStream | null } }): Promise<void> {
  const stream = node.child.stderr as unknown as { closed: boolean; once(event: string, fn: () => void): void };
  if (!stream.closed) await new Promise<void>((done) => stream.once('close', done));
}

function internalDeps(stderr: string): { builtins: number; deps: string[] } {
  const line = stderr.split('\n').find((l) => l.startsWith('loaded-internal-deps '));
  if (!line) throw new Error(`no module report in the node's stderr:\n${stderr.slice(-2000)}`);
  return JSON.parse(line.slice('loaded-internal-deps '.length)) as { builtins: number; deps: string[] };
}

describe('modules a serving node loads', () => {
  it("leaves Node's bundled undici unloaded, through start, peering, a room and a delivered message", async ({ fileNodes }) => {
    const env = { NODE_OPTIONS: `--import=${hook}` };
    const a = fileNodes.process({ serverName: 'modules-a.test', env });
    const b = fileNodes.process({ serverName: 'modules-b.test', env });
    await Promise.all([a.start(), b.start()]);
    expect((await a.admin('POST', '/peers', { server_name: 'modules-b.test', endpoint: b.federationUrl })).status).toBe(200);
    expect((await b.admin('POST', '/peers', { server_name: 'modules-a.test', endpoint: a.federationUrl })).status).toBe(200);
    expect((await a.admin('GET', '/status')).status).toBe(200);
    const roomId = await roomWithMembers(a, 'modules', [[b, '@owner:modules-b.test']]);
    // B's Server-Sent Events stream (written by the route itself, not by Koa) sees it arrive.
    const stream = await request(`${b.ready.admin_url}/_paracord/admin/v1/events`, { headers: { authorization: `Bearer ${b.adminToken}` } });
    expect(stream.statusCode).toBe(200);
    expect(stream.headers).toMatchObject({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' });
    let streamed = '';
    stream.body.on('data', (chunk: Buffer) => (streamed += chunk.toString()));
    const eventId = await send(a, roomId, 'hello over the wire');
    await eventually(async () => expect((await messages(b, roomId)).map((m) => m.body)).toContain('hello over the wire'));
    await eventually(async () => expect(streamed).toContain(eventId));
    expect(streamed.startsWith(': connected\n\n')).toBe(true);
    stream.body.destroy();
    expect(await a.stop()).toBe(0);
    expect(await b.stop()).toBe(0);
    for (const node of [a, b]) {
      await stderrEnded(node);
      const { builtins, deps } = internalDeps(node.stderr);
      expect(builtins).toBeGreaterThan(50); // the report ran and lists what was loaded
      expect(deps.filter((d) => d.startsWith('undici'))).toEqual([]);
    }
  });

  // A worker thread compiles every module it loads again at each start, and the search fold's and
  // the verify pool's workers start at every burst after a quiet second or three (issue #36). The
  // search worker had loaded the migrations and zod (156 KB, ~40 ms of a start's ~100 ms of CPU)
  // through the database module and a contract constant.
  it("the worker threads' code is small: neither zod nor the migrations", () => {
    const bundle = join(REPO_ROOT, 'dist/bundle');
    for (const entry of ['search-worker.js', 'verify-worker.js']) {
      const reached = new Set<string>();
      const visit = (file: string) => {
        if (reached.has(file)) return;
        reached.add(file);
        for (const m of readFileSync(join(bundle, file), 'utf8').matchAll(/(?:from|import)\s*["']\.\/([^"']+\.js)["']/g)) visit(m[1]!);
      };
      visit(entry);
      const code = [...reached].map((file) => readFileSync(join(bundle, file), 'utf8'));
      expect(reached.size, entry).toBeGreaterThan(1); // the walk followed its imports
      expect(code.filter((text) => text.includes('$Zod')), entry).toEqual([]);
      expect(code.filter((text) => /CREATE TABLE IF NOT EXISTS federation_events|CREATE TABLE federation_events/.test(text)), entry).toEqual([]);
      expect(code.reduce((sum, text) => sum + text.length, 0), entry).toBeLessThan(48 * 1024);
    }
  });
});
