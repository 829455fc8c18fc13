/** Issue #18, start at boot: `service print` and `service install --user` through the real CLI. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from './helpers/node-process.ts';
import { removeTempDirs, tempDir } from './helpers/temp-dir.ts';

function run(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

afterAll(() => removeTempDirs());

describe('paracord-node service', () => {
  it('prints the hardened system unit with the given serve arguments', () => {
    const result = run(['service', 'print', '--system', '--', '--listen', '0.0.0.0:443']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^User=paracord$/m);
    expect(result.stdout).toMatch(/^ProtectSystem=strict$/m);
    expect(result.stdout).toMatch(/^ReadWritePaths=\/var\/lib\/paracord-node$/m);
    expect(result.stdout).toMatch(/^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
    expect(result.stdout).toMatch(new RegExp(`^ExecStart=${process.execPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} .*bin/paracord-node\\.js serve --data /var/lib/paracord-node --listen 0\\.0\\.0\\.0:443$`, 'm'));
  });

  it('install --user writes the unit and says what to run when systemctl is absent', () => {
    const config = tempDir();
    const data = join(tempDir(), 'data');
    const env = { XDG_CONFIG_HOME: config, PATH: dirname(process.execPath) };
    const result = run(['service', 'install', '--user', '--data', data], env);
    expect(result.code, result.stderr).toBe(0);
    const unit = readFileSync(join(config, 'systemd', 'user', 'paracord-node.service'), 'utf8');
    expect(unit).toContain(`serve --data ${data}`);
    expect(unit).toMatch(/^WantedBy=default\.target$/m);
    expect(result.stderr).toContain('systemctl --user enable --now paracord-node.service');
    expect(result.stderr).toContain('loginctl enable-linger');
    expect(run(['service', 'install', '--user', '--data', data], env).stderr).toContain('already up to date');
    // Without --user: a usage error (exit 2), nothing written elsewhere.
    expect(run(['service', 'install', '--data', data], env).code).toBe(2);
  });
});
