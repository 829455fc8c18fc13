/** The CLI as a child process, as docs/ARCHITECTURE.md §What outside tools rely on describes it. */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from './helpers/fixtures.ts';
import { CLI } from './helpers/node-process.ts';
import { tempDir } from './helpers/temp-dir.ts';

function run(args: string[], env: Record<string, string> = {}, input?: string) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000, ...(input !== undefined ? { input } : {}) });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('paracord-node CLI', () => {
  it('--help works and lists the commands', () => {
    const result = run(['--help']);
    expect(result.code).toBe(0);
    for (const command of ['init', 'serve', 'status']) expect(result.stdout).toContain(command);
  });

  it('init creates the identity with 0600 files and prints it', () => {
    const dir = join(tempDir(), 'data');
    const result = run(['init', '--data', dir, '--server-name', 'Alpha.Test']);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout);
    expect(printed.server_name).toBe('alpha.test');
    expect(printed.key_id).toMatch(/^ed25519:[A-Za-z0-9_]{1,32}$/);
    expect(printed.public_key).toMatch(/^[0-9a-f]{64}$/);
    for (const file of ['identity.json', 'admin.token', 'paracord.db']) {
      expect(statSync(join(dir, file)).mode & 0o777).toBe(0o600);
    }
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    // Idempotent with the same name, refused with another.
    expect(JSON.parse(run(['init', '--data', dir, '--server-name', 'alpha.test']).stdout)).toEqual(printed);
    const other = run(['init', '--data', dir, '--server-name', 'beta.test']);
    expect(other.code).toBe(1);
    expect(other.stderr.trim().split('\n')).toHaveLength(1);
    expect(other.stderr).toContain('already initialized as alpha.test');
  });

  it('takes settings from the environment', () => {
    const dir = join(tempDir(), 'env-data');
    const result = run(['init'], { PARACORD_DATA: dir, PARACORD_SERVER_NAME: 'env.test' });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).server_name).toBe('env.test');
  });

  it('bad usage exits 2 with one clear line', () => {
    const badName = run(['init', '--data', tempDir(), '--server-name', 'not a name']);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain('is not a host name');
    expect(run(['serve', '--data', tempDir(), '--listen', 'nonsense']).code).toBe(2);
    // Commander's own usage errors too: one line, the hint to --help on it.
    // (`serv` and `--lisen` are close to a real name: commander adds its suggestion, on the same line.)
    for (const args of [[], ['frobnicate'], ['serv'], ['init', '--data', tempDir()], ['init', '--data', tempDir(), '--server-name', 'a.test', '--bogus'], ['serve', '--lisen', '127.0.0.1:0']]) {
      const usage = run(args);
      expect(usage.code, args.join(' ')).toBe(2);
      expect(usage.stderr.trimEnd().split('\n'), usage.stderr).toHaveLength(1);
      expect(usage.stderr).toMatch(/^paracord-node: .+ \(run with --help for usage\)\n$/);
    }
  });

  it('serve on a port in use exits 1 with one line naming the address, and leaves no lock behind', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as AddressInfo).port;
    try {
      const dir = join(tempDir(), 'data');
      for (const [option, args] of [['--listen', ['--listen', `127.0.0.1:${port}`]], ['--admin-listen', ['--listen', '127.0.0.1:0', '--admin-listen', `127.0.0.1:${port}`]]] as const) {
        const result = run(['serve', '--data', dir, '--server-name', 'busy.test', '--insecure-http', ...args]);
        expect(result.code, result.stderr).toBe(1);
        const line = result.stderr.split('\n').filter((l) => l.startsWith('paracord-node: '));
        expect(line).toEqual([`paracord-node: cannot listen on 127.0.0.1:${port} (${option}): another program is using that port (choose another port, or stop that program) [EADDRINUSE]`]);
        // The data directory is free at once: no lock left naming the dead process.
        expect(existsSync(join(dir, 'node.lock')), option).toBe(false);
      }
    } finally {
      busy.close();
    }
  });

  it('status without a running node exits 1', () => {
    const result = run(['status', '--data', tempDir()]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no node is running');
  });

  it('serve prints the ready line, answers status, and exits 0 on SIGTERM and SIGINT', async ({ nodes }) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const node = nodes.process({ serverName: 'serve.test' });
      const ready = await node.start();
      expect(ready).toMatchObject({ ready: true, mode: 'running' });
      expect(ready.federation_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(ready.admin_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const status = run(['status', '--data', node.dataDir]);
      expect(status.code).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ server_name: 'serve.test', federation: { paused: false }, peers: 0, queue: { pending: 0, failed: 0 } });
      expect(await node.stop(signal)).toBe(0);
      expect(run(['status', '--data', node.dataDir]).code).toBe(1);
    }
  });

  it('serve over HTTPS by default, with a generated self-signed certificate', async ({ nodes }) => {
    const node = nodes.process({ serverName: 'tls.test' });
    // NodeProcess passes --insecure-http; start this one by hand without it.
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [CLI, 'serve', '--data', node.dataDir, '--server-name', 'tls.test', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const line = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().split('\n')[0]!)));
    const ready = JSON.parse(line);
    expect(ready.federation_url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(statSync(join(node.dataDir, 'tls', 'key.pem')).mode & 0o777).toBe(0o600);
    const { request, Agent } = await import('undici');
    const response = await request(`${ready.federation_url}/.well-known/paracord/server`, { dispatcher: new Agent({ connect: { rejectUnauthorized: false } }) });
    expect(response.statusCode).toBe(200);
    expect(((await response.body.json()) as { server_name: string }).server_name).toBe('tls.test');
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('serve uses the certificate given with --tls-cert and --tls-key', async ({ nodes }) => {
    const { writeFileSync } = await import('node:fs');
    const { X509Certificate } = await import('node:crypto');
    const { default: selfsigned } = await import('selfsigned');
    const dir = tempDir();
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'own.test' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
    writeFileSync(join(dir, 'cert.pem'), pems.cert);
    writeFileSync(join(dir, 'key.pem'), pems.private, { mode: 0o600 });
    const node = await nodes.start({ serverName: 'own.test', secure: true, args: ['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')] });
    const status = (await node.admin('GET', '/status')).body;
    expect(status.federation.tls_fingerprint).toBe(new X509Certificate(pems.cert).fingerprint256);
    const { Agent, request } = await import('undici');
    const response = await request(`${node.federationUrl}/.well-known/paracord/server`, { dispatcher: new Agent({ connect: { rejectUnauthorized: false } }) });
    expect(response.statusCode).toBe(200);
    await response.body.dump();
    expect(run(['serve', '--data', tempDir(), '--tls-cert', join(dir, 'cert.pem')]).code).toBe(2);
  });

  it('serve on an empty directory without a name starts in setup mode, and setup completes it', async ({ nodes }) => {
    const node = nodes.process({});
    const ready = await node.start();
    expect(ready).toMatchObject({ ready: true, mode: 'setup', federation_url: null });
    const status = await node.admin('GET', '/status');
    expect(status.body).toMatchObject({ mode: 'setup', setup_required: true, server_name: null });
    const peers = await node.admin('GET', '/peers');
    expect(peers.status).toBe(409);
    expect(peers.body.error).toBe('setup_required');
    const badSetup = await node.admin('POST', '/setup', { server_name: 'no spaces allowed' });
    expect(badSetup.status).toBe(400);
    // A public address as the CLI's --public-url takes it: no user name, query or fragment (a review, 2026-12-01).
    for (const public_url of ['https://u:p@fresh.test/', 'https://fresh.test/?x', 'https://fresh.test/#y', 'https://fresh.test/prefix', `https://${'a'.repeat(300)}.test`]) {
      const refused = await node.admin('POST', '/setup', { server_name: 'fresh.test', public_url });
      expect([refused.status, refused.body.error], public_url).toEqual([400, 'invalid_input']);
    }
    const setup = await node.admin('POST', '/setup', { server_name: 'fresh.test' });
    expect(setup.status).toBe(200);
    expect(setup.body).toMatchObject({ mode: 'running', server_name: 'fresh.test' });
    expect(setup.body.federation.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const again = await node.admin('POST', '/setup', { server_name: 'other.test' });
    expect(again.status).toBe(409);
    expect(await node.stop()).toBe(0);
  });

  it('invite, peer redeem, peer list, trust, keys: through the running nodes', async ({ nodes }) => {
    const alpha = nodes.process({ serverName: 'cli-alpha.test' });
    const beta = nodes.process({ serverName: 'cli-beta.test' });
    await Promise.all([alpha.start(), beta.start()]);
    const invite = run(['invite', '--data', alpha.dataDir, '--note', 'for beta']);
    expect(invite.code, invite.stderr).toBe(0);
    const link = invite.stdout.trim();
    expect(link).toMatch(/^paracord:\/\/peer\/[A-Za-z0-9_-]+$/);
    // Read from standard input (`-`): a link on the command line is seen by other users while it runs.
    const redeemed = run(['peer', 'redeem', '-', '--data', beta.dataDir], {}, `${link}\n`);
    expect(redeemed.code, redeemed.stderr).toBe(0);
    expect(JSON.parse(redeemed.stdout)).toMatchObject({ server_name: 'cli-alpha.test' });
    const again = run(['peer', 'redeem', link, '--data', beta.dataDir]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toContain('link_used');
    const notALink = run(['peer', 'redeem', 'not-a-link', '--data', beta.dataDir]);
    expect(notALink.code).toBe(2);
    expect(notALink.stderr).toContain('this is not a Paracord peer link');

    const peers = JSON.parse(run(['peer', 'list', '--data', alpha.dataDir]).stdout).peers;
    expect(peers.map((p: { server_name: string }) => p.server_name)).toEqual(['cli-beta.test']);
    // Another key for a server already peered: refused unless the owner confirms it (--replace).
    const endpoint = peers[0].endpoint as string;
    const otherKey = ['peer', 'add', 'cli-beta.test', '--endpoint', endpoint, '--key-id', 'ed25519:other', '--public-key', 'ab'.repeat(32), '--data', alpha.dataDir];
    const refused = run(otherKey);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('already_peer');
    expect(refused.stderr).toContain('--replace');
    expect(JSON.parse(run(['peer', 'list', '--data', alpha.dataDir]).stdout).peers[0].keys.map((k: { key_id: string }) => k.key_id)).not.toContain('ed25519:other');
    const replaced = run([...otherKey, '--replace']);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(JSON.parse(replaced.stdout).keys.map((k: { key_id: string }) => k.key_id)).toContain('ed25519:other');
    const blocked = run(['trust', 'cli-beta.test', 'block', '--reason', 'testing', '--data', alpha.dataDir]);
    expect(JSON.parse(blocked.stdout)).toMatchObject({ trust: 'block', reason: 'testing' });
    expect(run(['trust', 'cli-beta.test', 'maybe', '--data', alpha.dataDir]).code).toBe(2);

    const before = JSON.parse(run(['keys', 'show', '--data', alpha.dataDir]).stdout).active_key.key_id;
    const rotated = JSON.parse(run(['keys', 'rotate', '--data', alpha.dataDir]).stdout);
    expect(rotated.previous_key_id).toBe(before);
    expect(JSON.parse(run(['keys', 'show', '--data', alpha.dataDir]).stdout).old_keys[0].key_id).toBe(before);
    const announced = JSON.parse(run(['keys', 'announce', '--data', alpha.dataDir]).stdout);
    expect(JSON.parse(run(['keys', 'show', '--data', alpha.dataDir]).stdout).next_keys[0].key_id).toBe(announced.key_id);
  });
});
