/** Issue #18, start at boot: `service print` and `service install --user` through the real CLI. */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from './helpers/fixtures.ts';
import { CLI } from './helpers/node-process.ts';
import { tempDir } from './helpers/temp-dir.ts';

function run(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

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

  it('install --user runs systemctl --user daemon-reload and enable --now (a fake systemctl first on PATH records the calls)', () => {
    const config = tempDir();
    const data = join(tempDir(), 'data');
    const bin = tempDir();
    const calls = join(bin, 'calls.log');
    // A stand-in for systemctl: records each call's arguments; fails `enable` when FAIL_ENABLE is set.
    writeFileSync(
      join(bin, 'systemctl'),
      `#!/bin/sh\nprintf '%s\\n' "$*" >> '${calls}'\nif [ -n "$FAIL_ENABLE" ] && [ "$2" = enable ]; then echo "Failed to enable unit: Unit file paracord-node.service does not exist." >&2; exit 1; fi\nexit 0\n`,
      { mode: 0o755 },
    );
    const env = { XDG_CONFIG_HOME: config, PATH: `${bin}:${dirname(process.execPath)}` };
    const result = run(['service', 'install', '--user', '--data', data, '--', '--listen', '0.0.0.0:7447'], env);
    expect(result.code, result.stderr).toBe(0);
    const unit = readFileSync(join(config, 'systemd', 'user', 'paracord-node.service'), 'utf8');
    expect(unit).toMatch(new RegExp(`^ExecStart=.*serve --data ${data.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --listen 0\\.0\\.0\\.0:7447$`, 'm'));
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toEqual(['--version', '--user daemon-reload', '--user enable --now paracord-node.service']);
    expect(result.stderr).toContain('enabled and started paracord-node.service');
    expect(result.stderr).not.toContain('to start it now and at every boot, run');

    // systemctl refuses: exit 1 with one line quoting its error.
    writeFileSync(calls, '');
    const failed = run(['service', 'install', '--user', '--data', data], { ...env, FAIL_ENABLE: '1' });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/`systemctl --user enable --now paracord-node\.service` failed: Failed to enable unit/);
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toEqual(['--version', '--user daemon-reload', '--user enable --now paracord-node.service']);

    // --no-enable: the unit is written, systemctl only probed at most, never asked to enable.
    writeFileSync(calls, '');
    expect(run(['service', 'install', '--user', '--no-enable', '--data', data], env).code).toBe(0);
    expect(readFileSync(calls, 'utf8')).not.toContain('enable');
  });
});
