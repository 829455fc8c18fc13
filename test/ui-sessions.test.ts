/**
 * Browser sessions through a real node process (issue #16 item 1): a session past its expiry
 * (`serve --session-ttl-seconds`) and a revoked one are refused with a 401 that says so and leave
 * the sessions list; `serve --open` (what `npm start` runs) hands the opener its own short-lived
 * login link, and opening it signs the browser in.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from './helpers/fixtures.ts';
import { LoginSessions } from '../main/core/admin/sessions.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { tempDir } from './helpers/temp-dir.ts';

/** Opens a login link as a browser would; the session cookie it sets (undefined when none). */
async function openLink(url: string): Promise<{ status: number; cookie: string | undefined }> {
  const response = await request(url, { headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36' } });
  await response.body.dump();
  return { status: response.statusCode, cookie: /paracord_session=([^;]+)/.exec(String(response.headers['set-cookie'] ?? ''))?.[1] };
}

async function withCookie(node: NodeProcess, cookie: string, path: string): Promise<{ status: number; body: { error?: string; message?: string } }> {
  const response = await request(`${node.ready.admin_url}/_paracord/admin/v1${path}`, { reset: true, headers: { cookie: `paracord_session=${cookie}` } });
  return { status: response.statusCode, body: (await response.body.json()) as { error?: string; message?: string } };
}

const sessionIds = async (node: NodeProcess) => ((await node.admin('GET', '/sessions')).body.sessions as Array<{ id: string }>).map((s) => s.id);

describe('sessions end (item 1)', () => {
  it('a session past its expiry is refused with session_ended and leaves the list; use slides the expiry on', async ({ fileNodes }) => {
    const node = await fileNodes.start({ serverName: 'alpha.test', args: ['--session-ttl-seconds', '4'] });
    const { status, cookie } = await openLink(node.ready.login_url);
    expect(status).toBe(302);
    const [id] = await sessionIds(node);
    expect(id).toMatch(/^ses_/);
    const expiresAt = () => queryNodeDb<{ expires_at: number }>(node.dataDir, 'SELECT expires_at FROM admin_sessions WHERE id = ?', id)[0]!.expires_at;
    const first = expiresAt();
    // The configured lifetime, not the 30-day default.
    expect(first - queryNodeDb<{ created_at: number }>(node.dataDir, 'SELECT created_at FROM admin_sessions WHERE id = ?', id)[0]!.created_at).toBe(4000);
    // Each use (at most every tenth of the lifetime) moves the expiry on.
    await expect.poll(async () => ((await withCookie(node, cookie!, '/status')).status === 200 ? expiresAt() : 0)).toBeGreaterThan(first);

    // Unused, it expires: gone from the list (asked with the admin token, which does not touch it)…
    await expect.poll(async () => (await sessionIds(node)).includes(id!), { timeout: 20_000, interval: 250 }).toBe(false);
    // …and the cookie is refused with a clear JSON error.
    const refused = await withCookie(node, cookie!, '/status');
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('session_ended');
    expect(refused.body.message).toMatch(/expired or was signed out.*login link/);
    // A request with no cookie at all still gets the old answer.
    expect((await request(`${node.ready.admin_url}/_paracord/admin/v1/status`, { reset: true }).then(async (r) => (await r.body.json()) as { error: string })).error).toBe('missing_token');
  });

  it('a page left open does not keep its session alive: its event stream hears a busy node, which is not a use, and ends with the session', async ({ fileNodes }) => {
    const node = await fileNodes.start({ serverName: 'gamma.test', args: ['--session-ttl-seconds', '4'] });
    const { cookie } = await openLink(node.ready.login_url);
    const [id] = await sessionIds(node);
    const expiresAt = () => queryNodeDb<{ expires_at: number }>(node.dataDir, 'SELECT expires_at FROM admin_sessions WHERE id = ?', id)[0]?.expires_at;
    const stream = await request(`${node.ready.admin_url}/_paracord/admin/v1/events`, { headers: { cookie: `paracord_session=${cookie}` } });
    expect(stream.statusCode).toBe(200);
    // Opening the stream is a use (it slides the expiry when a tenth of the lifetime passed since the
    // last one: on a busy machine, since the login link): read after it.
    const created = expiresAt();
    let heard = '';
    let ended = false;
    stream.body.on('data', (chunk: Buffer) => (heard += chunk.toString('utf8')));
    stream.body.on('end', () => (ended = true)).on('error', () => (ended = true));
    // A busy node: a status notification every 200 ms (the owner's token pauses and resumes; the session is not used).
    let busy = true;
    const churn = (async () => {
      while (busy) {
        await node.admin('POST', '/federation/pause', {});
        await node.admin('POST', '/federation/resume', {});
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    try {
      // The stream hears them: each is checked against the session before it is passed on…
      await expect.poll(() => (heard.match(/event: status/g) ?? []).length).toBeGreaterThan(3);
      // …which does not slide its expiry: unused, it ends on time, and the stream with it.
      await expect.poll(async () => (await sessionIds(node)).includes(id!), { timeout: 20_000, interval: 250 }).toBe(false);
      expect(expiresAt()).toBe(created);
      await expect.poll(() => ended).toBe(true);
      expect((await withCookie(node, cookie!, '/status')).status).toBe(401);
    } finally {
      busy = false;
      await churn;
    }
  });

  it('a revoked session is refused at once', async ({ fileNodes }) => {
    const node = await fileNodes.start({ serverName: 'beta.test' });
    const { cookie } = await openLink(node.ready.login_url);
    expect((await withCookie(node, cookie!, '/status')).status).toBe(200);
    const [id] = await sessionIds(node);
    expect((await node.admin('DELETE', `/sessions/${id}`)).body).toEqual({ revoked: true });
    const refused = await withCookie(node, cookie!, '/status');
    expect(refused).toMatchObject({ status: 401, body: { error: 'session_ended' } });
    expect(await sessionIds(node)).not.toContain(id);
  });

  it('refuses a bad --session-ttl-seconds with one clear line', async ({ fileNodes }) => {
    const node = fileNodes.process({ serverName: 'gamma.test', args: ['--session-ttl-seconds', '0'] });
    await expect(node.start()).rejects.toThrow(/--session-ttl-seconds must be a positive number, not "0"/);
  });
});

describe('serve --open (npm start) opens the UI signed in (item 1)', () => {
  it('runs PARACORD_OPEN_COMMAND with its own one-time login link, which signs a browser in', async ({ fileNodes }) => {
    const dir = tempDir('paracord-opener-');
    const record = join(dir, 'opened.txt');
    const opener = join(dir, 'opener.sh');
    writeFileSync(opener, `#!/bin/sh\nprintf '%s\\n%s\\n' "$#" "$1" > '${record}.tmp' && mv '${record}.tmp' '${record}'\n`);
    chmodSync(opener, 0o755);
    const node = await fileNodes.start({ serverName: 'delta.test', args: ['--open'], env: { PARACORD_OPEN_COMMAND: opener } });

    await expect.poll(() => existsSync(record)).toBe(true);
    const [argc, url] = readFileSync(record, 'utf8').split('\n');
    expect(argc).toBe('1');
    expect(url).toMatch(new RegExp(`^${node.ready.admin_url}/login\\?code=[\\w-]+$`));
    // Not the link printed in the terminal (that one lasts 15 minutes, this one 60 seconds).
    expect(url).not.toBe(node.ready.login_url);

    const opened = await openLink(url!);
    expect(opened.status).toBe(302);
    expect(opened.cookie).toBeDefined();
    expect((await withCookie(node, opened.cookie!, '/status')).status).toBe(200);
    // One use: the same link a second time (another local user who read it in `ps`) gets nothing.
    expect(await openLink(url!)).toMatchObject({ status: 403, cookie: undefined });
  });

  it('the link handed to the opener works for 60 seconds only', () => {
    const sessions = new LoginSessions();
    const now = Date.now();
    const brief = sessions.newLoginCode(now, 60_000);
    expect(sessions.redeem(brief, null, now + 60_001)).toBeUndefined();
    const printed = sessions.newLoginCode(now);
    expect(sessions.redeem(printed, null, now + 60_001)).toBeDefined();
  });
});
