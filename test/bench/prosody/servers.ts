/**
 * Two Debian Prosody servers (a.test, b.test) federating on 127.0.0.1 for the end-to-end
 * comparison of issue #17. Each runs from its own temp config (ports, pidfile, data dir, log),
 * in the foreground, as a child of the benchmark. Nothing is installed and no system file is
 * touched: s2s names resolve through libunbound forwarded to the bench's own DNS server.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { DnsServer } from './dns.ts';

/** Where Debian puts Prosody; `PARACORD_BENCH_PROSODY_DIR` points elsewhere (another build, or a test of the skip). */
const BIN_DIR = process.env.PARACORD_BENCH_PROSODY_DIR ?? '/usr/bin';
export const PROSODY = join(BIN_DIR, 'prosody');
export const PROSODYCTL = join(BIN_DIR, 'prosodyctl');
export const PROSODY_MISSING = 'prosody not found: apt-get install prosody';

export function prosodyAvailable(): boolean {
  return existsSync(PROSODY) && existsSync(PROSODYCTL);
}

export function prosodyVersion(): string {
  const out = spawnSync(PROSODYCTL, ['about'], { encoding: 'utf8' }).stdout ?? '';
  return /Prosody\s+(\S+)/.exec(out)?.[1] ?? 'unknown';
}

/** The archive variant needs Prosody's SQL storage driver (LuaDBI for SQLite3). */
export function sqliteStorageAvailable(): boolean {
  return spawnSync('lua5.4', ['-e', 'require "DBI"; require "dbd.sqlite3"'], { stdio: 'ignore' }).status === 0;
}
export const SQLITE_MISSING = 'Prosody archive variant skipped: apt-get install lua-dbi-sqlite3';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export type Variant = 'plain' | 'tls' | 'archive';
const lua = (s: string) => JSON.stringify(s); // a JSON string is a valid Lua string literal for paths

export class ProsodyServer {
  child: ChildProcess | undefined;
  c2sPort = 0;
  s2sPort = 0;
  log = '';
  readonly dir: string;
  readonly config: string;

  readonly host: string;
  readonly variant: Variant;

  constructor(host: string, baseDir: string, variant: Variant) {
    this.host = host;
    this.variant = variant;
    this.dir = join(baseDir, host);
    this.config = join(this.dir, 'prosody.cfg.lua');
    mkdirSync(join(this.dir, 'data'), { recursive: true });
    mkdirSync(join(this.dir, 'certs'), { recursive: true });
  }

  get pid(): number {
    return this.child!.pid!;
  }

  async configure(dnsPort: number): Promise<void> {
    this.c2sPort = await freePort();
    this.s2sPort = await freePort();
    const tls = this.variant === 'tls';
    let ssl = '';
    if (tls) {
      const key = join(this.dir, `${this.host}.key`);
      const crt = join(this.dir, `${this.host}.crt`);
      const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${this.host}`, '-addext', `subjectAltName=DNS:${this.host}`, '-keyout', key, '-out', crt], { stdio: 'ignore' });
      if (made.status !== 0) throw new Error('openssl could not make a test certificate');
      ssl = `ssl = { certificate = ${lua(crt)}; key = ${lua(key)} }\n`;
    }
    const archive = this.variant === 'archive';
    writeFileSync(this.config, `-- written by test/bench/prosody (issue #17); safe to delete
run_as_root = true
daemonize = false
pidfile = ${lua(join(this.dir, 'prosody.pid'))}
data_path = ${lua(join(this.dir, 'data'))}
log = { { levels = { min = ${lua(process.env.PROSODY_BENCH_LOG ?? "warn")} }, to = "file", filename = ${lua(join(this.dir, 'prosody.log'))} } }
plugin_paths = {}
certificates = ${lua(join(this.dir, 'certs'))}
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { ${this.c2sPort} }
s2s_ports = { ${this.s2sPort} }
c2s_direct_tls_ports = {}
s2s_direct_tls_ports = {}
legacy_ssl_ports = {}
http_ports = {}
https_ports = {}
use_ipv6 = false
-- libunbound serves the RFC 6761 zone "test." itself (NXDOMAIN); made transparent, its queries
-- go to the bench's DNS server, which knows a.test and b.test (A and SRV with the s2s port).
unbound = { forward = "127.0.0.1@${dnsPort}"; resolvconf = false; hoststxt = false; options = { ["local-zone"] = "test. transparent" } }
modules_enabled = { "roster", "saslauth", ${tls ? '"tls", ' : ''}"dialback", "disco"${archive ? ', "mam"' : ''} }
modules_disabled = { "offline" }
authentication = "internal_plain"
${archive ? `default_storage = "internal"
storage = { archive = "sql" }
sql = { driver = "SQLite3", database = "prosody.sqlite" }
default_archive_policy = true
archive_expires_after = "never"
` : 'storage = "internal"\n'}c2s_require_encryption = false
allow_unencrypted_plain_auth = true
s2s_require_encryption = ${tls}
s2s_secure_auth = false
${ssl}
VirtualHost ${lua(this.host)}
`);
  }

  register(user: string, password: string): void {
    const result = spawnSync(PROSODYCTL, ['--config', this.config, 'register', user, this.host, password], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`prosodyctl register ${user}@${this.host} failed: ${result.stdout}${result.stderr}`);
  }

  async start(): Promise<void> {
    const child = spawn(PROSODY, ['--config', this.config, '-F'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    // Never leave a Prosody behind if the benchmark dies.
    const orphan = () => child.kill('SIGKILL');
    process.once('exit', orphan);
    child.once('exit', () => process.off('exit', orphan));
    child.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    // Ready when the c2s port accepts connections.
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prosody ${this.host} exited ${child.exitCode}: ${this.log}${this.fileLog()}`);
      if (await accepts(this.c2sPort)) return;
      if (Date.now() > deadline) throw new Error(`prosody ${this.host} not ready in 15 s: ${this.log}${this.fileLog()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  fileLog(): string {
    try {
      return readFileSync(join(this.dir, 'prosody.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

async function accepts(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** a.test and b.test, users a@a.test and b@b.test, federating through the bench's DNS server. */
export async function startPair(baseDir: string, variant: Variant): Promise<{ a: ProsodyServer; b: ProsodyServer; dns: DnsServer; stop: () => Promise<void> }> {
  const dns = await new DnsServer().start();
  const a = new ProsodyServer('a.test', baseDir, variant);
  const b = new ProsodyServer('b.test', baseDir, variant);
  for (const server of [a, b]) {
    await server.configure(dns.port);
    dns.addXmppHost(server.host, server.s2sPort);
  }
  a.register('a', 'bench-a');
  b.register('b', 'bench-b');
  await Promise.all([a.start(), b.start()]);
  return { a, b, dns, stop: async () => { await Promise.all([a.stop(), b.stop()]); await dns.stop(); } };
}
