/// <reference lib="dom" />
/**
 * What a new user met trying the app (a tester's trial of 2026-11-28), in real Chromium against
 * real nodes: nothing typed is cut without a word; a form's error stands at the form, marks the
 * field it names, and names it in words; an error goes once its field changes; a used member link
 * is not offered again; a message is deleted only when asked twice; small words; the true reason
 * passkeys cannot be used.
 */
import type { Locator, Page } from 'playwright-core';
import { describe, expect, it } from '../helpers/fixtures.ts';
import { HAVE_CHROMIUM, signedIn } from '../helpers/browser.ts';
import { enc, eventually } from '../helpers/rooms.ts';

const PASSPHRASE = 'kettle orbit lantern mosaic';

/** On a member link's join page: a user name, the passphrase twice, Join. */
async function join(page: Page, name: string): Promise<void> {
  await page.getByLabel('User name').fill(name);
  await page.getByTestId('new-passphrase').fill(PASSPHRASE);
  await page.getByTestId('new-passphrase-again').fill(PASSPHRASE);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
}

/** What an error note says (its words, without its "details"). */
const said = (note: Locator) => note.locator('span').first().innerText();

/** The vertical distance between two elements' boxes (0 when they overlap): an error "next to" its field is close. */
async function gap(page: Page, a: string, b: string): Promise<number> {
  return page.evaluate(([x, y]) => {
    const one = document.querySelector(x!)!.getBoundingClientRect();
    const two = document.querySelector(y!)!.getBoundingClientRect();
    return Math.max(0, one.top - two.bottom, two.top - one.bottom);
  }, [a, b]);
}

