/// <reference lib="dom" />
/**
 * What a user trial found (2026-11-28, third part), in real Chromium against real nodes: on a phone
 * the top bar stays above the messages scrolled under it and takes its own taps; a member's changed
 * passphrase leaves no "differ" behind; an edit refused while the server was down says nothing of
 * it once the server is back.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from '../helpers/fixtures.ts';
import { HAVE_CHROMIUM, joinByLink, signedIn } from '../helpers/browser.ts';
import { enc, inviteAndJoin } from '../helpers/rooms.ts';

const PASSPHRASE = 'kettle orbit lantern mosaic';
const PHONE = { width: 390, height: 844 };

/** On a member link's join page: a user name, the passphrase twice, Join; then the Rooms page. */
const join = (page: Page, name: string) => joinByLink(page, name, PASSPHRASE);

/**
 * What is under points across the top bar (three rows, left to right) after the page was scrolled
 * so that the timeline's top is `below` px under the bar's top (the timeline scrolled to `at`, 0 top
 * … 1 bottom): the ones that are not the bar's own, by tag, class and text.
 */
const notTheBar = (page: Page, below: number, at: number) => page.evaluate(([down, where]) => {
  const timeline = document.querySelector<HTMLElement>('[data-testid=timeline]')!;
  timeline.scrollTop = (timeline.scrollHeight - timeline.clientHeight) * where!;
  window.scrollTo(0, timeline.getBoundingClientRect().top + window.scrollY - down!);
  const bar = document.querySelector<HTMLElement>('.topbar')!.getBoundingClientRect();
  const wrong: string[] = [];
  for (const y of [bar.top + 4, (bar.top + bar.bottom) / 2, bar.bottom - 4]) {
    for (let x = 5; x < window.innerWidth; x += 15) {
      const hit = document.elementFromPoint(x, y);
      if (!hit?.closest('.topbar')) wrong.push(`(${x},${Math.round(y)}) ${hit?.tagName}.${hit?.className} "${hit?.textContent?.slice(0, 20)}"`);
    }
  }
  return wrong;
}, [below, at]);

/**
 * The room's members card opened (the page then runs longer than the screen), and the bar's taps
 * checked with the page scrolled down to and past the timeline, the timeline scrolled to its top,
 * middle and end.
 */
async function barKeepsItsTaps(page: Page, what: string): Promise<void> {
  await page.locator('details.card > summary').first().click();
  for (const below of [0, -60, -200]) {
    for (const at of [0, 0.5, 1]) expect(await notTheBar(page, below, at), `${what}: the timeline ${below} px from the bar's top, scrolled to ${at}`).toEqual([]);
  }
}

