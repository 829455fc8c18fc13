/**
 * Node processes inside the network namespaces of test/helpers/netns-router.ts: started with
 * `serve`, read line by line, their admin API called from inside their namespace.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect } from 'vitest';
import { CLI } from './node-process.ts';
import { NetnsRouter } from './netns-router.ts';
import { enc } from './rooms.ts';
import { removeTempDirs } from './temp-dir.ts';

/** A child process inside a namespace, read line by line (`env`: added to ours). */
export function inNamespace(ns: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess; next: () => Promise<string>; output: () => string } {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let all = '';
  child.stderr!.on('data', (c: Buffer) => (all += c.toString()));
  const lines = createInterface({ input: child.stdout! });
  const queue: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  lines.on('line', (line) => {
    all += line + '\n';
    const w = waiting.shift();
    if (w) w(line);
    else queue.push(line);
  });
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const queued = queue.shift();
      if (queued !== undefined) return resolve(queued);
      const timer = setTimeout(() => reject(new Error(`no output in 30 s:\n${all}`)), 30_000);
      waiting.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });
  return { child, next, output: () => all };
}

/** The admin API of one node in its namespace (serveIn's `admin`): its status and JSON answer. */
export type NsAdmin = (method: string, path: string, body?: unknown) => { status: number; body: any };

/** The admin API of a node in a namespace (its admin listener is on that namespace's loopback). */
export function admin(ns: string, dataDir: string, adminUrl: string, method: string, path: string, body?: unknown): { status: number; body: any } {
  return adminListener(ns, dataDir, `${adminUrl}/_paracord/admin/v1${path}`, method, body);
}

/** A node's metrics (`GET /metrics` on its admin listener, Prometheus text), read inside its namespace. */
export function metricsIn(ns: string, dataDir: string, adminUrl: string): string {
  return adminListener(ns, dataDir, `${adminUrl}/metrics`, 'GET').body as string;
}

/** One request with the admin token to a node's admin listener, from inside its namespace: status, and JSON (else text). */
function adminListener(ns: string, dataDir: string, url: string, method: string, body?: unknown): { status: number; body: any } {
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const script = `const [u, t, m, b] = process.argv.slice(1);
fetch(u, { method: m, headers: { authorization: 'Bearer ' + t, 'content-type': 'application/json' }, body: b || undefined })
  .then(async (r) => { const text = await r.text(); let body = text; try { body = JSON.parse(text); } catch {} console.log(JSON.stringify({ status: r.status, body })); });`;
  const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script, url, token, method, body === undefined ? '' : JSON.stringify(body)], { timeout: 60_000 });
  return JSON.parse(out.toString());
}

/**
 * `serve` in a namespace (admin on that namespace's loopback), once it printed its ready line
 * (`listen` null: the default federation listener):
 * plain HTTP unless `secure` (then its generated self-signed certificate, pinned by links).
 * `admin` calls this process's admin API, `metrics` reads its metrics. `env`: added to ours (a test setting).
 */
export async function serveIn(ns: string, dataDir: string, name: string, listen: string | null, extra: string[], secure = false, env: Record<string, string> = {}) {
  const run = inNamespace(ns, [CLI, 'serve', '--data', dataDir, '--server-name', name, ...(listen === null ? [] : ['--listen', listen]), '--admin-listen', '127.0.0.1:0', ...(secure ? [] : ['--insecure-http']), ...extra], env);
  const ready = JSON.parse(await run.next());
  expect(ready.ready, run.output()).toBe(true);
  const nodeAdmin: NsAdmin = (method, path, body) => admin(ns, dataDir, ready.admin_url, method, path, body);
  return { run, ready, admin: nodeAdmin, metrics: () => metricsIn(ns, dataDir, ready.admin_url) };
}

export async function stopChild(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  return exited;
}

