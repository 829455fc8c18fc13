/**
 * Runs a real node as a child process through the CLI (`bin/paracord-node.js serve`), the
 * way a user or a black-box tool does, and talks to its admin API over HTTP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { closedPort } from './closed-port.ts';
import { tempDir } from './temp-dir.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(REPO_ROOT, 'bin/paracord-node.js');
/** Extra V8 flags for the node processes (PARACORD_NODE_FLAGS), for memory/speed experiments. */
/** Runs the CLI without blocking this process (which may serve the listeners it talks to); its exit code and output. */
export function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

export const NODE_FLAGS = (process.env.PARACORD_NODE_FLAGS ?? '').split(' ').filter(Boolean);

export interface ReadyLine {
  ready: true;
  mode: 'running' | 'setup';
  federation_url: string | null;
  admin_url: string;
  login_url: string;
}

export interface AdminResponse<T = any> {
  status: number;
  body: T;
}

export class NodeProcess {
  readonly dataDir: string;
  readonly serverName: string | undefined;
  child!: ChildProcess;
  ready!: ReadyLine;
  stderr = '';
  private readonly args: string[];
  private listenPort = 0;
  private adminPort = 0;
  private readonly keepAdminPort: boolean;
  private readonly env: Record<string, string>;

  private readonly secure: boolean;

  /** `secure`: serve HTTPS with the generated self-signed certificate (no --insecure-http). */
  /** `keepAdminPort`: a restart listens on the same admin port (a browser page reconnects to it). */
  /** `env`: extra environment variables of the node process. */
  constructor(options: { serverName?: string; dataDir?: string; args?: string[]; secure?: boolean; keepAdminPort?: boolean; env?: Record<string, string> }) {
    this.secure = options.secure ?? false;
    this.env = options.env ?? {};
    this.keepAdminPort = options.keepAdminPort ?? false;
    this.serverName = options.serverName;
    this.dataDir = options.dataDir ?? tempDir('paracord-node-');
    this.args = options.args ?? [];
  }

  get federationUrl(): string {
    return this.ready.federation_url!;
  }

  get adminToken(): string {
    return readFileSync(join(this.dataDir, 'admin.token'), 'utf8').trim();
  }

  /** Starts the node and waits for its ready line. A restart reuses the same federation port. */
  async start(extraArgs: string[] = []): Promise<ReadyLine> {
    // Ports below the kernel's ephemeral range: one a node was given on port 0 could be given to
    // another node (of a test beside this one) between this node's stop and its restart.
    if (this.listenPort === 0) this.listenPort = await closedPort();
    if (this.keepAdminPort && this.adminPort === 0) this.adminPort = await closedPort();
    const args = [
      CLI, 'serve', '--data', this.dataDir,
      '--listen', `127.0.0.1:${this.listenPort}`, '--admin-listen', `127.0.0.1:${this.adminPort}`, ...(this.secure ? [] : ['--insecure-http']),
      ...(this.serverName ? ['--server-name', this.serverName] : []),
      ...this.args, ...extraArgs,
    ];
    this.stderr = '';
    const child = spawn(process.execPath, [...NODE_FLAGS, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PARACORD_LOG_LEVEL: process.env.PARACORD_LOG_LEVEL ?? 'info', ...this.env } });
    this.child = child;
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    const lines = createInterface({ input: child.stdout! });
    this.ready = await new Promise<ReadyLine>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`node did not get ready in 20 s; stderr:\n${this.stderr}`)), 20_000);
      // 'close', not 'exit': its stderr is read to the end then (the refusal's words are in it).
      child.once('close', (code) => {
        clearTimeout(timer);
        reject(new Error(`node exited with ${code} before ready; stderr:\n${this.stderr}`));
      });
      lines.once('line', (line) => {
        clearTimeout(timer);
        try {
          resolvePromise(JSON.parse(line) as ReadyLine);
        } catch {
          reject(new Error(`first stdout line is not JSON: ${line}`));
        }
      });
    });
    if (this.ready.federation_url) this.listenPort = Number(new URL(this.ready.federation_url).port);
    if (this.keepAdminPort) this.adminPort = Number(new URL(this.ready.admin_url).port);
    return this.ready;
  }

  /** SIGTERM and wait; resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((resolvePromise) => this.child.once('exit', (code) => resolvePromise(code)));
    this.child.kill(signal);
    return exited;
  }

  async admin<T = any>(method: string, path: string, body?: unknown): Promise<AdminResponse<T>> {
    const response = await request(`${this.ready.admin_url}/_paracord/admin/v1${path}`, {
      // A fresh connection each time: a pooled keep-alive connection that the node closed while
      // this process was blocked (spawnSync of the CLI, a busy machine) fails with "other side closed".
      reset: true,
      method: method as 'GET',
      headers: { authorization: `Bearer ${this.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.statusCode, body: (await response.body.json()) as T };
  }

  /** Adds `other` as an allowed peer at its explicit endpoint (fetching its discovery and keys). */
  async addPeer(other: NodeProcess): Promise<void> {
    const result = await this.admin('POST', '/peers', { server_name: other.serverName, endpoint: other.federationUrl });
    if (result.status !== 200) throw new Error(`addPeer failed: ${JSON.stringify(result)}`);
  }
}

export async function stopAll(nodes: NodeProcess[]): Promise<void> {
  await Promise.all(nodes.map((n) => (n.child ? n.stop().catch(() => undefined) : undefined)));
}

/** Starts a node per server name and makes each a peer of every other (plain http on loopback). */
export async function peeredNodes(...serverNames: string[]): Promise<NodeProcess[]> {
  return startPeered(serverNames.map((serverName) => new NodeProcess({ serverName })));
}

/** Starts the nodes and makes each a peer of every other. */
export async function startPeered(nodes: NodeProcess[]): Promise<NodeProcess[]> {
  await Promise.all(nodes.map((n) => n.start()));
  for (const a of nodes) for (const b of nodes) if (a !== b) await a.addPeer(b);
  return nodes;
}

/** Starts `hub` and `others`, and makes the hub and each of the others peers of each other (the others do not know one another). */
export async function startAround(hub: NodeProcess, others: NodeProcess[]): Promise<void> {
  await Promise.all([hub, ...others].map((n) => n.start()));
  for (const other of others) {
    await hub.addPeer(other);
    await other.addPeer(hub);
  }
}