describe.skipIf(!HAVE_CHROMIUM)('a user trial, third part: the phone\'s top bar, forms that tell the truth (real Chromium, real nodes)', () => {
  it('1: on a 390×844 phone the top bar stays above the messages scrolled under it: its taps are its own (owner and member)', async ({ browser, pair: { alpha } }) => {
    const room = (await alpha.admin('POST', '/rooms', { name: 'Long talk' })).body.room_id as string;
    for (let i = 0; i < 40; i++) await alpha.admin('POST', `/rooms/${enc(room)}/messages`, { body: `message ${i} ${'words '.repeat(i % 5 * 6)}` });
    // A reaction of its own: a chip under the message, besides the tools.
    const last = (await alpha.admin('POST', `/rooms/${enc(room)}/messages`, { body: 'the last one' })).body.event_id as string;
    expect((await alpha.admin('PUT', `/rooms/${enc(room)}/messages/${enc(last)}/reactions/${enc('👍')}`)).status).toBe(200);
    // The owner, on a phone with touch and on a narrow window with a mouse (the tools float then).
    for (const touch of [true, false]) {
      const page = await (await browser.newContext({ viewport: PHONE, isMobile: touch, hasTouch: touch })).newPage();
      await page.goto(String((await alpha.admin<{ login_url: string }>('POST', '/login-links', {})).body.login_url));
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
      await page.goto(`${alpha.ready.admin_url}/#/rooms/${enc(room)}`);
      await page.getByTestId('message').first().waitFor();
      await barKeepsItsTaps(page, `owner, touch ${touch}`);
    }

    // A member on a phone, in the same room.
    const link = String((await alpha.admin('POST', '/members/invites', {})).body.link);
    for (const [touch, name] of [[true, 'lea'], [false, 'leo']] as const) {
      const phone = await (await browser.newContext({ viewport: PHONE, isMobile: touch, hasTouch: touch })).newPage();
      await phone.goto(touch ? link : String((await alpha.admin('POST', '/members/invites', {})).body.link));
      await join(phone, name);
      await inviteAndJoin(alpha, room, alpha, `@${name}:alpha.test`);
      await phone.goto(`${new URL(link).origin}/app/#/rooms/${enc(room)}`);
      await phone.getByTestId('message').first().waitFor();
      await barKeepsItsTaps(phone, `member, touch ${touch}`);
    }
  });

  it('2: a member\'s changed passphrase empties both new fields: "Changed." alone, no "differ", nothing marked', async ({ browser, pair: { alpha } }) => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(String((await alpha.admin('POST', '/members/invites', {})).body.link));
    await join(page, 'max');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
    const form = page.getByTestId('passphrase-form');
    const next = 'harbor violet pencil summit';
    await form.getByLabel('Current passphrase').fill(PASSPHRASE);
    await form.getByTestId('new-passphrase').fill(next);
    await form.getByTestId('new-passphrase-again').fill(next);
    await form.getByRole('button', { name: 'Change passphrase' }).click();
    await form.getByText('Changed. Your other devices were signed out: sign in there with the new passphrase.').waitFor();
    expect(await form.getByTestId('new-passphrase').inputValue()).toBe('');
    expect(await form.getByTestId('new-passphrase-again').inputValue()).toBe('');
    expect(await form.getByText('The two passphrases differ.').count()).toBe(0);
    expect(await form.locator('[aria-invalid=true]').count()).toBe(0);
  });

  it('3: an edit refused while the server was down says nothing of it once the server is back (member)', async ({ browser, fileNodes }) => {
    const node = await fileNodes.start({ serverName: 'edit-down.test' });
    const page = await (await browser.newContext({ viewport: PHONE })).newPage();
    await page.goto(String((await node.admin('POST', '/members/invites', {})).body.link));
    await join(page, 'ida');
    await page.getByLabel('New room name').fill('Notes');
    await page.getByRole('button', { name: 'Create room' }).click();
    await page.getByTestId('composer').fill('first words');
    await page.keyboard.press('Enter');
    const message = page.getByTestId('message').filter({ hasText: 'first words' });
    await message.getByRole('button', { name: 'Edit' }).waitFor();
    await message.getByRole('button', { name: 'Edit' }).click();

    await node.stop();
    await page.getByTestId('offline').waitFor({ timeout: 10_000 });
    await page.getByLabel('Edit message').fill('second words');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForTimeout(1_000);
    // The banner says it while the server is down, the edit box does not repeat it.
    expect(await page.getByTestId('edit-error').count()).toBe(0);

    await node.start();
    await page.getByTestId('offline').waitFor({ state: 'detached', timeout: 15_000 });
    await page.waitForTimeout(1_000);
    const note = page.getByTestId('edit-error');
    expect(await note.count(), (await note.count()) ? await note.innerText() : '').toBe(0);
    expect(await page.locator('.edit-form [aria-invalid=true]').count()).toBe(0);
    // The edit is still there to save again, and saves.
    expect(await page.getByLabel('Edit message').inputValue()).toBe('second words');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('message').filter({ hasText: 'second words' }).getByRole('button', { name: 'Edit' }).waitFor();
  });

  it('5: the setup says what a chosen backup file is before it is sent: not a backup, or whose keys it keeps; another server name is refused with the one it needs', async ({ browser, fileNodes, pair: { alpha } }) => {
    const node = fileNodes.process({});
    expect((await node.start()).mode).toBe('setup');
    const page = await (await browser.newContext()).newPage();
    await page.goto(node.ready.login_url);
    await page.getByLabel('Server name').waitFor();
    await page.getByText('Advanced: address, certificate, restore a backup').click();
    const file = page.getByLabel('Restore an identity backup (optional)');
    const hint = page.getByTestId('backup-hint');
    const keyHint = page.getByTestId('key-hint');
    expect(await keyHint.innerText()).toBe('A new signing key is made for it, and a certificate for encrypted connections.');

    // Any JSON file: not announced as a restore.
    await file.setInputFiles({ name: 'notes.json', mimeType: 'application/json', buffer: Buffer.from('{"hello":"world"}') });
    await expect.poll(() => hint.innerText()).toBe('notes.json does not look like a Paracord key backup. Choose the backup made with "Download a backup of your keys".');
    expect(await page.getByText(/Restoring the keys/).count()).toBe(0);

    // alpha.test's backup: the server name is its own, the hint says its keys are kept, no new key.
    const backup = String((await alpha.admin('GET', '/keys/backup')).body.identity);
    await page.getByLabel('Server name').fill('gamma.test');
    await file.setInputFiles({ name: 'alpha-keys.json', mimeType: 'application/json', buffer: Buffer.from(backup) });
    await expect.poll(() => hint.innerText()).toBe('Restoring the keys of alpha.test from alpha-keys.json: your server keeps its identity and your friends keep trusting it.');
    expect(await page.getByLabel('Server name').inputValue()).toBe('alpha.test');
    expect(await keyHint.innerText()).toBe('It keeps the signing keys of the backup you chose, and a certificate is made for encrypted connections.');
    expect(await page.getByText('A new signing key is made for it').count()).toBe(0);

    // Named otherwise after all: the node's refusal says whose identity it is.
    await page.getByLabel('Server name').fill('gamma.test');
    await page.getByRole('button', { name: 'Create my server' }).click();
    const said = page.getByTestId('setup-error').locator('span').first();
    await expect.poll(() => said.innerText()).toBe('This backup is the identity of alpha.test: the server name must be alpha.test.');
    expect(await page.getByTestId('setup-error').locator('details code').textContent()).toContain('the backup is the identity of alpha.test, not gamma.test');
    expect((await node.admin('GET', '/status')).body).toMatchObject({ mode: 'setup' });
  });

  it('6: no "Test again" without a friend to run the test; a cancelled link\'s preview says no expiry; a peer\'s last known state said once while the node is down', async ({ browser, fileNodes, pair: { alpha, beta } }) => {
    // A fresh node with no peer: the summary says when it is tested, and there is no button that can do nothing.
    const lonely = await fileNodes.start({ serverName: 'lonely.test' });
    const { page: fresh } = await signedIn(browser, lonely);
    await fresh.getByRole('heading', { name: 'Dashboard' }).waitFor();
    const summary = fresh.getByTestId('reachability-status').locator('p[role=status]');
    await expect.poll(() => summary.innerText(), { timeout: 20_000 }).toBe('Reachability: will be tested once the first peer is added');
    expect(await fresh.getByTestId('reachability-check').count()).toBe(0);

    // beta's link, cancelled before alpha uses it: the refusal, and no "Link expires in 7 days" under it.
    const invite = (await beta.admin('POST', '/invites/peer', { note: 'cancelled' })).body as { id: string; link: string };
    expect((await beta.admin('DELETE', `/invites/peer/${invite.id}`)).body.state).toBe('revoked');
    const { page } = await signedIn(browser, alpha);
    await page.getByRole('link', { name: 'Peers & trust' }).click();
    await page.getByTestId('redeem-input').fill(invite.link);
    await page.getByRole('button', { name: 'Check the link' }).click();
    const preview = page.getByTestId('redeem-preview');
    await preview.getByTestId('preview-expires').waitFor();
    await preview.getByRole('button', { name: /^Peer (again )?with beta\.test$/ }).click();
    await page.getByText('Your friend cancelled this invite link. Ask for a new one.').waitFor({ timeout: 10_000 });
    expect(await preview.getByTestId('preview-expires').count()).toBe(0);
    expect(await preview.getByText('Link expires').count()).toBe(0);

    // delta's node stops: epsilon's line says its last known state, labelled, and no "unknown" badge contradicts it.
    const [delta] = await fileNodes.peered('delta.test', 'epsilon.test');
    const { page: dash } = await signedIn(browser, delta);
    const peer = dash.getByTestId('dash-peer-epsilon.test');
    await peer.getByTestId('peer-line').waitFor();
    expect(await peer.locator('.pill').count()).toBe(1);
    await delta.stop();
    await dash.getByTestId('node-unreachable').waitFor({ timeout: 15_000 });
    await expect.poll(() => peer.getByTestId('peer-line').innerText()).toMatch(/\(last known at .+\)$/);
    expect(await peer.locator('.pill').count()).toBe(0);
    expect(await peer.innerText()).not.toMatch(/unknown/);
  });
});
