/// <reference lib="dom" />
/**
 * A user trial: after alpha blocked beta, beta's dashboard said alpha was "online · Online · seen
 * 13 s ago" (its node still answers a check); only a refused message's card said "The other
 * server blocks yours". And `trust nobody.test block` on a server never peered listed it for good
 * among "Friends' servers". Real Chromium, two real nodes from dist/.
 */
import { describe, expect, it } from '../helpers/fixtures.ts';
import { HAVE_CHROMIUM, axeViolations, signedIn } from '../helpers/browser.ts';
import { enc } from '../helpers/rooms.ts';

describe.skipIf(!HAVE_CHROMIUM)('a friend that blocks yours; a server blocked without peering (real Chromium, real nodes)', () => {
  it('the friend\'s line says it blocks your server, not "Online"; the server only blocked is listed apart and can be forgotten', async ({ browser, fileNodes }) => {
    const [alpha, beta] = await fileNodes.peered('alpha.test', 'beta.test');
    const room = (await beta.admin('POST', '/rooms', { name: 'shared' })).body.room_id as string;
    await beta.admin('POST', `/rooms/${enc(room)}/invites`, { user_id: '@owner:alpha.test' });
    const invite = (await alpha.admin('GET', '/invites')).body.invites.find((i: { room_id: string }) => i.room_id === room);
    expect((await alpha.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(200);
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'block' })).status).toBe(200);
    expect((await beta.admin('POST', `/rooms/${enc(room)}/messages`, { body: 'are you there?' })).status).toBe(200);
    expect((await beta.admin('PUT', '/peers/nobody.test/trust', { mode: 'block' })).status).toBe(200);

    const { page } = await signedIn(browser, beta);
    const alphaItem = page.getByTestId('dash-peer-alpha.test');
    await expect.poll(() => alphaItem.getByTestId('peer-line').textContent(), { timeout: 20_000 }).toMatch(/^alpha\.test blocks your server — it refused what yours sent .+ ago; nothing you send reaches it until its owner allows yours$/);
    expect(await alphaItem.locator('.pill').textContent()).toBe('refusing');
    expect(await alphaItem.innerText()).not.toMatch(/online/i);

    // nobody.test: not among friends, but apart, with a way to forget it.
    const named = page.getByTestId('dash-named-nobody.test');
    await named.waitFor();
    expect(await page.getByTestId('dash-peer-nobody.test').count()).toBe(0);
    expect(await page.getByRole('heading', { name: 'Servers you blocked without peering' }).count()).toBe(1);
    expect(await named.getByTestId('named-line').textContent()).toBe('Blocked: nothing is taken from it');
    expect(await axeViolations(page)).toEqual([]);
    await named.getByRole('button', { name: 'Forget nobody.test' }).click();
    await named.waitFor({ state: 'detached' });
    expect(((await beta.admin('GET', '/peers')).body.peers as Array<{ server_name: string }>).map((p) => p.server_name)).toEqual(['alpha.test']);
    expect(await page.getByRole('heading', { name: 'Servers you blocked without peering' }).count()).toBe(0);

    // The Peers screen says so too, and forgets it the same way.
    expect((await beta.admin('PUT', '/peers/other.test/trust', { mode: 'block' })).status).toBe(200);
    await page.goto(`${beta.ready.admin_url}/#/peers`);
    const other = page.getByTestId('peer-other.test');
    await other.getByText('never peered').waitFor();
    expect(await page.getByTestId('peer-alpha.test').getByText('never peered').count()).toBe(0);
    await other.getByRole('button', { name: 'Forget' }).click();
    await other.waitFor({ state: 'detached' });
    expect(((await beta.admin('GET', '/peers')).body.peers as Array<{ server_name: string }>).map((p) => p.server_name)).toEqual(['alpha.test']);
  });
});
