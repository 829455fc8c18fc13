/**
 * Red team (2026-11-26; SECURITY.md "Operations", Backup and restore): what restore writes.
 *  - An archive whose frames and checksums are whole but whose contents are not a node — a
 *    database that is not SQLite or is of a newer schema than its manifest says, an
 *    identity.json of another server than the manifest and the database name — was restored,
 *    reported as "restored <name from the manifest>", and the node then refused to start
 *    ("file is not a database", or another server's identity). Now restore checks what it
 *    wrote before renaming it into place: one line, exit 1, nothing left.
 *  - A manifest naming `tls` as a file and `tls/key.pem` was refused with a raw EEXIST naming
 *    a temporary folder; now it is one clear line.
 *  - Restore created the missing parent folders of the target with the process umask (0777
 *    under `umask 000`: any local user could rename the restored data folder away and put
 *    their own in its place); `init` and `serve` make them 0700, and now restore does too.
 * Real CLI processes through bin/paracord-node.js, real files; archives written by the node's
 * own ArchiveWriter.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from '../helpers/fixtures.ts';
import { ArchiveWriter } from '../../main/core/backup/archive.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { oneLine, runCli } from '../helpers/cli-run.ts';


/** A plain archive with these files, its manifest built from them (checksums right) plus `manifest`. */
function craft(files: Record<string, Buffer>, manifest: Record<string, unknown>): string {
  const entries = Object.entries(files).map(([path, data]) => ({ path, data }));
  const full = {
    format: 'paracord-backup',
    format_version: 1,
    created_at: Date.now(),
    node_version: '0.1.0',
    schema_version: 1,
    encrypted: false,
    files: entries.map(({ path, data }) => ({ path, size: data.length, sha256: createHash('sha256').update(data).digest('hex') })),
    ...manifest,
  };
  const out = join(tempDir(), 'crafted.pcbak');
  const fd = openSync(out, 'wx', 0o600);
  const writer = new ArchiveWriter(fd, null);
  const bytes = Buffer.from(JSON.stringify(full));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(bytes.length);
  writer.write(length);
  writer.write(bytes);
  for (const { data } of entries) writer.write(data);
  writer.finish();
  fsyncSync(fd);
  closeSync(fd);
  return out;
}

let alpha: { dir: string; identity: Buffer; database: Buffer; keyId: string };
let beta: { dir: string; identity: Buffer; database: Buffer; keyId: string };

function initNode(name: string) {
  const dir = join(tempDir(), 'node');
  const init = runCli(['init', '--data', dir, '--server-name', name]);
  expect(init.code, init.stderr).toBe(0);
  return { dir, identity: readFileSync(join(dir, 'identity.json')), database: readFileSync(join(dir, 'paracord.db')), keyId: JSON.parse(init.stdout).key_id as string };
}

beforeAll(() => {
  alpha = initNode('alpha.test');
  beta = initNode('beta.test');
});

/** Restores `archive` into a fresh folder and expects one line, exit 1, and nothing written. */
function refused(archive: string): string {
  const parent = tempDir();
  const target = join(parent, 'restored');
  const line = oneLine(runCli(['restore', '--data', target, '--in', archive]));
  expect(existsSync(target)).toBe(false);
  expect(readdirSync(parent)).toEqual([]);
  return line;
}

