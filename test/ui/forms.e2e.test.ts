/// <reference lib="dom" />
/**
 * Every form says its own refusal at the form (lib/form-error.svelte.ts), in real Chromium against
 * real nodes: the error stands right under (or inside) the form it belongs to, not at the top of
 * the page; it is brought into view; the field the node names is marked (aria-invalid, pointing at
 * the note with aria-errormessage, and styled); the field is named in words, the raw answer only
 * behind "details"; changing the form ends the claim. (ui-truth-4 item 2 checks the first three
 * forms so converted: backup folder, room invite, a reference server's room.)
 */
import type { Locator, Page } from 'playwright-core';
import { describe, expect, it } from '../helpers/fixtures.ts';
import { HAVE_CHROMIUM, shot, signedIn } from '../helpers/browser.ts';
import { enc } from '../helpers/rooms.ts';

const PASSPHRASE = 'kettle orbit lantern mosaic';
/** A right-to-left override: a display or room name refuses it (isSafeDisplayName), and trimming keeps it. */
const BIDI = '\u202E';

/** What an error note says (its words, without its "details"). */
const said = (note: Locator) => note.locator('span').first().innerText();

/**
 * Checks what a form's refusal looks like: `note` (an error note) says `words` (a string, or a
 * pattern), within `near` px under the form `form` (a CSS selector) and on screen; `field` is marked
 * and points at the note; no other alert on the page; no raw field name (`raw`) anywhere.
 */
async function refusedAt(page: Page, { form, note, field, words, raw, near = 40 }: { form: string; note: string; field: Locator; words: string | RegExp; raw: string; near?: number }): Promise<void> {
  const shown = page.getByTestId(note);
  await expect.poll(() => shown.count(), { timeout: 10_000 }).toBe(1);
  const text = await said(shown);
  if (typeof words === 'string') expect(text).toBe(words);
  else expect(text).toMatch(words);
  // Right under (or inside) its form: the note's top within `near` px of the form's bottom.
  const place = await page.evaluate(([formSelector, noteSelector]) => {
    const f = document.querySelector(formSelector!)!.getBoundingClientRect();
    const n = document.querySelector(noteSelector!)!.getBoundingClientRect();
    return { gap: Math.max(0, n.top - f.bottom, f.top - n.bottom), top: n.top, bottom: n.bottom, height: innerHeight, alerts: document.querySelectorAll('[role=alert]').length };
  }, [form, `[data-testid=${note}]`]);
  expect(place.gap, JSON.stringify(place)).toBeLessThan(near);
  expect(place.top, 'on screen').toBeGreaterThanOrEqual(0);
  expect(place.bottom, 'on screen').toBeLessThanOrEqual(place.height + 1); // a fraction of a pixel past it when scrolled to
  expect(place.alerts, 'said once, at the form').toBe(1);
  // The field is marked, styled, and points at the note.
  expect(await field.getAttribute('aria-invalid')).toBe('true');
  expect(await field.getAttribute('aria-errormessage')).toBe(await shown.getAttribute('id'));
  const danger = await shown.evaluate((el) => getComputedStyle(el).color);
  const style = await field.evaluate((el) => ({ border: getComputedStyle(el).borderColor, ring: getComputedStyle(el).boxShadow }));
  expect(style.border === danger || style.ring.includes(danger), `${JSON.stringify(style)} shows ${danger}`).toBe(true);
  // In words: the node's raw answer only behind "details".
  expect(text).not.toContain(raw);
  expect(await shown.locator('details code').textContent()).toContain(raw);
}

/** Fills fields (label → value) inside the <details> whose summary is `summary`, closes it again, and presses `button`. */
async function fillHidden(page: Page, summary: string, fields: Record<string, string>, button: string): Promise<void> {
  await page.getByText(summary).click();
  for (const [label, value] of Object.entries(fields)) await page.getByLabel(label).fill(value);
  await page.getByText(summary).click(); // closed again
  await page.getByRole('button', { name: button }).click();
}

