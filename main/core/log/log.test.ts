import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { pino } from 'pino';
import { tempDir } from '../../../test/helpers/temp-dir.ts';
import { createLogger } from './logger.ts';
import { lineLimiter } from './rate-limit.ts';

describe('createLogger with a log file', () => {
  it('keeps a line logged just before the process exits, and exits cleanly', () => {
    const file = join(tempDir('paracord-log-'), 'logs', 'node.log');
    const moduleUrl = new URL('./logger.ts', import.meta.url).href;
    const code = `const { createLogger } = await import(${JSON.stringify(moduleUrl)});
      const log = createLogger({ file: ${JSON.stringify(file)}, stderr: false });
      log.info({ event: 'last_words', token: 'secret-token' }, 'about to exit');
      process.exit(0);`;
    // Throws if the child exits with an error (the asynchronous stream threw on exit before).
    const stderr = execFileSync(process.execPath, ['--experimental-strip-types', '--no-warnings', '--input-type=module', '-e', code], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(stderr).toBe('');
    const line = JSON.parse(readFileSync(file, 'utf8').trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ event: 'last_words', token: '[redacted]' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('writes every line with the characters JSON leaves raw (bidi overrides, line separators, C1) escaped, in any field: the same JSON, nothing hidden in a terminal', async () => {
    const file = join(tempDir('paracord-log-'), 'logs', 'node.log');
    const log = createLogger({ file, stderr: false });
    // As a stranger's sign-in or a peer's answer could put them in any field, nested or in the message (before: written raw unless the caller cleaned its own).
    const hidden = 'admin\u202e\u2066txt.exe\u2028\u0085';
    log.warn({ event: 'member_sign_in_failed', localpart: hidden, nested: { why: hidden } }, `failed for ${hidden}`);
    await until(() => { try { return readFileSync(file, 'utf8').includes('member_sign_in_failed'); } catch { return false; } });
    const raw = readFileSync(file, 'utf8');
    expect(raw).not.toMatch(/[\u202e\u2066\u2028\u0085]/);
    expect(raw).toContain('admin\\u202e\\u2066txt.exe\\u2028\\u0085');
    expect(JSON.parse(raw.trim())).toMatchObject({ localpart: hidden, nested: { why: hidden }, msg: `failed for ${hidden}` });
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, timeoutMs = 5_000, describe: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not reached ${describe()}`);
    await sleep(20);
  }
}

describe('log rotation (pino-roll)', () => {
  it('rotates by size and keeps at most `files` files, node.log pointing at the current one', async () => {
    const dir = join(tempDir('paracord-log-'), 'logs');
    const file = join(dir, 'node.log');
    const log = createLogger({ file, stderr: false, maxBytes: 1024, files: 3 });
    const numbered = () => readdirSync(dir).filter((n) => /^node\.\d+\.log$/.test(n));
    // pino-roll removes old files asynchronously (a file listed may be gone when read).
    const read = (name: string) => {
      try {
        return readFileSync(join(dir, name), 'utf8');
      } catch {
        return '';
      }
    };
    const holdsLast = () => numbered().some((n) => read(n).includes('"i":199'));
    // What was on disk when the wait ran out: each file's size and last line number.
    const state = () => JSON.stringify(numbered().map((n) => ({ n, size: read(n).length, last: /"i":(\d+)[^\n]*\n?$/.exec(read(n))?.[1] })));
    const filler = 'x'.repeat(200);
    for (let i = 0; i < 200; i++) {
      log.info({ event: 'filler', i, filler }, 'filler line');
      // Ten lines at a time, each ten on disk before the next: the stream never holds more than
      // ten lines in one write (on a loaded machine a slow write let seventy pile up into one
      // 18 KB write, and the file passed the bound below by that much). The pause lets the
      // rotating stream take over from the first, synchronous writes.
      if (i % 10 === 9) {
        await sleep(5);
        await until(() => numbered().some((n) => read(n).includes(`"i":${i},`)), 30_000, state);
      }
    }
    // On a loaded machine (CI's full run) the removal took more than 5 s once.
    await until(() => numbered().length <= 3 && holdsLast(), 30_000, state);
    const files = numbered();
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(files.length).toBeLessThanOrEqual(3);
    expect(lstatSync(file).isSymbolicLink()).toBe(true);
    // A file passes the size by what is written while its rotation is under way (on a machine
    // with three busy processes per core, three batches of ten lines: 9.5 KB), never grows without
    // bound: 16 KB is a quarter of the 63 KB written, which a file that never rotated would hold.
    for (const name of files) expect(statSync(join(dir, name)).size).toBeLessThan(16 * 1024);
  });

  it('keeps no more than `files` numbered files once the current one is open, whatever was left before', async () => {
    const dir = join(tempDir('paracord-log-'), 'logs');
    mkdirSync(dir, { recursive: true });
    // Left by an earlier run (or by a rotation whose cleanup listed the folder before its new file existed).
    for (let n = 1; n <= 6; n++) writeFileSync(join(dir, `node.${n}.log`), `{"old":${n}}\n`);
    const log = createLogger({ file: join(dir, 'node.log'), stderr: false, maxBytes: 1024 * 1024, files: 3 });
    log.info({ event: 'line' }, 'one line, no rotation');
    const numbered = () => readdirSync(dir).filter((n) => /^node\.\d+\.log$/.test(n)).sort();
    await until(() => numbered().length === 3, 10_000, () => JSON.stringify(numbered()));
    // The newest are kept, the current one (the highest number) among them.
    expect(numbered()).toEqual(['node.4.log', 'node.5.log', 'node.6.log']);
  });

  it('reports a disk-full log file in the warnings and on stderr, and keeps running', () => {
    const dir = join(tempDir('paracord-log-'), 'logs');
    const moduleUrl = new URL('./logger.ts', import.meta.url).href;
    const healthUrl = new URL('./health.ts', import.meta.url).href;
    // /dev/full answers every write with ENOSPC: the disk is full.
    const code = `import { mkdirSync, symlinkSync } from 'node:fs';
      mkdirSync(${JSON.stringify(dir)}, { recursive: true });
      symlinkSync('/dev/full', ${JSON.stringify(join(dir, 'node.1.log'))});
      const { createLogger } = await import(${JSON.stringify(moduleUrl)});
      const { logWarnings } = await import(${JSON.stringify(healthUrl)});
      const log = createLogger({ file: ${JSON.stringify(join(dir, 'node.log'))}, stderr: false });
      for (let i = 0; i < 20; i++) log.info({ event: 'line', i }, 'line');
      await new Promise((r) => setTimeout(r, 300));
      for (let i = 0; i < 20; i++) log.info({ event: 'line', i }, 'line');
      await new Promise((r) => setTimeout(r, 300));
      process.stdout.write(JSON.stringify(logWarnings(log)));`;
    const result = spawnSync(process.execPath, ['--experimental-strip-types', '--no-warnings', '--input-type=module', '-e', code], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([expect.stringMatching(/^disk full: .*ENOSPC/)]);
    const reports = result.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    // Reported once (rate-limited), not once per lost line.
    expect(reports).toEqual([expect.objectContaining({ event: 'log_write_failed', code: 'ENOSPC' })]);
  });
});

describe('warnLimited', () => {
  it('logs the first lines per key, then one "suppressed N similar lines" summary per window', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const limited = lineLimiter(log, 200, 3);
    for (let i = 0; i < 1_000; i++) limited.warn('catch_up_failed evil.test', { event: 'catch_up_failed', server: 'evil.test', i }, 'catch-up failed');
    limited.warn('catch_up_failed good.test', { event: 'catch_up_failed', server: 'good.test' }, 'catch-up failed');
    expect(lines.filter((l) => l.server === 'evil.test')).toHaveLength(3);
    expect(lines.filter((l) => l.server === 'good.test')).toHaveLength(1);
    await until(() => lines.some((l) => l.event === 'log_suppressed'));
    expect(lines.find((l) => l.event === 'log_suppressed')).toMatchObject({ key: 'catch_up_failed evil.test', suppressed: 997, suppressed_event: 'catch_up_failed', msg: 'suppressed 997 similar lines' });
    // The next window logs again.
    limited.warn('catch_up_failed evil.test', { event: 'catch_up_failed', server: 'evil.test', i: 'again' }, 'catch-up failed');
    expect(lines.at(-1)).toMatchObject({ server: 'evil.test', i: 'again' });
  });
});