describe('red team: restore checks what it restores', () => {
  it('a backup whose database is not an SQLite database is refused in one line, nothing written', () => {
    const archive = craft({ 'paracord.db': Buffer.from('not a database at all\n'.repeat(200)), 'identity.json': alpha.identity }, { server_name: 'alpha.test', key_id: alpha.keyId });
    expect(refused(archive)).toMatch(/database.*(damaged|not)/i);
  });

  it('a database of a newer schema than its manifest says is refused', () => {
    const file = join(tempDir(), 'newer.db');
    writeFileSync(file, alpha.database);
    const db = new Database(file);
    db.pragma('user_version = 999999');
    db.close();
    const archive = craft({ 'paracord.db': readFileSync(file), 'identity.json': alpha.identity }, { server_name: 'alpha.test', key_id: alpha.keyId });
    expect(refused(archive)).toMatch(/schema 999999/);
  });

  it('another server\'s identity.json than the manifest and the database name is refused', () => {
    // beta's identity with alpha's database, the manifest saying alpha.
    const archive = craft({ 'paracord.db': alpha.database, 'identity.json': beta.identity }, { server_name: 'alpha.test', key_id: alpha.keyId });
    expect(refused(archive)).toMatch(/beta\.test/);
    // beta's identity and manifest with alpha's database.
    const other = craft({ 'paracord.db': alpha.database, 'identity.json': beta.identity }, { server_name: 'beta.test', key_id: beta.keyId });
    expect(refused(other)).toMatch(/alpha\.test/);
  });

  it('a manifest naming one path as a file and as a folder is one clear line', () => {
    const archive = craft({ 'paracord.db': alpha.database, 'identity.json': alpha.identity, tls: Buffer.from('x'), 'tls/key.pem': Buffer.from('y') }, { server_name: 'alpha.test', key_id: alpha.keyId });
    const line = refused(archive);
    expect(line).not.toMatch(/EEXIST|ENOTDIR|restoring-/);
    expect(line).toMatch(/tls/);
  });

  it('a real backup still restores and starts as its server', () => {
    const out = join(tempDir(), 'alpha.pcbak');
    expect(runCli(['backup', '--data', alpha.dir, '--out', out]).code).toBe(0);
    const target = join(tempDir(), 'restored');
    const restored = runCli(['restore', '--data', target, '--in', out]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ server_name: 'alpha.test', key_id: alpha.keyId });
    expect(readFileSync(join(target, 'identity.json'))).toEqual(alpha.identity);
    expect(statSync(join(target, 'paracord.db')).size).toBeGreaterThan(0);
  });

  it('under umask 000, the folders restore creates are 0700 and its files 0600', () => {
    const out = join(tempDir(), 'alpha.pcbak');
    expect(runCli(['backup', '--data', alpha.dir, '--out', out]).code).toBe(0);
    const base = tempDir();
    const target = join(base, 'new', 'nested', 'restored');
    const restored = runCli(['restore', '--data', target, '--in', out], 'umask 000');
    expect(restored.code, restored.stderr).toBe(0);
    for (const dir of [join(base, 'new'), join(base, 'new', 'nested'), target, join(target, 'tls')]) {
      if (existsSync(dir)) expect((statSync(dir).mode & 0o777).toString(8), dir).toBe('700');
    }
    for (const file of ['identity.json', 'paracord.db', 'admin.token']) expect((statSync(join(target, file)).mode & 0o777).toString(8), file).toBe('600');
  });

  it('a folder given as the backup file (backup --out, restore --in, verify-backup --in) is one clear line, nothing written', () => {
    const parent = tempDir();
    const folder = join(parent, 'backups');
    mkdirSync(folder, { mode: 0o700 });
    for (const out of [folder, `${folder}/`]) {
      const line = oneLine(runCli(['backup', '--data', alpha.dir, '--out', out]));
      expect(line).toMatch(/folder/);
      expect(line).not.toMatch(/EISDIR|\.tmp/);
      expect(readdirSync(parent)).toEqual(['backups']);
      expect(readdirSync(folder)).toEqual([]);
    }
    const target = join(tempDir(), 'restored');
    const restore = oneLine(runCli(['restore', '--data', target, '--in', folder]));
    expect(restore).toMatch(/folder/);
    expect(restore).not.toMatch(/EISDIR/);
    expect(existsSync(target)).toBe(false);
    expect(oneLine(runCli(['verify-backup', '--in', folder]))).not.toMatch(/EISDIR/);
  });
});
