/**
 * Red team (2026-11-26; "bad input gets a clear error and changes nothing"): files and folders
 * named on the command line that cannot be read or created.
 *  - `restore --data /proc/x` and `backup --out /proc/x.pcbak` answered Node's raw "ENOENT: no
 *    such file or directory, mkdir '/proc/.x.restoring-…'" (or open '…tmp', a name the user never
 *    typed); `restore --data /proc/a/b` hung at 100% CPU (Node's recursive mkdir retries forever
 *    where mkdir answers ENOENT although the parent exists).
 *  - `serve --tls-cert/--tls-key` answered "ENOENT: …, open '/missing'", "EISDIR: illegal
 *    operation on a directory, read" or "error:0480006C:PEM routines::no start line"; a key of
 *    another certificate was not noticed at all.
 *  - `serve --backup-passphrase-file /missing` and `--backup-dir FILE` started, and every
 *    scheduled backup then failed.
 *  - `service install --user` with a config folder under /proc hung the same way as restore; with
 *    a file in the way it answered "ENOTDIR: not a directory, mkdir …".
 * Now each is one line naming what was given and what is wrong, exit 1, and nothing is created.
 * Real CLI processes through bin/paracord-node.js, real files.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { oneLine, runCli } from '../helpers/cli-run.ts';

const PROC = existsSync('/proc/self');
/** Node's own error text: an errno code, OpenSSL's PEM error, or a temporary file's name. */
const RAW = /\bE[A-Z]{3,}\b|PEM routines|\.tmp\b|restoring-/;

let data: string;
let backup: string;

beforeAll(() => {
  data = join(tempDir(), 'node');
  const init = runCli(['init', '--data', data, '--server-name', 'paths.test']);
  expect(init.code, init.stderr).toBe(0);
  backup = join(tempDir(), 'paths.pcbak');
  const made = runCli(['backup', '--data', data, '--out', backup]);
  expect(made.code, made.stderr).toBe(0);
});

function clear(line: string, ...names: string[]): void {
  expect(line).not.toMatch(RAW);
  for (const name of names) expect(line).toContain(name);
}

describe('red team: paths on the command line that cannot be used', () => {
  it.skipIf(!PROC)('restore into a folder that cannot be created is one line, not a raw error or a hang', () => {
    for (const target of ['/proc/paracord-red-team', '/proc/paracord-red-team/nested']) {
      const line = oneLine(runCli(['restore', '--data', target, '--in', backup]));
      clear(line, target, 'cannot restore');
      expect(existsSync(target)).toBe(false);
    }
    // A file in the way of the folder to create.
    const base = tempDir();
    writeFileSync(join(base, 'file'), 'x');
    const line = oneLine(runCli(['restore', '--data', join(base, 'file', 'restored'), '--in', backup]));
    clear(line, 'is a file, not a folder');
    expect(readdirSync(base)).toEqual(['file']);
  });

  it.skipIf(!PROC)('backup --out where no file can be created is one line naming the file', () => {
    const line = oneLine(runCli(['backup', '--data', data, '--out', '/proc/paracord-red-team.pcbak']));
    clear(line, '/proc/paracord-red-team.pcbak', 'cannot write');
  });

  it('a passphrase file that is a folder is one line', () => {
    const folder = tempDir();
    const target = join(tempDir(), 'restored');
    clear(oneLine(runCli(['restore', '--data', target, '--in', backup, '--passphrase-file', folder])), folder, 'passphrase file');
    expect(existsSync(target)).toBe(false);
  });

  it('serve: --tls-cert and --tls-key missing, folders, not PEM or not a pair are one line naming the option; nothing starts', () => {
    const dir = tempDir();
    const pem = (name: string) => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`), '-subj', '/CN=paths.test', '-days', '2'], { stdio: 'ignore' });
      return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
    };
    const one = pem('one');
    const two = pem('two');
    const notPem = join(dir, 'notes.txt');
    writeFileSync(notPem, 'not a certificate\n');
    const missing = join(dir, 'missing.pem');
    const folder = join(dir, 'folder');
    mkdirSync(folder);
    const fresh = join(tempDir(), 'node');
    const serve = (cert: string, key: string) =>
      oneLine(runCli(['serve', '--data', fresh, '--server-name', 'paths.test', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', key]));

    clear(serve(missing, one.key), '--tls-cert', missing, 'no such file');
    clear(serve(one.cert, missing), '--tls-key', missing, 'no such file');
    clear(serve(folder, one.key), '--tls-cert', folder, 'folder');
    clear(serve(notPem, one.key), '--tls-cert', notPem, 'not a PEM certificate');
    clear(serve(one.cert, notPem), '--tls-key', notPem, 'not a PEM private key');
    clear(serve(one.cert, two.key), '--tls-key', two.key, `not the private key of --tls-cert ${one.cert}`);
    expect(existsSync(fresh)).toBe(false);
  });

  it('service install --user where the unit file cannot be written is one line, not a raw error or a hang', () => {
    const file = join(tempDir(), 'config');
    writeFileSync(file, 'x');
    const configs = PROC ? [file, '/proc/paracord-red-team'] : [file];
    for (const config of configs) {
      const line = oneLine(runCli(['service', 'install', '--user', '--no-enable', '--data', join(tempDir(), 'node')], `export XDG_CONFIG_HOME=${config}`));
      clear(line, `cannot write the unit file ${config}/systemd/user/paracord-node.service`);
    }
    expect(existsSync('/proc/paracord-red-team')).toBe(false);
  });

  it('serve: a --backup-passphrase-file that cannot be read, or a --backup-dir that is a file, is one line; nothing starts', () => {
    const dir = tempDir();
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    const fresh = join(tempDir(), 'node');
    const serve = (...args: string[]) =>
      oneLine(runCli(['serve', '--data', fresh, '--server-name', 'paths.test', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--insecure-http', ...args]));
    clear(serve('--backup-dir', dir, '--backup-passphrase-file', join(dir, 'missing')), '--backup-passphrase-file', join(dir, 'missing'));
    clear(serve('--backup-dir', file), '--backup-dir', file, 'is a file');
    expect(existsSync(fresh)).toBe(false);
    expect(readdirSync(dir)).toEqual(['file']);
  });
});
