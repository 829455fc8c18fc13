import { createHash } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { cleanMappings, cleanPageRelease, loadedAddons } from './clean-pages.ts';

const EXE = '/opt/node/bin/node';

/** One smaps entry as the kernel writes it. */
function entry(range: string, perms: string, path: string, fields: { rss: number; dirty?: number; anonymous?: number; swap?: number }): string {
  const lines = [`${range} ${perms} 00000000 fd:01 1234${path ? `                      ${path}` : ' '}`, 'Size:               4096 kB', `Rss:                ${fields.rss} kB`, 'Shared_Clean:          0 kB'];
  if (fields.dirty !== undefined) lines.push(`Private_Dirty:      ${fields.dirty} kB`);
  lines.push('Referenced:           12 kB');
  if (fields.anonymous !== undefined) lines.push(`Anonymous:          ${fields.anonymous} kB`);
  lines.push(`Swap:               ${fields.swap ?? 0} kB`, 'VmFlags: rd ex mr mw me dw');
  return lines.join('\n');
}

describe('the clean pages an idle node gives back', () => {
  it('are only read-only private copies of the executable, addons and the runtime, with no page of their own', () => {
    const SQLITE = '/app/node_modules/better-sqlite3/build/Release/better_sqlite3.node';
    const smaps = [
      entry('00400000-00746000', 'r--p', EXE, { rss: 3352, dirty: 0, anonymous: 0 }), // kept
      entry('0074a000-03044000', 'r-xp', EXE, { rss: 18064, dirty: 0, anonymous: 0 }), // kept
      entry('03044000-03050000', 'r-xp', EXE, { rss: 8, dirty: 4, anonymous: 0 }), // a dirty page (a breakpoint)
      entry('03050000-03060000', 'r-xp', EXE, { rss: 0, dirty: 0, anonymous: 0 }), // nothing resident
      entry('03060000-03070000', 'r-xp', EXE, { rss: 64 }), // its private pages not counted
      entry('03070000-03080000', 'r--p', EXE, { rss: 8, dirty: 0, anonymous: 0, swap: 8 }), // a private page swapped out
      entry('06b52000-06b56000', 'r--p', EXE, { rss: 16, dirty: 0, anonymous: 0 }), // RELRO (clean-looking): before the data
      entry('06b56000-06b7d000', 'rw-p', EXE, { rss: 156, dirty: 0, anonymous: 0 }), // writable: the image's end
      entry('7e0000000000-7e0000200000', 'r-xp', EXE, { rss: 1600, dirty: 0, anonymous: 0 }), // V8's copy of builtins (a worker's)
      entry('7f0000000000-7f0000100000', 'r-xp', SQLITE, { rss: 1700, dirty: 0, anonymous: 0 }), // kept: loaded by the main thread
      entry('7f0000100000-7f0000108000', 'r--p', SQLITE, { rss: 32, dirty: 0, anonymous: 0 }), // its RELRO
      entry('7f0000108000-7f0000109000', 'rw-p', SQLITE, { rss: 4, dirty: 4, anonymous: 4 }),
      entry('7f0000110000-7f0000120000', 'r-xp', '/tmp/worker-only.node', { rss: 40, dirty: 0, anonymous: 0 }), // a worker's alone
      entry('7f0000200000-7f0000300000', 'r-xp', '/usr/lib/x86_64-linux-gnu/libc.so.6', { rss: 1200, dirty: 0, anonymous: 0 }), // kept
      entry('7f0000300000-7f0000400000', 'r-xp', '/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30', { rss: 700, dirty: 0, anonymous: 0 }), // kept
      entry('7f0000400000-7f0000500000', 'r-xp', '/lib/x86_64-linux-gnu/libc-2.31.so', { rss: 900, dirty: 0, anonymous: 0 }), // kept: an older glibc's name
      entry('7f0000500000-7f0000600000', 'r-xp', '/lib/x86_64-linux-gnu/ld-2.31.so', { rss: 100, dirty: 0, anonymous: 0 }), // kept
      entry('7f0000600000-7f0000700000', 'r-xp', '/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so', { rss: 40, dirty: 0, anonymous: 0 }), // may be unloaded
      entry('7f0000700000-7f0000800000', 'r--s', '/app/data/node.db-shm', { rss: 32, dirty: 0, anonymous: 0 }), // shared
      entry('7f0000800000-7f0000900000', 'r-xp', '/opt/node/bin/node (deleted)', { rss: 32, dirty: 0, anonymous: 0 }), // replaced on disk
      entry('7f0000900000-7f0000a00000', 'rw-p', '', { rss: 900, dirty: 900, anonymous: 900 }), // anonymous
      entry('7f0000a00000-7f0000b00000', 'rw-p', '[heap]', { rss: 6800, dirty: 6800, anonymous: 6800 }),
      entry('7ffff7fc0000-7ffff7fc2000', 'r-xp', '[vdso]', { rss: 8, dirty: 0, anonymous: 0 }),
    ].join('\n');
    const found = cleanMappings(smaps, EXE, new Set([SQLITE]));
    expect(found.map((m) => [m.start.toString(16), m.length, m.path.split('/').pop(), m.residentKb])).toEqual([
      ['400000', 0x346000, 'node', 3352],
      ['74a000', 0x28fa000, 'node', 18064],
      ['7f0000000000', 0x100000, 'better_sqlite3.node', 1700],
      ['7f0000200000', 0x100000, 'libc.so.6', 1200],
      ['7f0000300000', 0x100000, 'libstdc++.so.6.0.30', 700],
      ['7f0000400000', 0x100000, 'libc-2.31.so', 900],
      ['7f0000500000', 0x100000, 'ld-2.31.so', 100],
    ]);
    // Without a writable mapping of the executable its image's end is unknown: none of it.
    expect(cleanMappings(entry('0074a000-03044000', 'r-xp', EXE, { rss: 18064, dirty: 0, anonymous: 0 }), EXE, new Set())).toEqual([]);
    expect(cleanMappings('', EXE, new Set())).toEqual([]);
  });

  it('names the addons this thread loaded', () => {
    new Database(':memory:').close(); // better-sqlite3 loads its addon through require
    expect([...loadedAddons()].some((file) => file.includes('/better-sqlite3/') && file.endsWith('.node'))).toBe(true);
  });

  const release = cleanPageRelease();
  it.skipIf(process.platform !== 'linux')('leave this very process smaller and working', () => {
    expect(release).toBeTypeOf('function');
    const exe = realpathSync(process.execPath);
    const resident = () => cleanMappings(readFileSync('/proc/self/smaps', 'utf8'), exe, loadedAddons()).reduce((sum, m) => sum + m.residentKb, 0);
    // Code of every kind runs before: JSON, regular expressions, hashing, SQLite.
    const work = () => {
      const db = new Database(':memory:');
      db.exec('CREATE TABLE t (x TEXT)');
      for (let i = 0; i < 200; i++) db.prepare('INSERT INTO t VALUES (?)').run(JSON.stringify({ i, s: 'Ä'.normalize('NFD') }));
      const rows = db.prepare('SELECT COUNT(*) AS n, MAX(x) AS m FROM t').get() as { n: number; m: string };
      db.close();
      return `${rows.n} ${createHash('sha256').update(rows.m).digest('hex')} ${/\p{L}+/u.exec('ok!')?.[0]}`;
    };
    const before = work();
    const residentBefore = resident();
    const releasedKb = release!();
    // Most of what was resident went (the call itself and this test bring some back at once).
    expect(releasedKb).toBeGreaterThan(residentBefore / 2);
    expect(resident()).toBeLessThan(residentBefore / 2);
    // Everything given back comes back from the file when it runs again: same answers.
    expect(work()).toBe(before);
    expect(release!()).toBeGreaterThan(0);
    expect(work()).toBe(before);
  });
});
