/**
 * Red team (issue #37 item 12; SECURITY.md "A local user on the same machine"), mitigated.
 *  - `backup --out FILE` wrote `FILE.tmp`: another local user who planted a symbolic link there
 *    had the archive (signing keys, admin token) written where the link pointed; one who planted
 *    a world-readable file had it reused, renamed to FILE and readable by everybody.
 *    Now the temporary file has an unpredictable name, is created exclusively and 0600
 *    (util/atomic-file.ts), and a folder every user may write into without the sticky bit is
 *    refused.
 *  - A damaged or hostile encrypted backup header made `verify-backup` derive a key with
 *    whatever limits it named (minutes and hundreds of MB) before anything was authenticated.
 *    Now limits above what paracord-node writes are refused at once, in one line.
 * Real CLI processes through bin/paracord-node.js, real files.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '../helpers/fixtures.ts';
import { PWHASH_MEMLIMIT, PWHASH_OPSLIMIT } from '../../main/core/backup/archive.ts';
import { listBackupFiles } from '../../main/core/backup/listing.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { oneLine, runCli } from '../helpers/cli-run.ts';


let data: string;
let passFile: string;

beforeAll(() => {
  data = join(tempDir(), 'node');
  const init = runCli(['init', '--data', data, '--server-name', 'files.test']);
  expect(init.code, init.stderr).toBe(0);
  passFile = join(tempDir(), 'passphrase');
  writeFileSync(passFile, 'a long passphrase for tests\n', { mode: 0o600 });
});

describe('red team: backup files and a local user', () => {
  it('a symbolic link or a world-readable file planted at FILE.tmp gets nothing; the backup is 0600 and whole', () => {
    const out = join(tempDir(), 'node.pcbak');
    const elsewhere = join(tempDir(), 'stolen');
    writeFileSync(elsewhere, 'the attacker\'s file\n', { mode: 0o666 });
    chmodSync(elsewhere, 0o666);
    symlinkSync(elsewhere, `${out}.tmp`);

    const made = runCli(['backup', '--data', data, '--out', out, '--passphrase-file', passFile]);
    expect(made.code, made.stderr).toBe(0);
    expect(readFileSync(elsewhere, 'utf8')).toBe('the attacker\'s file\n');
    expect(readlinkSync(`${out}.tmp`)).toBe(elsewhere);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(JSON.parse(runCli(['verify-backup', '--in', out, '--passphrase-file', passFile]).stdout)).toMatchObject({ ok: true, server_name: 'files.test' });

    // A world-readable file of another user (nobody) where FILE.tmp would go.
    const plain = join(tempDir(), 'plain.pcbak');
    writeFileSync(`${plain}.tmp`, 'planted\n');
    chmodSync(`${plain}.tmp`, 0o644);
    chownSync(`${plain}.tmp`, 65534, 65534);
    const second = runCli(['backup', '--data', data, '--out', plain]);
    expect(second.code, second.stderr).toBe(0);
    expect(readFileSync(`${plain}.tmp`, 'utf8')).toBe('planted\n');
    expect(lstatSync(plain)).toMatchObject({ uid: process.getuid!() });
    expect(statSync(plain).mode & 0o777).toBe(0o600);
    expect(JSON.parse(runCli(['verify-backup', '--in', plain]).stdout)).toMatchObject({ ok: true, server_name: 'files.test' });
    // No temporary file is left behind.
    expect(readdirSync(join(plain, '..')).sort()).toEqual(['plain.pcbak', 'plain.pcbak.tmp']);
  });

  it('refuses a folder every user may write into (no sticky bit); a sticky one like /tmp is fine', () => {
    const open = join(tempDir(), 'shared');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const refused = runCli(['backup', '--data', data, '--out', join(open, 'node.pcbak'), '--passphrase-file', passFile]);
    expect(oneLine(refused)).toContain('can be written by every user of this machine');
    expect(readdirSync(open)).toEqual([]);

    const sticky = join(tempDir(), 'sticky');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const made = runCli(['backup', '--data', data, '--out', join(sticky, 'node.pcbak'), '--passphrase-file', passFile]);
    expect(made.code, made.stderr).toBe(0);
    expect(readdirSync(sticky)).toEqual(['node.pcbak']);

    // A folder another user owns (0755: only its owner writes there, and could swap the backup).
    if (process.getuid?.() === 0) {
      const theirs = join(tempDir(), 'theirs');
      mkdirSync(theirs);
      chownSync(theirs, 65534, 65534);
      const foreign = runCli(['backup', '--data', data, '--out', join(theirs, 'node.pcbak'), '--passphrase-file', passFile]);
      expect(oneLine(foreign)).toContain('belongs to another user (uid 65534)');
      expect(readdirSync(theirs)).toEqual([]);
    }
  });

  it('verify-backup refuses key-derivation limits above what paracord-node writes, before deriving; a real backup verifies', () => {
    const out = join(tempDir(), 'real.pcbak');
    expect(runCli(['backup', '--data', data, '--out', out, '--passphrase-file', passFile]).code).toBe(0);
    const good = readFileSync(out);
    // header: magic (8) | version | mode | salt (16) | opslimit (u32 LE) | memlimit (u32 LE) | …
    expect(good.readUInt32LE(26)).toBe(PWHASH_OPSLIMIT);
    expect(good.readUInt32LE(30)).toBe(PWHASH_MEMLIMIT);
    for (const [ops, mem] of [[PWHASH_OPSLIMIT + 1, PWHASH_MEMLIMIT], [PWHASH_OPSLIMIT, PWHASH_MEMLIMIT * 2], [0xffffffff, 0xffffffff]] as const) {
      const hostile = Buffer.from(good);
      hostile.writeUInt32LE(ops, 26);
      hostile.writeUInt32LE(mem, 30);
      const file = join(tempDir(), 'hostile.pcbak');
      writeFileSync(file, hostile);
      expect(oneLine(runCli(['verify-backup', '--in', file, '--passphrase-file', passFile]))).toContain('key-derivation limits paracord-node never writes');
      expect(oneLine(runCli(['restore', '--data', join(tempDir(), 'target'), '--in', file, '--passphrase-file', passFile]))).toContain('key-derivation limits');
    }
    expect(JSON.parse(runCli(['verify-backup', '--in', out, '--passphrase-file', passFile]).stdout)).toMatchObject({ ok: true, encrypted: true });
  });

  it('a passphrase file others may write, a device, a FIFO or a large file is one line, at once; the node is not held', () => {
    const out = join(tempDir(), 'for-passphrases.pcbak');
    expect(runCli(['backup', '--data', data, '--out', out, '--passphrase-file', passFile]).code).toBe(0);
    const verify = (file: string) => oneLine(runCli(['verify-backup', '--in', out, '--passphrase-file', file]));
    const shared = join(tempDir(), 'shared-passphrase');
    writeFileSync(shared, 'a long passphrase for tests\n');
    chmodSync(shared, 0o666);
    expect(verify(shared)).toContain(`can be changed by every user of this machine: make it yours alone (chmod 600 ${shared})`);
    chmodSync(shared, 0o602);
    expect(verify(shared)).toContain('chmod 600');
    // Others may read it only (a container's secret, a FAT stick), or its group change it (0664
    // under umask 002, a group of the user's own): taken.
    for (const mode of [0o644, 0o664]) {
      chmodSync(shared, mode);
      expect(JSON.parse(runCli(['verify-backup', '--in', out, '--passphrase-file', shared]).stdout)).toMatchObject({ ok: true });
    }
    // Read synchronously by the node's schedule: /dev/zero grew its memory until it died, a FIFO held it for ever.
    expect(verify('/dev/zero')).toContain('the passphrase file /dev/zero is not a regular file');
    const fifo = join(tempDir(), 'fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    expect(verify(fifo)).toContain(`the passphrase file ${fifo} is not a regular file`);
    const large = join(tempDir(), 'large');
    writeFileSync(large, 'x'.repeat(5000), { mode: 0o600 });
    expect(verify(large)).toContain('is larger than 4096 bytes');
    expect(JSON.parse(runCli(['verify-backup', '--in', out, '--passphrase-file', passFile]).stdout)).toMatchObject({ ok: true });
  });

  it('verify-backup and restore refuse an unencrypted backup when given a passphrase (a file put in place of the owner\'s)', () => {
    const plain = join(tempDir(), 'replaced.pcbak');
    expect(runCli(['backup', '--data', data, '--out', plain]).code).toBe(0);
    expect(oneLine(runCli(['verify-backup', '--in', plain, '--passphrase-file', passFile]))).toContain('this backup is not encrypted, but a passphrase was given');
    const target = join(tempDir(), 'restored');
    expect(oneLine(runCli(['restore', '--data', target, '--in', plain, '--passphrase-file', passFile]))).toContain('not encrypted');
    expect(existsSync(target)).toBe(false);
  });

  it('a shared backup folder: files of another user named like ours, dated ahead, or symlinks are not listed, so pruning keeps ours', () => {
    const dir = tempDir();
    chmodSync(dir, 0o1777);
    const ours = ['20261101-000000.000Z', '20261102-000000.000Z'].map((stamp) => join(dir, `paracord-files.test-${stamp}.pcbak`));
    for (const file of ours) writeFileSync(file, 'ours', { mode: 0o600 });
    const planted = join(dir, 'paracord-files.test-99991231-235959.999Z.pcbak');
    writeFileSync(planted, 'planted');
    const theirs = join(dir, 'paracord-files.test-20261103-000000.000Z.pcbak');
    writeFileSync(theirs, 'theirs');
    chownSync(theirs, 65534, 65534);
    symlinkSync(join(dir, 'nowhere'), join(dir, 'paracord-files.test-20261104-000000.000Z.pcbak'));
    expect(listBackupFiles(dir, Date.UTC(2026, 10, 30)).map((b) => b.file)).toEqual([ours[1], ours[0]]);
  });
});
