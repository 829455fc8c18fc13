/**
 * A friend's link opened in the desktop app (the `paracord://` handler: the page hears an
 * `open-link` notification and shows the link's card at once, `RedeemLink` with `autoCheck`). Any
 * web page can open such a link, so (a red-team review of the Electron shell, 2026-11-30):
 *  - a second link opened while the first one's preview is shown replaced the link under it, and
 *    "Peer with <first>" peered with the second, the fingerprint shown being another's. The card
 *    now shows the second link's server, and the click peers with what it shows;
 *  - Cancel read the link again at once, so the card could not be dismissed. It goes now;
 *  - a link that could not be used kept its words on the card, and a link opened after it was
 *    never read (a review of the fix).
 * The notification is the node's own (NodeEvents), as the desktop glue sends it; real Chromium,
 * real in-process nodes.
 */
import { describe, expect, it } from '../helpers/fixtures.ts';
import { HAVE_CHROMIUM } from '../helpers/browser.ts';

describe.skipIf(!HAVE_CHROMIUM)('a friend\'s link opened in the app (real Chromium, real nodes)', () => {
  it('peers with the server its card shows, a link opened over it replacing it; Cancel dismisses it', async ({ browser, fileNodes }) => {
    const home = await fileNodes.inProcess('home.test');
    const friend = await fileNodes.inProcess('friend.test');
    const other = await fileNodes.inProcess('other.test');
    const linkOf = async (node: typeof friend) => String((await node.admin('POST', '/invites/peer', {})).body.link);
    const [friendLink, otherLink] = [await linkOf(friend), await linkOf(other)];
    const page = await (await browser.newContext({ viewport: { width: 1200, height: 850 } })).newPage();
    await page.goto(String((await home.admin('POST', '/login-links', {})).body.login_url));
    await page.getByTestId('node-state').waitFor();
    // Not a node notification (the desktop glue sends it over IPC): through the admin stream here, to the same handler.
    const open = (link: string) => home.node.context.notifications.notify({ type: 'open-link', link } as never);

    // The page's own "Use a friend's link" cards (the dashboard's), before any link is opened.
    const cards = await page.getByTestId('redeem-input').count();
    open(friendLink);
    await expect.poll(() => page.getByTestId('preview-server').textContent().catch(() => '')).toBe('friend.test');
    // Another page opens a second link while the first one's card is shown: the card is the second's.
    open(otherLink);
    await expect.poll(() => page.getByTestId('preview-server').textContent().catch(() => '')).toBe('other.test');
    await page.getByRole('button', { name: 'Peer with other.test' }).click();
    const peers = async () => ((await home.admin('GET', '/peers')).body.peers as Array<{ server_name: string }>).map((p) => p.server_name);
    await expect.poll(peers, { timeout: 15_000 }).toEqual(['other.test']);
    // Peered, the card goes (the link is used).
    await expect.poll(() => page.getByTestId('redeem-preview').count()).toBe(0);

    // Cancel dismisses a link the app was opened with (its check ran again at once, and the card stayed).
    open(friendLink);
    await expect.poll(() => page.getByTestId('preview-server').textContent().catch(() => '')).toBe('friend.test');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => page.getByTestId('redeem-preview').count()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await page.getByTestId('redeem-preview').count()).toBe(0);
    expect(await page.getByTestId('redeem-input').count()).toBe(cards);
    expect(await peers()).toEqual(['other.test']);

    // A link that cannot be used is said so; the friend's link opened after it is read (it stayed
    // unread under the first one's words).
    open('paracord://peer/AAAA');
    await expect.poll(() => page.getByTestId('redeem-error').count()).toBeGreaterThan(0);
    open(friendLink);
    await expect.poll(() => page.getByTestId('preview-server').textContent().catch(() => '')).toBe('friend.test');
  });
});
