/// <reference lib="dom" />
/**
 * What a new user met trying the app (a tester's trial of 2026-11-28, second part), in real
 * Chromium against real nodes: a room fits a phone's screen, its message box on it; the member app
 * follows the owner's policy live; a member link on a self-signed server says its browser warning;
 * the join-by-id form says what it is for; the setup asks nothing it cannot answer; the Dashboard
 * says which invite links can still be used, as the Peers page does.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from '../helpers/fixtures.ts';
import { HAVE_CHROMIUM, joinByLink, signedIn } from '../helpers/browser.ts';
import { enc } from '../helpers/rooms.ts';

const PASSPHRASE = 'kettle orbit lantern mosaic';
const PHONE = { width: 390, height: 844 };

/** On a member link's join page: a user name, the passphrase twice, Join; then the Rooms page. */
const join = (page: Page, name: string) => joinByLink(page, name, PASSPHRASE);

/** Where the message box and its Send button end, and how far the page is scrolled, as the page stands. */
const composerPlace = (page: Page) => page.evaluate(() => {
  const box = document.querySelector('[data-testid=composer]')!.closest('form')!.getBoundingClientRect();
  const timeline = document.querySelector('[data-testid=timeline]')!.getBoundingClientRect();
  return { top: Math.round(box.top), bottom: Math.round(box.bottom), scrollY: window.scrollY, timeline: Math.round(timeline.height) };
});

