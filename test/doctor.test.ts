/**
 * Issue #18, doctor: a real data folder with a bad permission and a running, peered node;
 * the JSON names the problem, the other checks answer, and the exit code follows problems.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from './helpers/fixtures.ts';
import { CLI, type NodeProcess } from './helpers/node-process.ts';

interface Check {
  check: string;
  status: 'ok' | 'warning' | 'problem' | 'note';
  message: string;
}

function doctor(dataDir: string, extra: string[] = []) {
  const result = spawnSync(process.execPath, [CLI, 'doctor', '--data', dataDir, ...extra], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

let alpha: NodeProcess;
let beta: NodeProcess;

beforeAll(async ({ fileNodes }) => {
  alpha = fileNodes.process({ serverName: 'alpha.test' });
  beta = fileNodes.process({ serverName: 'beta.test' });
  await Promise.all([alpha.start(), beta.start()]);
  await alpha.addPeer(beta);
});

describe('paracord-node doctor', () => {
  it('names a readable identity file as a problem and exits 1', () => {
    chmodSync(join(alpha.dataDir, 'identity.json'), 0o644);
    // The search index holds every message's text, as the database does.
    chmodSync(join(alpha.dataDir, 'paracord-search.db'), 0o644);
    const result = doctor(alpha.dataDir, ['--json']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('data_dir');
    const checks = JSON.parse(result.stdout) as Check[];
    for (const c of checks) {
      expect(Object.keys(c).sort()).toEqual(['check', 'message', 'status']);
      expect(['ok', 'warning', 'problem', 'note']).toContain(c.status);
    }
    const byName = new Map(checks.map((c) => [c.check, c]));
    expect(byName.get('data_dir')).toMatchObject({ status: 'problem', message: expect.stringContaining(`chmod 600 ${join(alpha.dataDir, 'identity.json')}`) });
    expect(byName.get('data_dir')?.message).toContain(`chmod 600 ${join(alpha.dataDir, 'paracord-search.db')}`);
    expect(byName.get('node_version')?.status).toBe('ok');
    expect(byName.get('node_running')).toMatchObject({ status: 'ok', message: expect.stringContaining(`pid ${alpha.child.pid}`) });
    expect(byName.get('federation_listener')?.status).toBe('ok');
    expect(byName.get('clock_skew')).toMatchObject({ status: 'ok', message: expect.stringContaining('1 peer') });
    expect(byName.get('last_backup')).toMatchObject({ status: 'warning', message: expect.stringContaining('No backup yet') });
    expect(byName.get('tls')?.status).toBe('note'); // --insecure-http in tests
    expect(byName.get('outbox')?.status).toBe('ok');
    expect(['ok', 'warning', 'note']).toContain(byName.get('reachability')?.status);
  });

  it('is happy once the permission is fixed (problems decide the exit code), and prints lines without --json', () => {
    chmodSync(join(alpha.dataDir, 'identity.json'), 0o600);
    chmodSync(join(alpha.dataDir, 'paracord-search.db'), 0o600);
    const json = JSON.parse(doctor(alpha.dataDir, ['--json']).stdout) as Check[];
    expect(json.find((c) => c.check === 'data_dir')?.status).toBe('ok');
    const text = doctor(alpha.dataDir);
    expect(text.code).toBe(json.some((c) => c.status === 'problem') ? 1 : 0);
    expect(text.stdout).toMatch(/^ok {6}data_dir/m);
    expect(text.stdout).toMatch(/^warning last_backup/m);
  });

  it('on a stopped node, reports it and finds a port conflict', async () => {
    await beta.stop();
    // alpha's admin listener holds this address: a node started with it would fail.
    const taken = new URL(alpha.ready.admin_url).host;
    const result = doctor(beta.dataDir, ['--json', '--admin-listen', taken, '--listen', '127.0.0.1:0']);
    const checks = JSON.parse(result.stdout) as Check[];
    expect(checks.find((c) => c.check === 'node_running')?.status).toBe('warning');
    expect(checks.find((c) => c.check === 'ports')).toMatchObject({ status: 'problem', message: expect.stringContaining(taken) });
    expect(result.code).toBe(1);
  });
});
