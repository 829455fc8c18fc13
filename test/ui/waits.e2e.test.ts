/// <reference lib="dom" />
/**
 * Waits said in words, in real Chromium against real nodes: a friend whose daily storage quota
 * for us is used up answers 429, and our dashboard says it asked us to wait (not "offline"); on
 * its side, the room whose messages its quota holds back says so in the room list (a few words,
 * the whole sentence as its title) and in the room. A node that fetched a friend's requests from
 * a mailbox and keeps them to take later (over its rate limit for that friend) says so on its
 * dashboard. Until now only the functions behind those words were tested.
 */
import { describe, expect, it } from '../helpers/fixtures.ts';
import { HAVE_CHROMIUM, axeViolations, shot, signedIn } from '../helpers/browser.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';
import { eventually, roomWithMembers, send } from '../helpers/rooms.ts';
import { homeArgs, twoHomesAndAFriend } from '../helpers/mailbox-homes.ts';

describe.skipIf(!HAVE_CHROMIUM)('waits in words (real Chromium, real nodes)', () => {
  it('"Asked to wait" for a friend over its quota for us, and "held back" on the room it holds back', async ({ browser, fileNodes }) => {
    const [alpha, beta] = await fileNodes.peered('alpha.test', 'beta.test');
    const room = await roomWithMembers(alpha, 'long letters', [[beta, '@owner:beta.test']]);
    // The legitimate twin: under the quota, a message arrives and nothing waits.
    await alpha.admin('POST', `/rooms/${encodeURIComponent(room)}/messages`, { body: 'short hello' });
    const arrived = () => queryNodeDb<{ n: number }>(beta.dataDir, "SELECT COUNT(*) AS n FROM federation_events WHERE room_id = ? AND event_type = 'm.message'", room)[0]!.n;
    await eventually(async () => expect(arrived()).toBe(1), 30_000);

    // beta is away while alpha writes long messages; it comes back storing only a few more from alpha today.
    await beta.stop();
    const used = queryNodeDb<{ b: number }>(beta.dataDir, "SELECT day_bytes AS b FROM peer_storage WHERE server_name = 'alpha.test'")[0]?.b ?? 0;
    for (let i = 0; i < 20; i++) await alpha.admin('POST', `/rooms/${encodeURIComponent(room)}/messages`, { body: `letter ${i} ${'x'.repeat(1800)}` });
    await beta.start(['--peer-quota-day', String(used + 12_000)]);
    await eventually(async () => expect(beta.stderr).toContain('"event":"quota_exceeded"'), 60_000);

    // alpha's dashboard: beta is there and asked to wait, with what waits; not "Offline since".
    const { page } = await signedIn(browser, alpha);
    const betaLine = page.getByTestId('dash-peer-beta.test').getByTestId('peer-line');
    await expect.poll(() => betaLine.textContent(), { timeout: 30_000 }).toMatch(/^Asked to wait — \d+ messages? waiting: beta\.test takes them a little later/);
    expect(await betaLine.textContent()).not.toMatch(/Offline/);
    await shot(page, 'dashboard-asked-to-wait');
    expect(await axeViolations(page)).toEqual([]);

    // beta's rooms: the room list says in a few words that alpha's messages are held back, the
    // whole sentence as its title; the room says it in full, with what the owner can do.
    const { page: rooms } = await signedIn(browser, beta);
    await rooms.goto(`${beta.ready.admin_url}/#/rooms`);
    const words = rooms.getByTestId('room-list-waits');
    await expect.poll(() => words.textContent(), { timeout: 60_000 }).toBe('· waiting: messages from alpha.test held back');
    expect(await words.getAttribute('title')).toMatch(/^Waiting: new messages from alpha\.test are held back — your node stores only so much from one server a day/);
    await rooms.goto(`${beta.ready.admin_url}/#/rooms/${encodeURIComponent(room)}`);
    await expect.poll(() => rooms.locator('main').innerText(), { timeout: 20_000 }).toContain('PARACORD_PEER_QUOTA_DAY_BYTES');
    await shot(rooms, 'room-held-back');
    expect(await axeViolations(rooms)).toEqual([]);

    // The quota allows them again (the owner raised it): everything arrives (alpha's queue is
    // taken at its next try, or by beta's catch-up) and the room's words go.
    await beta.stop();
    await beta.start();
    await eventually(async () => expect(arrived()).toBe(21), 60_000, 250);
    await rooms.goto(`${beta.ready.admin_url}/#/rooms`);
    await rooms.getByRole('link', { name: 'long letters' }).waitFor();
    await expect.poll(() => words.count(), { timeout: 30_000 }).toBe(0);
  });

  it('requests fetched from a mailbox that the node keeps to take later: its dashboard says how many, from whom, through which mailbox and why', async ({ browser, nodes }) => {
    const { alpha, beta, carol, roomId, closed } = await twoHomesAndAFriend(nodes);
    // A small rate limit for beta at alpha: taking a backlog at once goes over it.
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'allow', rate_limit: { per_second: 1, burst: 2 } })).status).toBe(200);
    expect(await alpha.stop()).toBe(0);
    for (let i = 0; i < 12; i++) await send(beta, roomId, `while away ${i}`);
    // All of it left at carol (beta's queue for alpha empty).
    await eventually(async () => expect(queryNodeDb<{ n: number }>(beta.dataDir, "SELECT COUNT(*) AS n FROM federation_outbox WHERE destination = 'alpha.test' AND state = 'pending'")[0]!.n).toBe(0), 30_000, 100);
    expect(queryNodeDb<{ n: number }>(carol.dataDir, 'SELECT COUNT(*) AS n FROM mailbox_items')[0]!.n).toBeGreaterThan(0);
    await alpha.start(homeArgs(closed.alpha));
    const { page } = await signedIn(browser, alpha);
    const line = page.getByTestId('mailbox-waiting-here');
    await expect.poll(() => line.textContent(), { timeout: 30_000 })
      .toMatch(/\d+ requests? from beta\.test, fetched from carol\.test's mailbox, wait here to be taken: over the rate limit this node gives beta\.test/);
    await shot(page, 'dashboard-fetched-not-taken', true);
    // carol, whose mailbox alpha reads, is heard from (nobody can call alpha: only its fetches tell).
    expect(await page.getByTestId('dash-peer-carol.test').getByTestId('peer-line').textContent()).toMatch(/^Online · seen /);
    // All taken, in order: the line goes.
    await expect.poll(() => line.count(), { timeout: 60_000 }).toBe(0);
    const arrived = queryNodeDb<{ body: string }>(alpha.dataDir, "SELECT json_extract(content, '$.body') AS body FROM federation_events WHERE room_id = ? AND event_type = 'm.message' ORDER BY depth", roomId).map((r) => r.body);
    expect(arrived).toEqual(Array.from({ length: 12 }, (_, i) => `while away ${i}`));
  });
});