describe.skipIf(!HAVE_CHROMIUM)('a new user\'s trial, second part: a phone\'s room, live policy, true words (real Chromium, real nodes)', () => {
  it('1: on a 390×844 phone a room fits the screen: the message box is on it without scrolling (owner and member)', async ({ browser, pair: { alpha } }) => {
    const room = (await alpha.admin('POST', '/rooms', { name: 'Weekend plans' })).body.room_id as string;
    await alpha.admin('POST', `/rooms/${enc(room)}/messages`, { body: 'y'.repeat(3000) });
    const { page } = await signedIn(browser, alpha, PHONE);
    await page.goto(`${alpha.ready.admin_url}/#/rooms/${enc(room)}`);
    await page.getByTestId('composer').waitFor();
    await expect.poll(() => composerPlace(page)).toMatchObject({ scrollY: 0 });
    let place = await composerPlace(page);
    expect(place.bottom, JSON.stringify(place)).toBeLessThanOrEqual(PHONE.height);
    expect(place.top).toBeGreaterThan(PHONE.height / 2);
    expect(place.timeline).toBeGreaterThan(200); // the timeline takes the rest, and scrolls
    expect(await page.getByTestId('timeline').evaluate((el) => el.scrollHeight > el.clientHeight)).toBe(true);

    // A member on a phone, in a room of their own.
    const link = String((await alpha.admin('POST', '/members/invites', {})).body.link);
    const phone = await (await browser.newContext({ viewport: PHONE })).newPage();
    await phone.goto(link);
    await join(phone, 'ria');
    await phone.getByLabel('New room name').fill('Weekend plans too');
    await phone.getByRole('button', { name: 'Create room' }).click();
    await phone.getByTestId('composer').waitFor();
    await phone.evaluate(() => window.scrollTo(0, 0));
    await expect.poll(async () => (await composerPlace(phone)).bottom).toBeLessThanOrEqual(PHONE.height);
    place = await composerPlace(phone);
    expect(place.scrollY).toBe(0);
    expect(place.top).toBeGreaterThan(PHONE.height / 2);
  });

  it('2: the member app follows the owner\'s "Members may create rooms" live, and a refusal hides the form with words', async ({ browser, pair: { alpha } }) => {
    const words = 'The owner of this server does not let members create rooms: you chat in the rooms you are invited to.';
    const phone = await (await browser.newContext()).newPage();
    await phone.goto(String((await alpha.admin('POST', '/members/invites', {})).body.link));
    await join(phone, 'tom');
    // Another member's page without its live stream (a proxy that passes no WebSocket): it hears nothing.
    const deaf = await browser.newContext();
    await deaf.routeWebSocket(/\/_paracord\/client\/v1\/stream$/, (ws) => void ws.close());
    const other = await deaf.newPage();
    await other.goto(String((await alpha.admin('POST', '/members/invites', {})).body.link));
    await join(other, 'una');
    const form = phone.getByLabel('New room name');
    await form.waitFor();
    await other.getByLabel('New room name').waitFor();
    try {
      expect((await alpha.admin('PUT', '/policy', { members_may_create_rooms: false })).status).toBe(200);
      await form.waitFor({ state: 'detached', timeout: 10_000 });
      expect(await phone.getByTestId('room-creation-off').innerText()).toBe(words);
      expect(await phone.getByRole('button', { name: 'Create room' }).count()).toBe(0);
      // The page that heard nothing still offers it: refused, the form goes, said why (not an error beside a form that is still there).
      await other.getByLabel('New room name').fill('Mine');
      await other.getByRole('button', { name: 'Create room' }).click();
      await other.getByLabel('New room name').waitFor({ state: 'detached', timeout: 10_000 });
      expect(await other.getByTestId('room-creation-off').innerText()).toBe(words);
      expect(await other.getByRole('alert').count()).toBe(0);
    } finally {
      expect((await alpha.admin('PUT', '/policy', { members_may_create_rooms: true })).status).toBe(200);
    }
    await form.waitFor({ timeout: 10_000 });
    expect(await phone.getByTestId('room-creation-off').count()).toBe(0);
  });

  it('3: a member link on a server with a certificate of its own making says the browser will warn, in words; on plain http it says nothing of it', async ({ browser, fileNodes, pair: { alpha } }) => {
    const secure = await fileNodes.start({ serverName: 'secure.test', secure: true });
    const { page } = await signedIn(browser, secure);
    await page.getByTestId('invite-member').click();
    const link = await page.getByTestId('member-link').inputValue();
    expect(link).toMatch(/^https:/);
    expect(await page.getByTestId('member-link-certificate').innerText()).toBe(`Your server uses a certificate it made itself: their browser will warn the first time ("Your connection is not private"). They can go on after checking that the address is yours (${new URL(link).host}).`);

    const { page: plain } = await signedIn(browser, alpha);
    await plain.getByTestId('invite-member').click();
    expect(await plain.getByTestId('member-link').inputValue()).toMatch(/^http:/);
    expect(await plain.getByTestId('member-link-certificate').count()).toBe(0);
  });

  it('4: "Join a room" says it is for Paracord reference servers; a friend\'s node room is refused with the way in: ask for an invitation', async ({ browser, pair: { alpha, beta } }) => {
    const room = (await beta.admin('POST', '/rooms', { name: 'beta\'s own' })).body.room_id as string;
    const { page } = await signedIn(browser, alpha);
    await page.goto(`${alpha.ready.admin_url}/#/rooms`);
    const field = page.getByLabel('Join a room on a Paracord reference server');
    expect(await page.getByTestId('join-remote-hint').innerText()).toBe('Only for rooms on the Paracord server software (a reference server), by the room id its admin gives you. A room on a friend\'s Paracord node like yours is joined by its invitation: ask your friend to invite you.');
    await field.fill(room);
    await page.getByRole('button', { name: 'Join room', exact: true }).click();
    const said = page.getByTestId('join-remote-error').locator('span').first();
    await expect.poll(() => said.innerText()).toBe('Not joined. beta.test is a Paracord node like yours, not a Paracord reference server: ask its owner to invite you to that room (you are @owner:alpha.test). The invitation then shows on this page; accept it to join.');
    // A server that is no friend: the general words, which say the same way in.
    await field.fill('!123:nowhere.test');
    await page.getByRole('button', { name: 'Join room', exact: true }).click();
    await expect.poll(() => said.innerText()).toBe('Not joined. That room\'s server is not a Paracord reference server peered with yours, and only their rooms are joined by id. A room on a Paracord node is joined by its invitation: ask its owner to invite you.');
  });

  it('5: the setup wizard asks the node nothing a node not set up refuses (no 409 for the invitations in the console)', async ({ browser, fileNodes }) => {
    const node = fileNodes.process({});
    expect((await node.start()).mode).toBe('setup');
    const page = await (await browser.newContext()).newPage();
    const asked: string[] = [];
    const refused: string[] = [];
    page.on('request', (request) => asked.push(new URL(request.url()).pathname));
    page.on('response', (response) => {
      if (response.status() >= 400) refused.push(`${response.status()} ${new URL(response.url()).pathname}`);
    });
    page.on('console', (message) => {
      if (message.type() === 'error') refused.push(message.text());
    });
    page.on('websocket', (ws) => ws.on('framesent', (frame) => asked.push(`frame ${String(frame.payload)}`)));
    await page.goto(node.ready.login_url);
    await page.getByLabel('Server name').waitFor();
    await page.waitForTimeout(2_000); // what the page asks once open, and after its stream opened
    expect(asked.filter((a) => /\/invites|listInvites|listRooms/.test(a))).toEqual([]);
    expect(refused).toEqual([]);
    // Set up, it asks for them.
    await page.getByLabel('Server name').fill('wizard5.test');
    await page.getByRole('button', { name: 'Create my server' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await expect.poll(() => asked.some((a) => /\/invites$|"listInvites"/.test(a))).toBe(true);
    expect(refused).toEqual([]);
  });

  it('6: after a reload the Dashboard says which invite links can still be used, as the Peers page does, and revokes one', async ({ browser, pair: { alpha } }) => {
    const made = await alpha.admin('POST', '/invites/peer', { note: 'first peer (wizard)' });
    expect(made.status).toBe(200);
    const { page } = await signedIn(browser, alpha);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.reload();
    const open = page.getByTestId('open-peer-links');
    await expect.poll(() => open.locator('p').innerText(), { timeout: 10_000 }).toMatch(/^(A link you made earlier is not used yet|\d+ links you made earlier are not used yet): whoever has it can still peer with your server\. A link is shown only when it is made; if you did not send it, revoke it\.$/);
    const line = open.getByRole('listitem').filter({ hasText: 'first peer (wizard)' });
    expect(await line.innerText()).toMatch(/^first peer \(wizard\) · made .+ · expires in 7 days\s*Revoke$/);
    // The Peers page lists the same links as usable.
    const active = (await alpha.admin('GET', '/invites/peer')).body.invites.filter((i: { state: string }) => i.state === 'active').length as number;
    expect(await open.getByRole('listitem').count()).toBe(active);
    await page.getByRole('link', { name: 'Peers & trust' }).click();
    await expect.poll(() => page.getByTestId('peer-invites').getByRole('listitem').filter({ hasText: 'first peer (wizard)' }).innerText()).toContain('active');
    // Revoked from the Dashboard: gone there, revoked on the Peers page.
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await line.getByRole('button', { name: 'Revoke' }).click();
    await line.waitFor({ state: 'detached' });
    expect((await alpha.admin('GET', '/invites/peer')).body.invites.find((i: { id: string }) => i.id === made.body.id).state).toBe('revoked');
    await page.getByRole('link', { name: 'Peers & trust' }).click();
    await expect.poll(() => page.getByTestId('peer-invites').getByRole('listitem').filter({ hasText: 'first peer (wizard)' }).innerText()).toContain('revoked');
  });
});