describe.skipIf(!HAVE_CHROMIUM)('a new user\'s trial: nothing cut, errors at their field, true words (real Chromium, real nodes)', () => {
  it('1: a message or a room name over its limit is kept whole and said so in words beside the box; nothing is sent until it fits', async ({ browser, pair: { alpha } }) => {
    const room = (await alpha.admin('POST', '/rooms', { name: 'long ones' })).body.room_id as string;
    const { page } = await signedIn(browser, alpha);
    await page.goto(`${alpha.ready.admin_url}/#/rooms/${enc(room)}`);
    const box = page.getByTestId('composer');
    const long = 'word '.repeat(14_000); // 70,000 characters pasted; 69,999 once trimmed
    await box.fill(long);
    expect((await box.inputValue()).length).toBe(70_000);
    const over = page.getByTestId('composer-over');
    await expect.poll(() => over.textContent()).toBe('65,999 characters over the 4,000 a message may hold: split it into shorter messages.');
    expect(await box.getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByRole('button', { name: 'Send' }).isDisabled()).toBe(true);
    await box.press('Enter');
    await page.waitForTimeout(500);
    expect((await alpha.admin('GET', `/rooms/${enc(room)}/messages`)).body.messages).toHaveLength(0);
    expect((await box.inputValue()).length).toBe(70_000);
    // Cut to fit by the user: sent whole.
    await box.fill('x'.repeat(4000));
    await over.waitFor({ state: 'detached' });
    await box.press('Enter');
    await expect.poll(async () => (await alpha.admin('GET', `/rooms/${enc(room)}/messages`)).body.messages.map((m: { body: string }) => m.body.length)).toEqual([4000]);
    // The node still refuses a longer one.
    expect((await alpha.admin('POST', `/rooms/${enc(room)}/messages`, { body: 'x'.repeat(4001) })).status).toBe(400);

    // A room name: kept whole, said too long, not created.
    await page.goto(`${alpha.ready.admin_url}/#/rooms`);
    const name = page.getByLabel('New room name');
    await name.fill('n'.repeat(560));
    expect((await name.inputValue()).length).toBe(560);
    await expect.poll(() => page.getByTestId('room-name-over').textContent()).toBe('460 characters over the 100 a room name may have: shorten it.');
    expect(await name.getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByRole('button', { name: 'Create room' }).isDisabled()).toBe(true);
  });
  it('2: a form\'s error stands next to the form, marks the field it names and names it in words (backup folder, room invite, a friend\'s room)', async ({ browser, pair: { alpha } }) => {
    const { page } = await signedIn(browser, alpha);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    /** Types `value` into `field`, presses `button`, and checks the error note `testid` says `words` and marks the field. */
    const refused = async (field: Locator, value: string, button: string, testid: string, words: string) => {
      await field.fill(value);
      await page.getByRole('button', { name: button, exact: true }).click();
      await expect.poll(() => said(page.getByTestId(testid))).toBe(words);
      expect(await field.getAttribute('aria-invalid')).toBe('true');
      return page.getByTestId(testid);
    };
    const folder = page.getByLabel('Back up daily into this folder (absolute path)');
    const backupError = await refused(folder, 'backups', 'Schedule daily backups', 'backup-form-error', 'Some of what you typed is not valid. Backup folder: must be a full path starting with /.');
    expect(await gap(page, '[data-testid=backup-form-error]', 'form[data-testid=backup-form]')).toBeLessThan(40);
    expect(await backupError.isVisible()).toBe(true);
    expect(await page.locator('main').innerText()).not.toContain('Dir:');
    // Changing the field ends the claim.
    await folder.fill('/tmp/x');
    expect(await folder.getAttribute('aria-invalid')).not.toBe('true');

    const room = (await alpha.admin('POST', '/rooms', { name: 'invites here' })).body.room_id as string;
    await page.goto(`${alpha.ready.admin_url}/#/rooms/${enc(room)}`);
    await page.getByText('Members and invitations').click();
    await refused(page.getByTestId('invitee'), 'bob', 'Invite', 'invite-error', 'Some of what you typed is not valid. User: must look like @name:server.example (a user name, then the name of their server).');
    expect(await gap(page, '[data-testid=invite-error]', '[data-testid=invitee]')).toBeLessThan(60);

    await page.goto(`${alpha.ready.admin_url}/#/rooms`);
    await refused(page.getByLabel('Join a room on a Paracord reference server'), 'hello', 'Join room', 'join-remote-error', 'Not joined. Some of what you typed is not valid. Room id: must look like !1234567890:friend.example.');
    expect(await page.locator('main').innerText()).not.toContain('opaque');
  });
  it('3: the member join page drops an error once the field it is about changes', async ({ browser, pair: { alpha } }) => {
    const link = String((await alpha.admin('POST', '/members/invites', {})).body.link);
    const page = await (await browser.newContext()).newPage();
    await page.goto(link);
    await join(page, 'owner');
    const alert = page.getByTestId('member-link').getByRole('alert');
    await expect.poll(() => said(alert)).toBe('That user name is taken on this server, or reserved. Choose another.');
    await page.getByLabel('User name').fill('sam');
    await alert.waitFor({ state: 'detached', timeout: 2_000 });
    await page.getByRole('button', { name: 'Join', exact: true }).click();
    await page.getByRole('heading', { name: 'Rooms' }).waitFor();
  });
  it('4: a member invite link once used is said used, by whom, and no longer offered to copy', async ({ browser, pair: { alpha } }) => {
    const { page: owner } = await signedIn(browser, alpha);
    await owner.getByTestId('invite-member').click();
    const link = await owner.getByTestId('member-link').inputValue();
    expect(link).toMatch(/\/app\/#\/join\/[^/]+$/);
    const phone = await (await browser.newContext()).newPage();
    await phone.goto(link);
    await join(phone, 'pat');
    await phone.getByRole('heading', { name: 'Rooms' }).waitFor();
    const made = owner.getByTestId('member-link-made');
    await expect.poll(() => made.innerText(), { timeout: 20_000 }).toMatch(/^This link was used by @pat:alpha\.test .+; it cannot be used again\.$/);
    expect(await owner.getByTestId('member-link').count()).toBe(0);
    expect(await made.getByRole('button', { name: 'Copy' }).count()).toBe(0);
    expect(await made.getByRole('img').count()).toBe(0);
  });
  it('5: deleting a message asks first; "no" keeps it', async ({ browser, pair: { alpha } }) => {
    const room = (await alpha.admin('POST', '/rooms', { name: 'deletions' })).body.room_id as string;
    await alpha.admin('POST', `/rooms/${enc(room)}/messages`, { body: 'keep me, or not' });
    const { page } = await signedIn(browser, alpha);
    await page.goto(`${alpha.ready.admin_url}/#/rooms/${enc(room)}`);
    const message = page.getByTestId('message').filter({ hasText: 'keep me, or not' });
    const asked: string[] = [];
    page.once('dialog', (dialog) => {
      asked.push(dialog.message());
      void dialog.dismiss();
    });
    await message.getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => asked).toEqual(['Delete this message? Everyone in the room sees it deleted; this cannot be undone.']);
    await page.waitForTimeout(500);
    expect((await alpha.admin('GET', `/rooms/${enc(room)}/messages`)).body.messages[0].deleted).toBeFalsy();
    page.once('dialog', (dialog) => void dialog.accept());
    await message.getByRole('button', { name: 'Delete' }).click();
    await page.getByTestId('message').getByText('Message deleted').waitFor();
  });
  it('6: "(edited)" stands apart from the text; a used peer link says "used by" once; "Invited …" goes once the invitee joined', async ({ browser, fileNodes, pair: { alpha, beta } }) => {
    const room = (await alpha.admin('POST', '/rooms', { name: 'small words' })).body.room_id as string;
    const sent = (await alpha.admin('POST', `/rooms/${enc(room)}/messages`, { body: 'first try' })).body.event_id as string;
    expect((await alpha.admin('PATCH', `/rooms/${enc(room)}/messages/${enc(sent)}`, { body: 'said better' })).status).toBe(200);
    const { page } = await signedIn(browser, alpha);
    await page.goto(`${alpha.ready.admin_url}/#/rooms/${enc(room)}`);
    const body = page.getByTestId('message').filter({ hasText: 'said better' }).locator('.body');
    await expect.poll(() => body.innerText()).toBe('said better (edited)');

    // Invited from the form: the notice goes once the invitee joined.
    await page.getByText('Members and invitations').click();
    await page.getByTestId('invitee').fill('@owner:beta.test');
    await page.getByRole('button', { name: 'Invite', exact: true }).click();
    const notice = page.getByRole('status').filter({ hasText: 'Invited @owner:beta.test' });
    await notice.waitFor();
    const invite = await eventually(async () => {
      const found = (await beta.admin('GET', '/invites')).body.invites.find((i: { room_id: string }) => i.room_id === room);
      if (!found) throw new Error('no invitation at beta yet');
      return found as { invite_id: string };
    });
    expect((await beta.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(200);
    await notice.waitFor({ state: 'detached', timeout: 20_000 });

    // A peer link used by a friend's server: "used by" once.
    const gamma = await fileNodes.start({ serverName: 'gamma.test' });
    const link = await alpha.admin('POST', '/invites/peer', {});
    const redeemed = await gamma.admin('POST', '/invites/peer/redeem', { link: link.body.link });
    expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(200);
    await page.goto(`${alpha.ready.admin_url}/#/peers`);
    await expect.poll(() => page.locator('main').innerText(), { timeout: 15_000 }).toContain('used by gamma.test');
    expect(await page.locator('main').innerText()).not.toMatch(/used\s+used by/);
  });
  it('7: at an IP address the member\'s Account page gives the true reason passkeys cannot be used', async ({ browser, pair: { beta } }) => {
    const token = String((await beta.admin('POST', '/members/invites', {})).body.link).split('#/join/')[1]!;
    const app = `http://127.0.0.1:${new URL(beta.federationUrl).port}/app/`;
    const page = await (await browser.newContext()).newPage();
    await page.goto(app);
    const joined = await page.evaluate(
      async ([t, p]) => (await fetch('/_paracord/client/v1/join', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: t, localpart: 'ida', passphrase: p }) })).status,
      [token, PASSPHRASE],
    );
    expect(joined).toBe(200);
    await page.goto(`${app}#/account`);
    await page.reload();
    await expect.poll(() => page.getByTestId('passkeys-unavailable').textContent()).toBe('This page cannot make passkeys: they need the server to be opened by its name, not an IP address like 127.0.0.1.');
  });
});
