import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { tempDir } from '../../../test/helpers/temp-dir.ts';
import { initDataDir } from '../node.ts';
import { openDatabase } from '../store/database.ts';
import { ArchiveWriter, BackupError } from './archive.ts';
import { backupFileName, createBackup, sideFiles } from './create.ts';
import { restoreBackup, verifyBackup } from './restore.ts';

// A whole data dir as initDataDir makes it (a directory, not tempDb); the temp dirs are removed at
// the file's end (the fileNodes fixture).
async function dataDir(): Promise<string> {
  const dir = join(tempDir(), 'data');
  await initDataDir(dir, 'alpha.test');
  mkdirSync(join(dir, 'tls'), { mode: 0o700 });
  writeFileSync(join(dir, 'tls', 'cert.pem'), 'CERT');
  writeFileSync(join(dir, 'tls', 'key.pem'), 'KEY', { mode: 0o600 });
  writeFileSync(join(dir, 'node.json'), '{}');
  writeFileSync(join(dir, 'logs', 'node.log'), 'log line');
  // A live connection holding data in the WAL, as a running node does.
  const db = openDatabase(join(dir, 'paracord.db'));
  db.prepare("INSERT INTO settings (key, value) VALUES ('marker', 'in the wal')").run();
  return dir;
}

describe('backup archive', () => {
  it('round-trips a data dir, plain and encrypted, leaving logs and runtime files out', async () => {
    const dir = await dataDir();
    expect(sideFiles(dir)).toEqual(['admin.token', 'identity.json', 'tls/cert.pem', 'tls/key.pem']);
    for (const passphrase of [null, Buffer.from('correct horse')]) {
      const out = join(tempDir(), 'b.pcbak');
      const result = await createBackup({ dataDir: dir, out, passphrase });
      expect(result.manifest).toMatchObject({ server_name: 'alpha.test', encrypted: passphrase !== null });
      expect(statSync(out).mode & 0o777).toBe(0o600);
      expect(readdirSync(dirname(out))).toEqual(['b.pcbak']);
      if (passphrase) expect(readFileSync(out).includes(readFileSync(join(dir, 'identity.json')).subarray(0, 40))).toBe(false);
      expect(verifyBackup(out, passphrase).key_id).toBe(result.manifest.key_id);
      const target = join(tempDir(), 'restored');
      restoreBackup({ dataDir: target, input: out, passphrase });
      expect(readdirSync(target).sort()).toEqual(['admin.token', 'identity.json', 'paracord.db', 'tls']);
      expect(readFileSync(join(target, 'identity.json'), 'utf8')).toBe(readFileSync(join(dir, 'identity.json'), 'utf8'));
      expect(statSync(target).mode & 0o777).toBe(0o700);
      const db = new Database(join(target, 'paracord.db'), { readonly: true });
      expect(db.prepare("SELECT value FROM settings WHERE key = 'marker'").get()).toEqual({ value: 'in the wal' });
      db.close();
    }
  });

  it('refuses a wrong passphrase, a missing one, truncation, tampering and a non-empty target, writing nothing', async () => {
    const dir = await dataDir();
    const out = join(tempDir(), 'b.pcbak');
    await createBackup({ dataDir: dir, out, passphrase: Buffer.from('right') });
    const plain = join(tempDir(), 'p.pcbak');
    await createBackup({ dataDir: dir, out: plain });
    const parent = tempDir();
    const attempt = (input: string, passphrase: Buffer | null, target = join(parent, 'x')) => {
      try {
        restoreBackup({ dataDir: target, input, passphrase });
      } catch (error) {
        expect(error).toBeInstanceOf(BackupError);
        return (error as Error).message;
      }
      throw new Error('restore succeeded');
    };
    expect(attempt(out, Buffer.from('wrong'))).toMatch(/wrong passphrase/);
    expect(attempt(out, null)).toMatch(/encrypted: give its passphrase/);
    for (const file of [out, plain]) {
      const passphrase = file === out ? Buffer.from('right') : null;
      const cut = join(tempDir(), 'cut.pcbak');
      writeFileSync(cut, readFileSync(file));
      truncateSync(cut, statSync(cut).size - 10);
      expect(attempt(cut, passphrase)).toMatch(/ends early|truncated|damaged/);
      const flipped = readFileSync(file);
      flipped[flipped.length - 40] = flipped[flipped.length - 40]! ^ 1;
      writeFileSync(cut, flipped);
      expect(attempt(cut, passphrase)).toMatch(/damaged|wrong passphrase/);
    }
    // A plain archive given a passphrase: not the encrypted backup the owner made (someone may have
    // put it in its place, with their key and admin token), refused, not restored as it claims.
    expect(attempt(plain, Buffer.from('right'))).toMatch(/not encrypted, but a passphrase was given/);
    // Nor a plain file whose manifest says it is encrypted (the CLI printed the manifest's word).
    const forged = join(tempDir(), 'forged.pcbak');
    const fd = openSync(forged, 'w');
    const writer = new ArchiveWriter(fd, null);
    const manifest = Buffer.from(JSON.stringify({ ...verifyBackup(plain, null), encrypted: true }));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(manifest.length);
    writer.write(length);
    writer.write(manifest);
    writer.finish();
    closeSync(fd);
    expect(attempt(forged, null)).toMatch(/manifest says the file is encrypted, and it is not: the file was altered/);
    expect(attempt(join(tempDir(), 'missing.pcbak'), null)).toMatch(/no such file/);
    expect(attempt(dir, null, dir)).toMatch(/not empty/);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('a restore removes what a killed restore into the same folder left (the decrypted keys and database), not a live one\'s', async () => {
    const dir = await dataDir();
    const out = join(tempDir(), 'b.pcbak');
    await createBackup({ dataDir: dir, out, passphrase: Buffer.from('right') });
    const parent = tempDir();
    const gone = spawnSync('true').pid; // a process that has ended
    const killed = join(parent, `.restored.restoring-${gone}-deadbeef`);
    const live = join(parent, '.restored.restoring-1-0badcafe'); // pid 1 runs
    for (const folder of [killed, live]) {
      mkdirSync(folder);
      writeFileSync(join(folder, 'identity.json'), 'secret');
    }
    restoreBackup({ dataDir: join(parent, 'restored'), input: out, passphrase: Buffer.from('right') });
    expect(readdirSync(parent).sort()).toEqual(['.restored.restoring-1-0badcafe', 'restored']);
  });

  it('one backup restored twice hands out different ids the second time (a trial restore that federated, then the real one)', async () => {
    const dir = await dataDir();
    const out = join(tempDir(), 'b.pcbak');
    await createBackup({ dataDir: dir, out, passphrase: null });
    const counters = (target: string) => {
      const db = new Database(join(target, 'paracord.db'), { readonly: true });
      try {
        return db.prepare<[], { name: string; seq: number }>("SELECT name, seq FROM sqlite_sequence WHERE name IN ('federation_outbox', 'mailbox_items') ORDER BY name").all();
      } finally {
        db.close();
      }
    };
    const first = join(tempDir(), 'first');
    restoreBackup({ dataDir: first, input: out, passphrase: null });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = join(tempDir(), 'second');
    restoreBackup({ dataDir: second, input: out, passphrase: null });
    const [a, b] = [counters(first), counters(second)];
    expect(a.map((c) => c.name)).toEqual(['federation_outbox', 'mailbox_items']);
    for (let i = 0; i < a.length; i++) {
      expect(b[i]!.seq - a[i]!.seq).toBeGreaterThanOrEqual(500); // 100 a millisecond, 5 ms apart
      expect(String(b[i]!.seq).length).toBeLessThanOrEqual(15); // peers' cursors are 15 digits at most
    }
  });

  it('a backup killed before the rename leaves the previous file intact', async () => {
    const dir = await dataDir();
    const out = join(tempDir(), 'b.pcbak');
    await createBackup({ dataDir: dir, out });
    const before = readFileSync(out);
    // What a killed backup leaves (its pid is gone); a live writer's file is left alone.
    const killed = `${out}.999999999-0123456789abcdef.tmp`;
    const live = `${out}.${process.ppid}-0123456789abcdef.tmp`;
    writeFileSync(killed, before.subarray(0, 100));
    writeFileSync(live, before.subarray(0, 100));
    expect(verifyBackup(out, null).server_name).toBe('alpha.test');
    await createBackup({ dataDir: dir, out });
    expect(existsSync(killed)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(backupFileName('alpha.test', Date.UTC(2025, 0, 2, 3, 4, 5))).toBe('paracord-alpha.test-20250102-030405.000Z.pcbak');
  });

  it('replaces an older backup of that name, never another file: a document, an empty file, a link, a FIFO', async () => {
    // A review 2026-12-01: `runBackup {out: "/home/me/thesis.docx"}` replaced the document with an archive.
    const dir = await dataDir();
    const folder = tempDir();
    const backup = join(folder, 'old.pcbak');
    await createBackup({ dataDir: dir, out: backup });
    await createBackup({ dataDir: dir, out: backup });
    expect(verifyBackup(backup, null).server_name).toBe('alpha.test');
    const document = join(folder, 'thesis.docx');
    writeFileSync(document, 'three years of work');
    const empty = join(folder, 'empty.pcbak');
    writeFileSync(empty, '');
    const link = join(folder, 'link.pcbak');
    symlinkSync(backup, link);
    const fifo = join(folder, 'fifo.pcbak');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    for (const out of [document, empty, link, fifo]) {
      await expect(createBackup({ dataDir: dir, out }), out).rejects.toThrow(/exists and is not a Paracord backup: it is not replaced|exists and is not a Paracord backup \(/);
    }
    expect(readFileSync(document, 'utf8')).toBe('three years of work');
    expect(readFileSync(empty, 'utf8')).toBe('');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readdirSync(folder).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});
