/**
 * Under systemd, serve's output is kept in the journal, which members of the adm and
 * systemd-journal groups can read: the ready line's login link works for one minute there,
 * not 15 (the red team's finding, note 65). systemd names the journal stream it connected in
 * JOURNAL_STREAM ("device:inode"); here stderr is a file and JOURNAL_STREAM names it.
 */
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { CLI, NODE_FLAGS } from './helpers/node-process.ts';
import { tempDir } from './helpers/temp-dir.ts';
import { describe, expect, it } from './helpers/fixtures.ts';

interface Ready { login_url: string; login_valid_seconds: number }

/** Runs serve with stderr going to a file; JOURNAL_STREAM names that file when `journal`, another one otherwise. */
async function serveWithStderrFile(journal: boolean): Promise<{ ready: Ready; stderr: () => string; stop: () => Promise<void> }> {
  const dir = tempDir('journal-');
  const stderrPath = join(dir, 'stderr.log');
  const fd = openSync(stderrPath, 'w');
  const other = openSync(join(dir, 'other.log'), 'w');
  const named = fstatSync(journal ? fd : other);
  closeSync(other);
  const child = spawn(process.execPath, [...NODE_FLAGS, CLI, 'serve', '--data', join(dir, 'data'), '--server-name', 'journal.test', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--insecure-http'], {
    stdio: ['ignore', 'pipe', fd],
    env: { ...process.env, JOURNAL_STREAM: `${named.dev}:${named.ino}` },
  });
  closeSync(fd);
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${readFileSync(stderrPath, 'utf8')}`)));
    createInterface({ input: child.stdout! }).once('line', resolve);
  });
  child.removeAllListeners('exit');
  return {
    ready: JSON.parse(line) as Ready,
    stderr: () => readFileSync(stderrPath, 'utf8'),
    stop: () => new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

const open = async (url: string) => {
  const response = await request(url, { headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36' } });
  await response.body.dump();
  return response.statusCode;
};

describe('the ready line\'s login link in the system journal', () => {
  it('works for one minute when stderr is the journal JOURNAL_STREAM names, once, and says so', async () => {
    const node = await serveWithStderrFile(true);
    try {
      expect(node.ready.login_valid_seconds).toBe(60);
      await expect.poll(node.stderr).toContain('for one minute, as this output is kept in the system journal');
      expect(await open(node.ready.login_url)).toBe(302);
      expect(await open(node.ready.login_url)).not.toBe(302);
    } finally {
      await node.stop();
    }
  }, 60_000);

  it('works 15 minutes when JOURNAL_STREAM names another stream (a variable inherited, output elsewhere)', async () => {
    const node = await serveWithStderrFile(false);
    try {
      expect(node.ready.login_valid_seconds).toBe(900);
      await expect.poll(node.stderr).toContain('the link works once;');
      expect(await open(node.ready.login_url)).toBe(302);
    } finally {
      await node.stop();
    }
  }, 60_000);
});
