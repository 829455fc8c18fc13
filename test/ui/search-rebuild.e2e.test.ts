/**
 * The search index while it is being built (issue #36: it moved to a file of its own, so every
 * node rebuilds it once after the update, and a node restarted with a long backlog folds it in
 * the background): a search answers from what is indexed and says, in words, how many messages
 * it has not taken in yet; once built, the same search finds everything and says nothing more.
 * Real node, real Chromium; the backlog is written into the stopped node's database.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from '../helpers/fixtures.ts';
import { ARTIFACTS, HAVE_CHROMIUM } from '../helpers/browser.ts';
import { eventually, send } from '../helpers/rooms.ts';

const BACKLOG = 600_000;

/** `count` messages stored straight into a stopped node's database (not signed: only the index reads them). */
function storeBacklog(dataDir: string, roomId: string, count: number): void {
  const db = new Database(join(dataDir, 'paracord.db'));
  const insert = db.prepare(
    `INSERT INTO federation_events (event_id, room_id, event_type, sender, origin_server, origin_ts, depth, state_key, content, signatures, content_hash, received_from, received_at, relates_to)
     VALUES (?, ?, 'm.message', '@owner:gamma.test', 'gamma.test', ?, ?, NULL, ?, '{}', 'h', NULL, 0, NULL)`,
  );
  db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(`$hay${i}:gamma.test`, roomId, i, 1_000 + i, `{"body":"hay bale ${i}","format":"plain"}`);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

describe.skipIf(!HAVE_CHROMIUM)('search while its index is being built', () => {
  it('answers from what is indexed, says how much is not, and finds everything once built', async ({ fileNodes, browser }) => {
    // A search answers at once from what is indexed (the default waits 3 s for the index first).
    const node = fileNodes.process({ serverName: 'gamma.test', env: { PARACORD_SEARCH_WAIT_MS: '0' } });
    await node.start();
    const roomId = (await node.admin('POST', '/rooms', { name: 'archive' })).body.room_id as string;
    await node.stop();
    storeBacklog(node.dataDir, roomId, BACKLOG);
    await node.start();
    await send(node, roomId, 'a needle in the hay');

    const context = await browser.newContext({ viewport: { width: 1200, height: 850 } });
    const page = await context.newPage();
    const link = await node.admin('POST', '/login-links', {});
    await page.goto(link.body.login_url);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.getByRole('link', { name: 'Rooms', exact: true }).click();
    await page.getByRole('link', { name: 'archive' }).click();
    await page.getByTestId('search-input').fill('needle');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const note = page.getByTestId('search-unindexed');
    await note.waitFor();
    // Counted up to 10,000 (the count reads each one, on the node's main thread).
    expect(await note.textContent()).toMatch(/Search is still taking in (over 10,000|[\d,]+) messages of your rooms \(its index is being built\): these results may miss them/);
    await page.screenshot({ path: join(ARTIFACTS, 'search-being-built.png'), fullPage: true });

    // Built (by the worker thread, the node answering meanwhile): everything, and no note.
    await eventually(async () => expect((await node.admin('GET', `/search?${new URLSearchParams({ q: 'needle' })}`)).body).not.toHaveProperty('unindexed'), 120_000, 500);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByTestId('search-result').first().waitFor();
    expect(await page.getByTestId('search-result').count()).toBe(1);
    expect(await note.count()).toBe(0);
    const hay = (await node.admin('GET', `/search?${new URLSearchParams({ q: 'bale', limit: '200' })}`)).body;
    expect(hay.results).toHaveLength(200);
    expect(hay.unindexed).toBeUndefined();
    await context.close();
  }, 180_000);
});
