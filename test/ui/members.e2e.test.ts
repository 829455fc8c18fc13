/**
 * Issue #34 items 5 and 6, the member app in a real browser: the owner invites someone through the
 * admin API, the person opens the link on a phone-sized page at the federation listener's /app/,
 * joins, sees only their pages, chats with the owner, is told of a mention in the title, keeps
 * unsent text (offline and across a reload), and is signed out when the owner disables them; the
 * owner's switch for members creating rooms; a passkey made and used at http://localhost.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ARTIFACTS, HAVE_CHROMIUM, browserSuite } from '../helpers/browser.ts';
import { NodeProcess } from '../helpers/node-process.ts';
import { enc } from '../helpers/rooms.ts';

const suite = browserSuite();
const PASSPHRASE = 'kettle orbit lantern mosaic';

describe.skipIf(!HAVE_CHROMIUM)('members: the member app (real Chromium, a real node)', () => {
  it('joins by link at 390 px, chats, sees a mention, keeps unsent text, and is signed out when disabled', async () => {
    const node = new NodeProcess({ serverName: 'home.test' });
    suite.nodes.push(node);
    await node.start();
    const made = await node.admin('POST', '/members/invites', { note: 'Ann' });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    const link = String(made.body.link);
    expect(link).toMatch(/\/app\/#\/join\/[^/]+$/);

    const phone = await suite.browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await phone.newPage();
    await page.goto(link);
    await page.getByRole('heading', { name: 'Join home.test' }).waitFor();
    await page.getByLabel('User name').fill('ann');
    await page.getByTestId('new-passphrase').fill('password12');
    await expect.poll(() => page.getByTestId('passphrase-hint').textContent()).toMatch(/easy to guess|more character/);
    await page.getByTestId('new-passphrase').fill(PASSPHRASE);
    await page.getByTestId('new-passphrase-again').fill(PASSPHRASE);
    await page.getByRole('button', { name: 'Join', exact: true }).click();
    await page.getByRole('heading', { name: 'Rooms' }).waitFor();
    // Only the member's pages; the owner's are not reachable.
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()).toEqual(['Rooms', 'Account']);
    await page.evaluate(() => (location.hash = '#/dashboard'));
    await page.getByRole('heading', { name: 'Rooms' }).waitFor();
    expect(await page.getByRole('heading', { name: 'Dashboard' }).count()).toBe(0);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    // The link works once.
    const again = await (await suite.browser.newContext()).newPage();
    await again.goto(link);
    await again.getByRole('heading', { name: 'This link cannot be used' }).waitFor();

    // The owner's room, the member invited: the invitation shows, Accept opens the room.
    const room = await node.admin('POST', '/rooms', { name: 'Family' });
    const roomId = String(room.body.room_id);
    expect((await node.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: '@ann:home.test' })).status).toBe(200);
    await page.getByTestId('room-invite').getByRole('button', { name: 'Accept' }).click();
    await page.getByTestId('composer').waitFor();
    await page.getByTestId('composer').fill('hello from ann');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await node.admin('GET', `/rooms/${enc(roomId)}/messages?limit=10`)).body.messages.map((m: { sender: string; body: string }) => `${m.sender}: ${m.body}`)).toContain('@ann:home.test: hello from ann');
    await page.screenshot({ path: join(ARTIFACTS, 'member-phone-room.png') });

    // A mention while the member is elsewhere: the window title counts it.
    await page.evaluate(() => (location.hash = '#/account'));
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    expect((await node.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: '@ann dinner at 7?' })).status).toBe(200);
    await expect.poll(() => page.title()).toBe('(1) Paracord');
    await page.screenshot({ path: join(ARTIFACTS, 'member-phone-account.png') });

    // Offline: the banner says so, the text stays, and it is sent once the phone is back.
    await page.evaluate((id) => (location.hash = `#/rooms/${encodeURIComponent(id)}`), roomId);
    await page.getByTestId('composer').waitFor();
    await phone.setOffline(true);
    await page.getByTestId('offline').waitFor();
    await page.getByTestId('composer').fill('sent when back');
    await page.keyboard.press('Enter');
    await page.getByTestId('offline').waitFor();
    expect(await page.getByTestId('offline').textContent()).toContain('You are offline — your message will be sent when you are back');
    expect(await page.getByTestId('composer').inputValue()).toBe('sent when back');
    await phone.setOffline(false);
    await expect.poll(async () => (await node.admin('GET', `/rooms/${enc(roomId)}/messages?limit=10`)).body.messages.filter((m: { body: string }) => m.body === 'sent when back').length).toBe(1);
    await expect.poll(() => page.getByTestId('composer').inputValue()).toBe('');
    // An unsent text outlives a reload.
    await page.getByTestId('composer').fill('a draft');
    await page.reload();
    await page.getByTestId('composer').waitFor();
    expect(await page.getByTestId('composer').inputValue()).toBe('a draft');

    // The owner's Members card lists ann; disabling signs the phone out at once.
    const owner = await (await suite.browser.newContext()).newPage();
    await owner.goto(node.ready.login_url);
    await owner.getByTestId('member-@ann:home.test').waitFor();
    // The owner's switch for members' rooms, on the same card.
    await owner.getByTestId('members-may-create-rooms').uncheck();
    await expect.poll(async () => (await node.admin('GET', '/policy')).body.members_may_create_rooms).toBe(false);
    await owner.reload();
    expect(await owner.getByTestId('members-may-create-rooms').isChecked()).toBe(false);
    expect((await node.admin('POST', `/members/${enc('@ann:home.test')}/disable`)).status).toBe(200);
    await page.getByTestId('session-ended').waitFor();
    await page.getByLabel('User name').fill('ann');
    await page.getByLabel('Passphrase').fill(PASSPHRASE);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').first().waitFor();
    await owner.reload();
    await expect.poll(() => owner.getByTestId('member-@ann:home.test').textContent()).toContain('disabled');
  });

  it('registers a passkey on the Account page at http://localhost and signs in with it after signing out', async () => {
    const node = await suite.start({ serverName: 'keys.test' });
    const token = String((await node.admin('POST', '/members/invites', {})).body.link).split('#/join/')[1]!;
    // http://localhost is a secure context: the browser lets the page use passkeys (http://<ip> has none: a passkey needs a name).
    const app = `http://localhost:${new URL(node.federationUrl).port}/app/`;
    const context = await suite.browser.newContext();
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable', { enableUI: false });
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    await page.goto(app);
    await page.getByTestId('passkey-sign-in').waitFor();
    const joined = await page.evaluate(
      async ([t, p]) => (await fetch('/_paracord/client/v1/join', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: t, localpart: 'kai', passphrase: p }) })).status,
      [token, PASSPHRASE],
    );
    expect(joined).toBe(200);
    await page.goto(`${app}#/account`);
    await page.reload(); // signed in now (the same document: only its hash changed)
    await page.getByTestId('passkey-name').fill('Laptop');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await expect.poll(() => page.getByTestId('passkeys').textContent()).toContain('Laptop');
    await page.getByTestId('sign-out').click();
    await page.getByTestId('passkey-sign-in').click();
    await page.getByRole('heading', { name: 'Rooms' }).waitFor();
    expect(await page.getByTestId('signed-in-as').textContent()).toBe('@kai:keys.test');
    expect((await node.admin('GET', '/members')).body.members).toMatchObject([{ user_id: '@kai:keys.test', sessions: 1 }]);
  });
});