/** The router of a describe block: started before its tests, stopped (temp dirs removed) after. */
export function routerPerSuite(options: { upnp?: boolean; ipv6?: boolean } = {}): NetnsRouter {
  const router = new NetnsRouter(options);
  beforeAll(async () => {
    await router.start();
  }, 30_000);
  afterAll(async () => {
    await router.stop();
    removeTempDirs();
  });
  return router;
}

/** Sends each body as a message into a room, in order, from inside the namespace (one process for all). */
export function sendMany(ns: string, dataDir: string, adminUrl: string, roomId: string, bodies: string[]): void {
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const script = `const [u, t, b] = process.argv.slice(1);
(async () => { for (const body of JSON.parse(b)) {
  const r = await fetch(u, { method: 'POST', headers: { authorization: 'Bearer ' + t, 'content-type': 'application/json' }, body: JSON.stringify({ body }) });
  if (r.status !== 200) { console.error(r.status, await r.text()); process.exit(1); }
} })();`;
  execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script, `${adminUrl}/_paracord/admin/v1/rooms/${encodeURIComponent(roomId)}/messages`, token, JSON.stringify(bodies)], { timeout: 120_000 });
}

/**
 * An https GET from inside a namespace, certificate not checked (a stranger's view): status and
 * JSON, or the error code. `timeoutMs`: shorter for a GET expected to fail, which waits it out.
 */
export function fetchIn(ns: string, url: string, timeoutMs = 5_000): { status?: number; body?: any; error?: string } {
  const script = `fetch(process.argv[1], { signal: AbortSignal.timeout(${timeoutMs}) }).then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.json() })), (e) => console.log(JSON.stringify({ error: String(e.cause?.code ?? e.cause?.name ?? e.name) })));`;
  const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script, url], { env: { ...process.env, NODE_TLS_REJECT_UNAUTHORIZED: '0', NODE_NO_WARNINGS: '1' }, timeout: 30_000 });
  return JSON.parse(out.toString());
}

/** Polls a synchronous check (the admin calls here block) until it passes; fails with its last error. */
export async function poll<T>(check: () => T, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * `host` invites `userId` into its room, and the invitation is waited for on the user's node
 * (`guest`) until it is the only one there; returned, to accept. `output` explains a failure.
 */
export async function inviteAcross(host: NsAdmin, guest: NsAdmin, roomId: string, userId: string, output: () => string = () => '', timeoutMs = 30_000): Promise<{ invite_id: string; room_id: string }> {
  const invited = host('POST', `/rooms/${enc(roomId)}/invites`, { user_id: userId });
  expect(invited.status, JSON.stringify(invited.body)).toBe(200);
  return poll(() => {
    const list = guest('GET', `/invites?user_id=${enc(userId)}`).body.invites as Array<{ invite_id: string; room_id: string }>;
    expect(list.map((i) => i.room_id), output()).toEqual([roomId]);
    return list[0]!;
  }, timeoutMs);
}

/** The bodies of a room's messages (the last 100) as one node shows them. */
export function roomBodies(node: NsAdmin, roomId: string): string[] {
  return (node('GET', `/rooms/${enc(roomId)}/messages?limit=100`).body.messages as Array<{ body: string }>).map((m) => m.body);
}

/**
 * Ten messages each way, sent in turn from `home` and `friend`; waits until the friend shows all
 * twenty and the home shows the same, in the same order.
 */
export async function talkBothWays(home: NsAdmin, friend: NsAdmin, roomId: string): Promise<void> {
  for (let i = 0; i < 10; i++) {
    expect(friend('POST', `/rooms/${enc(roomId)}/messages`, { body: `from friend ${i}` }).status).toBe(200);
    expect(home('POST', `/rooms/${enc(roomId)}/messages`, { body: `from home ${i}` }).status).toBe(200);
  }
  const onFriend = await poll(() => {
    const seen = roomBodies(friend, roomId);
    expect(seen.filter((b) => b.startsWith('from '))).toHaveLength(20);
    return seen;
  });
  await poll(() => expect(roomBodies(home, roomId)).toEqual(onFriend));
}
