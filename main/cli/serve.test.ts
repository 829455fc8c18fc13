import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { UsageError } from './common.ts';
import { startInProcessNode } from '../../test/helpers/in-process-node.ts';
import { adminListenWarning, configFromOptions, isLoopbackHost, register, type ServeOptions } from './serve.ts';

/** Parses `serve` flags the way the CLI does, without starting a node. */
function parseServe(args: string[]): ServeOptions {
  const program = new Command().exitOverride();
  register(program);
  const serve = program.commands.find((c) => c.name() === 'serve')!;
  serve.action(() => {});
  program.parse(['node', 'paracord-node', 'serve', ...args]);
  return serve.opts<ServeOptions>();
}

describe('serve options → NodeConfig', () => {
  it('maps every hardening, operations and limit flag onto its config field', () => {
    const config = configFromOptions(parseServe([
      '--data', '/tmp/x', '--allow-private-addresses', '--trusted-proxy', '10.0.0.0/8, 127.0.0.1',
      '--max-reactions-per-message', '5', '--peer-quota-day', '1000', '--peer-quota-total', '2000',
      '--reorder-window-ms', '1500', '--max-pending-invites-per-peer', '3', '--max-connections', '100',
      '--max-connections-per-address', '7', '--max-address-buckets', '500', '--headers-timeout', '1000', '--request-timeout', '2000',
      '--keep-alive-timeout', '3000', '--body-timeout', '4000', '--log-max-bytes', '5000', '--log-files', '2',
      '--backup-dir', '/tmp/b', '--backup-every', 'weekly', '--backup-keep', '3', '--metrics-destinations', '9',
    ]));
    expect(config).toMatchObject({
      dataDir: '/tmp/x', allowPrivateAddresses: true, trustedProxies: ['10.0.0.0/8', '127.0.0.1'],
      maxReactionsPerUserPerMessage: 5, peerQuotaBytesPerDay: 1000, peerQuotaTotalBytes: 2000, reorderWindowMs: 1500,
      maxPendingInvitesPerPeer: 3, maxConnections: 100, maxConnectionsPerAddress: 7, maxAddressBuckets: 500, headersTimeoutMs: 1000,
      requestTimeoutMs: 2000, keepAliveTimeoutMs: 3000, bodyTimeoutMs: 4000, logMaxBytes: 5000, logFiles: 2,
      backup: { dir: '/tmp/b', every: 'weekly', keep: 3 }, metricsDestinations: 9,
    });
  });

  it('leaves the core defaults alone when a flag is not given', () => {
    const config = configFromOptions(parseServe(['--data', '/tmp/x']));
    for (const key of ['maxConnections', 'reorderWindowMs', 'trustedProxies', 'backup', 'metricsDestinations', 'peerQuotaBytesPerDay']) {
      expect(config, key).not.toHaveProperty(key);
    }
    expect(config.allowPrivateAddresses).toBe(false);
  });

  it('refuses bad values with one clear line', () => {
    expect(() => configFromOptions(parseServe(['--data', '/tmp/x', '--max-connections', 'many']))).toThrow(UsageError);
    expect(() => configFromOptions(parseServe(['--data', '/tmp/x', '--max-connections', 'many']))).toThrow(/--max-connections must be a positive number/);
    expect(() => configFromOptions(parseServe(['--data', '/tmp/x', '--trusted-proxy', '999.1.2.3']))).toThrow(/--trusted-proxy/);
    expect(() => configFromOptions(parseServe(['--data', '/tmp/x', '--backup-keep', '3']))).toThrow(/need --backup-dir/);
    // Scheduled backups inside the data folder they back up (or the folder itself).
    for (const dir of ['/tmp/x', '/tmp/x/backups', '/tmp/x/../x/logs']) {
      expect(() => configFromOptions(parseServe(['--data', '/tmp/x', '--backup-dir', dir])), dir).toThrow(/^--backup-dir: .* is inside the data directory \/tmp\/x: put backups somewhere else/);
    }
    expect(configFromOptions(parseServe(['--data', '/tmp/x', '--backup-dir', '/tmp/x-backups'])).backup).toEqual({ dir: '/tmp/x-backups' });
  });
});

describe('the admin listener warning', () => {
  it('says nothing when the listener is bound to loopback, whatever name it was given', () => {
    expect(adminListenWarning('127.0.0.1:7448', '127.0.0.1')).toBeNull();
    expect(adminListenWarning('[::1]:7448', '::1')).toBeNull();
    expect(adminListenWarning('localhost:7448', '::ffff:127.0.0.1')).toBeNull();
    // Before, any name but localhost was warned about: Debian's own host name is 127.0.1.1.
    expect(adminListenWarning('myhost:7448', '127.0.1.1')).toBeNull();
  });

  it('warns when it is bound to any other address, given as one or as a name', () => {
    expect(adminListenWarning('0.0.0.0:7448', '0.0.0.0')).toMatch(/^warning: the admin listener \(--admin-listen 0\.0\.0\.0:7448\) is not on loopback/);
    expect(adminListenWarning('[::]:7448', '::')).toMatch(/is not on loopback/);
    expect(adminListenWarning('nas.lan:7448', '192.168.1.5')).toMatch(/^warning: the admin listener \(--admin-listen nas\.lan:7448\) is not on loopback/);
  });

  it('is judged by the address a started node reports it bound, a name resolved', async () => {
    const { node, started } = await startInProcessNode('alpha.test', { config: { adminListen: 'localhost:0' } });
    try {
      expect(isLoopbackHost(started.admin_address)).toBe(true);
      expect(started.admin_address).not.toBe('localhost');
      expect(adminListenWarning('localhost:0', started.admin_address)).toBeNull();
    } finally {
      await node.stop();
    }
  });
});