describe.skipIf(!HAVE_CHROMIUM)('every form says its refusal at the form, its field marked, in words (real Chromium, real nodes)', () => {
  it('the owner\'s forms: add a server by its address, a friend\'s link, your name in rooms, a new room', async ({ browser, pair: { alpha } }) => {
    const { page } = await signedIn(browser, alpha, { width: 1200, height: 700 });
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();

    // Your name in rooms (Dashboard).
    const name = page.getByTestId('owner-display-name');
    await expect.poll(() => name.isEnabled()).toBe(true);
    await name.fill(`${BIDI}Al`);
    await page.getByTestId('owner-name-form').getByRole('button', { name: 'Save' }).click();
    await refusedAt(page, { form: '[data-testid=owner-name-form]', note: 'owner-name-error', field: name, raw: 'display_name', words: 'Some of what you typed is not valid. Display name: must not contain control, bidi or invisible characters.' });
    await name.fill('Al');
    expect(await name.getAttribute('aria-invalid')).toBeNull();
    expect(await page.getByTestId('owner-name-error').count()).toBe(0);

    // Peers & trust: add a server by its address, a wrong address.
    await page.goto(`${alpha.ready.admin_url}/#/peers`);
    const address = page.getByLabel('Server address');
    await address.fill('hello');
    await page.getByRole('button', { name: 'Add server' }).click();
    await refusedAt(page, { form: '[data-testid=add-by-address]', note: 'add-by-address-error', field: address, raw: 'endpoint', words: /^Some of what you typed is not valid\. Server address: must be an http\(s\) URL such as https:\/\/example\.org:8448/ });
    // A key field inside "Key and certificate": shown (opened) and marked, the address no longer.
    await address.fill('https://127.0.0.1:9');
    expect(await address.getAttribute('aria-invalid')).toBeNull();
    await fillHidden(page, 'Key and certificate (from its admin)', { 'Key id': 'ed25519:a', 'Public key': 'abc' }, 'Add server');
    const key = page.getByLabel('Public key');
    await refusedAt(page, { form: '[data-testid=add-by-address]', note: 'add-by-address-error', field: key, raw: 'public_key', words: 'Some of what you typed is not valid. Public key: must be 64 lowercase hex characters.' });
    expect(await key.isVisible()).toBe(true);
    await shot(page, 'form-error-add-by-address');
    expect(await address.getAttribute('aria-invalid')).toBeNull();

    // Use a friend's link: not a link (the address form's error went with its change).
    await address.fill('');
    expect(await page.getByTestId('add-by-address-error').count()).toBe(0);
    const link = page.getByTestId('redeem-input');
    await link.fill('hello');
    await page.getByRole('button', { name: 'Check the link' }).click();
    const redeemForm = 'form:has([data-testid=redeem-input])';
    await expect.poll(() => page.getByTestId('redeem-error').count()).toBe(1);
    expect(await said(page.getByTestId('redeem-error'))).toBe('This invite link is not valid. Ask your friend to send it again, complete.');
    expect(await link.getAttribute('aria-invalid')).toBe('true');
    expect(await page.evaluate((f) => {
      const form = document.querySelector(f)!.getBoundingClientRect();
      return document.querySelector('[data-testid=redeem-error]')!.getBoundingClientRect().top - form.bottom;
    }, redeemForm)).toBeLessThan(40);
    await link.fill('hello again');
    expect(await page.getByTestId('redeem-error').count()).toBe(0);

    // A new room's name the node refuses.
    await page.goto(`${alpha.ready.admin_url}/#/rooms`);
    const roomName = page.getByLabel('New room name');
    await roomName.fill(`${BIDI}plans`);
    await page.getByRole('button', { name: 'Create room' }).click();
    await refusedAt(page, { form: '[data-testid=create-room]', note: 'create-room-error', field: roomName, raw: 'name: must', words: 'Some of what you typed is not valid. Name: must not contain control, bidi or invisible characters.' });
  });

  it('a member\'s account: the display name and a wrong current passphrase, each said at its own form', async ({ browser, pair: { alpha } }) => {
    const page = await (await browser.newContext({ viewport: { width: 1000, height: 700 } })).newPage();
    await page.goto(String((await alpha.admin('POST', '/members/invites', {})).body.link));
    // A taken user name marks the user name field (the error under the form: ui-truth-4 item 3).
    const userName = page.getByLabel('User name');
    await userName.fill('owner');
    await page.getByTestId('new-passphrase').fill(PASSPHRASE);
    await page.getByTestId('new-passphrase-again').fill(PASSPHRASE);
    await page.getByRole('button', { name: 'Join', exact: true }).click();
    await refusedAt(page, { form: '[data-testid=member-link]', note: 'member-link-error', field: userName, raw: 'name_taken', words: 'That user name is taken on this server, or reserved. Choose another.' });
    await page.getByLabel('User name').fill('vic');
    await page.getByTestId('new-passphrase').fill(PASSPHRASE);
    await page.getByTestId('new-passphrase-again').fill(PASSPHRASE);
    await page.getByRole('button', { name: 'Join', exact: true }).click();
    await page.getByRole('heading', { name: 'Rooms' }).waitFor();
    await page.goto(`${new URL(page.url()).origin}/app/#/account`);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();

    const name = page.getByTestId('display-name');
    await name.fill(`Vic${BIDI}`);
    await page.getByTestId('display-name-form').getByRole('button', { name: 'Save' }).click();
    await refusedAt(page, { form: '[data-testid=display-name-form]', note: 'display-name-error', field: name, raw: 'display_name', words: 'Some of what you typed is not valid. Display name: must not contain control, bidi or invisible characters.' });
    await name.fill('Vic');
    expect(await page.getByTestId('display-name-error').count()).toBe(0);

    const current = page.getByLabel('Current passphrase');
    await current.fill('not my passphrase at all');
    await page.getByTestId('new-passphrase').fill(`${PASSPHRASE} again`);
    await page.getByTestId('new-passphrase-again').fill(`${PASSPHRASE} again`);
    await page.getByRole('button', { name: 'Change passphrase' }).click();
    await refusedAt(page, { form: '[data-testid=passphrase-form]', note: 'passphrase-error', field: current, raw: 'wrong_passphrase', words: 'The current passphrase is not right.' });

    // Changed rightly, this page goes on: its stream, opened with the cookie of a session the change
    // ended, is opened again with the new one (it was refused at the next call, signing the page out).
    await current.fill(PASSPHRASE);
    await page.getByTestId('new-passphrase').fill(`${PASSPHRASE} again`);
    await page.getByTestId('new-passphrase-again').fill(`${PASSPHRASE} again`);
    await page.getByRole('button', { name: 'Change passphrase' }).click();
    await page.getByTestId('passphrase-form').getByRole('status').waitFor();
    await page.getByRole('link', { name: 'Rooms' }).click();
    await page.getByLabel('New room name').fill('after the change');
    await page.getByRole('button', { name: 'Create room' }).click();
    await page.getByText('after the change').first().waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('session-ended').count()).toBe(0);
  });

  it('a message\'s edit refused: said under the edit form, not above the room', async ({ browser, pair: { alpha } }) => {
    const room = (await alpha.admin('POST', '/rooms', { name: 'edits' })).body.room_id as string;
    await alpha.admin('POST', `/rooms/${enc(room)}/messages`, { body: 'first words' });
    const { page } = await signedIn(browser, alpha);
    await page.goto(`${alpha.ready.admin_url}/#/rooms/${enc(room)}`);
    const message = page.getByTestId('message').filter({ hasText: 'first words' });
    await message.getByRole('button', { name: 'Edit' }).click();
    // The room is left meanwhile (another tab): the node refuses the edit.
    expect((await alpha.admin('POST', `/rooms/${enc(room)}/leave`, {})).status).toBe(200);
    const box = page.getByLabel('Edit message');
    await box.fill('second words');
    await page.getByRole('button', { name: 'Save' }).click();
    const note = page.getByTestId('edit-error');
    await expect.poll(() => note.count(), { timeout: 10_000 }).toBe(1);
    const place = await page.evaluate(() => {
      const form = document.querySelector('form.edit-form')!.getBoundingClientRect();
      const shown = document.querySelector('[data-testid=edit-error]')!.getBoundingClientRect();
      return { inside: shown.top >= form.top && shown.bottom <= form.bottom, alerts: document.querySelectorAll('[role=alert]').length };
    });
    expect(place).toEqual({ inside: true, alerts: 1 });
    await shot(page, 'form-error-edit');
    expect(await said(note)).not.toMatch(/^[a-z_]+ \(\d+\)/);
  });

  it('a moderation refusal inside the member\'s menu; a search refused under the search box; the setup wizard\'s refused field shown and marked', async ({ browser, pair: { alpha }, fileNodes }) => {
    const room = (await alpha.admin('POST', '/rooms', { name: 'moderated' })).body.room_id as string;
    expect((await alpha.admin('POST', `/rooms/${enc(room)}/invites`, { user_id: '@owner:beta.test' })).status).toBe(200);
    // A page that hears nothing (no admin stream): its member list stays as it was while the node removes the invitee.
    const deaf = await browser.newContext({ viewport: { width: 1200, height: 850 } });
    await deaf.routeWebSocket(/\/_paracord\/admin\/v1\/stream$/, (ws) => void ws.close());
    const page = await deaf.newPage();
    await page.goto(String((await alpha.admin('POST', '/login-links', {})).body.login_url));
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.goto(`${alpha.ready.admin_url}/#/rooms/${enc(room)}`);
    await page.getByText('Members and invitations').click();
    await page.getByLabel('Actions for @owner:beta.test').click();
    const menu = page.locator('.menu-body');
    await menu.getByLabel('Reason (optional)').fill('changed my mind');
    expect((await alpha.admin('POST', `/rooms/${enc(room)}/members/${enc('@owner:beta.test')}/remove`, {})).status).toBe(200);
    page.once('dialog', (dialog) => void dialog.accept()); // it asks first
    await menu.getByRole('button', { name: 'Remove', exact: true }).click();
    const note = menu.getByTestId('moderation-error');
    await expect.poll(() => note.count(), { timeout: 10_000 }).toBe(1);
    expect(await said(note)).toBe('That person is not in this room.');
    expect(await note.locator('details code').textContent()).toContain('unknown_member');
    expect(await page.locator('[role=alert]').count()).toBe(1);
    // Closing the menu ends it.
    await menu.getByLabel('Reason (optional)').press('Escape');
    await expect.poll(() => page.getByTestId('moderation-error').count()).toBe(0);

    // Search: a query with no words, said under the search box, the box marked.
    await page.getByTestId('search-input').fill('"');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await refusedAt(page, { form: 'form.search', note: 'search-error', field: page.getByTestId('search-input'), raw: 'empty_query', words: 'There are no words to search for: type letters or digits.' });

    // The setup wizard: a public address that is none, among the advanced fields (closed): shown, marked.
    const fresh = fileNodes.process({});
    expect((await fresh.start()).mode).toBe('setup');
    const wizard = await (await browser.newContext({ viewport: { width: 1200, height: 850 } })).newPage();
    await wizard.goto(fresh.ready.login_url);
    await wizard.getByLabel('Server name').fill('wizard.test');
    await fillHidden(wizard, 'Advanced: address, certificate, restore a backup', { 'Public address (optional)': 'hello' }, 'Create my server');
    const publicAddress = wizard.getByLabel('Public address (optional)');
    await refusedAt(wizard, { form: '[data-testid=setup-form]', note: 'setup-error', field: publicAddress, raw: 'public_url', words: 'Some of what you typed is not valid. Public address: must look like https://host[:port].' });
    expect(await publicAddress.isVisible()).toBe(true);
  });

  it('forms whose refusals the page cannot provoke (its own limits match the node\'s): a refusal worded as the node words it is said at each, its field marked, a setting put back', async ({ browser, pair: { alpha } }) => {
    // The page without its admin stream calls over HTTP, where a route answers for the node.
    const context = await browser.newContext({ viewport: { width: 1200, height: 850 } });
    await context.routeWebSocket(/\/_paracord\/admin\/v1\/stream$/, (ws) => void ws.close());
    /** `message`: the node's words for the request's body. */
    const refuse = (method: string, path: RegExp, message: (body: string) => string) => context.route(path, (route) => (route.request().method() === method
      ? route.fulfill({ status: 400, contentType: 'application/json', body: JSON.stringify({ error: 'invalid_input', message: message(route.request().postData() ?? '') }) })
      : route.fallback()));
    await refuse('POST', /\/_paracord\/admin\/v1\/members\/invites$/, () => 'note: Too big: expected string to have <=200 characters');
    await refuse('PUT', /\/_paracord\/admin\/v1\/policy$/, (body) => (body.includes('members_may_create_rooms') ? 'members_may_create_rooms: Invalid input: expected boolean, received string' : 'default: Invalid option: expected one of "allowlist"|"open"'));
    await refuse('PUT', /\/_paracord\/admin\/v1\/peers\/beta\.test\/trust$/, (body) => (body.includes('"rate_limit":{') ? 'rate_limit.per_second: Too big: expected number to be <=100000' : 'reason: Too big: expected string to have <=500 characters'));
    const page = await context.newPage();
    await page.goto(String((await alpha.admin('POST', '/login-links', {})).body.login_url));
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();

    // Members card: the invite, and "Members may create rooms" (put back as the node has it).
    const note = page.getByLabel('Who is it for? (optional, only you see it)');
    await note.fill('Sam');
    await page.getByTestId('invite-member').click();
    await refusedAt(page, { form: '[data-testid=member-invite-form]', note: 'member-invite-error', field: note, raw: 'note: Too big', words: 'Some of what you typed is not valid. Who it is for: may have at most 200 characters.' });
    await note.fill('Sam again');
    const rooms = page.getByTestId('members-may-create-rooms');
    const before = await rooms.isChecked();
    await rooms.click();
    await refusedAt(page, { form: 'label:has([data-testid=members-may-create-rooms])', note: 'members-policy-error', field: rooms, raw: 'members_may_create_rooms', words: 'Some of what you typed is not valid. Members may create rooms: must be yes or no.' });
    expect(await rooms.isChecked()).toBe(before);

    // Peers & trust: why block (the form stays open, its reason marked); the default policy (put back).
    await page.goto(`${alpha.ready.admin_url}/#/peers`);
    await page.getByTestId('peer-beta.test').getByRole('button', { name: 'Block' }).click();
    const reason = page.getByTestId('trust-reason');
    await reason.fill('noisy');
    await page.getByRole('button', { name: 'Block beta.test' }).click();
    await refusedAt(page, { form: 'form.inline-ask', note: 'trust-ask-error', field: reason, raw: 'reason: Too big', words: 'Some of what you typed is not valid. Reason: may have at most 500 characters.' });
    expect(await reason.isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Cancel' }).click();
    // Trust details: a rate limit the node refuses.
    await page.getByTestId('peer-beta.test').getByRole('button', { name: 'Details…' }).click();
    const perSecond = page.getByLabel(/^Requests per second/);
    await perSecond.fill('5');
    await page.getByLabel(/^Burst/).fill('10');
    await page.getByRole('form', { name: 'Trust settings of beta.test' }).getByRole('button', { name: 'Save' }).click();
    await refusedAt(page, { form: 'form.trust-form', note: 'trust-form-error', field: perSecond, raw: 'rate_limit.per_second', words: 'Some of what you typed is not valid. Requests per second: must be 100000 or less.' });
    await page.getByRole('button', { name: 'Close' }).click();
    const policy = page.getByLabel('Servers you never added');
    const chosen = await policy.inputValue();
    await policy.selectOption(chosen === 'open' ? 'allowlist' : 'open');
    await refusedAt(page, { form: 'section[aria-labelledby=policy-h] label', note: 'policy-error', field: policy, raw: 'default: Invalid option', words: 'Some of what you typed is not valid. Servers you never added: is not one of the choices.' });
    expect(await policy.inputValue()).toBe(chosen);
  });
});
