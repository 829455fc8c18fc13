/// <reference lib="dom" />
/**
 * Rooms the user is no longer in (a user trial: a friend server's user removed by the host saw "No
 * rooms yet", nobody said who or why, and the open room's header kept its member count). Real
 * Chromium, two real nodes from dist/: beta's owner in a room alpha hosts is removed with a reason
 * while the room is open, then banned from another; beta's page says who and why in the room and
 * lists both apart, "Rooms you left or were removed from", each opening to its old messages, read-only.
 * A member of a node (the member app) removed from a room opens it from that list to the messages up
 * to its removal, as they were then (none sent after, no edit made after; a deletion applied), read-only;
 * invited again, it sees the invitation beside the same messages.
 */
import { describe, expect, it } from '../helpers/fixtures.ts';
import { HAVE_CHROMIUM, axeViolations, joinByLink, signedIn } from '../helpers/browser.ts';
import { enc } from '../helpers/rooms.ts';

describe.skipIf(!HAVE_CHROMIUM)('rooms left, removed or banned from (real Chromium, real nodes)', () => {
  it('a removed friend is told who and why, the count follows, and the room stays listed apart with its old messages', async ({ browser, fileNodes }) => {
    const [alpha, beta] = await fileNodes.peered('alpha.test', 'beta.test');
    const hosted = async (name: string) => {
      const room = (await alpha.admin('POST', '/rooms', { name })).body.room_id as string;
      await alpha.admin('POST', `/rooms/${enc(room)}/invites`, { user_id: '@owner:beta.test' });
      const invite = (await beta.admin('GET', '/invites')).body.invites.find((i: { room_id: string }) => i.room_id === room);
      expect((await beta.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(200);
      return room;
    };
    const club = await hosted('club');
    const lounge = await hosted('lounge');
    await alpha.admin('POST', `/rooms/${enc(club)}/messages`, { body: 'welcome to the club' });
    await alpha.admin('POST', `/rooms/${enc(lounge)}/messages`, { body: 'welcome to the lounge' });

    const { page } = await signedIn(browser, beta);
    await page.goto(`${beta.ready.admin_url}/#/rooms/${enc(club)}`);
    await page.getByTestId('message').getByText('welcome to the club').waitFor({ timeout: 15_000 });
    const header = page.locator('.room-header .muted');
    await expect.poll(() => header.textContent()).toMatch(/^2 members/);

    // Removed while the room is open: who and why, and the count is now 1.
    expect((await alpha.admin('POST', `/rooms/${enc(club)}/members/${enc('@owner:beta.test')}/remove`, { reason: 'cool down for a day' })).status).toBe(200);
    const reason = page.getByTestId('cannot-send');
    await expect.poll(() => reason.textContent(), { timeout: 15_000 }).toBe('Removed by @owner:alpha.test: cool down for a day. The messages from before stay here to read; nothing can be sent.');
    await expect.poll(() => header.textContent()).toMatch(/^1 member ·/);
    expect(await page.getByTestId('message').getByText('welcome to the club').count()).toBe(1);

    // Banned from the other: both listed apart, each saying what happened; the joined list is empty.
    expect((await alpha.admin('POST', `/rooms/${enc(lounge)}/members/${enc('@owner:beta.test')}/remove`, { ban: true, reason: 'spam' })).status).toBe(200);
    await page.goto(`${beta.ready.admin_url}/#/rooms`);
    const left = page.getByTestId('left-rooms');
    await left.getByText('lounge').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('left-rooms-heading').textContent()).toBe('Rooms you left or were removed from');
    const item = (name: string) => left.getByRole('listitem').filter({ has: page.getByRole('link', { name, exact: true }) });
    expect(await item('club').getByTestId('left-words').textContent()).toBe('Removed by @owner:alpha.test: cool down for a day');
    await expect.poll(() => item('lounge').getByTestId('left-words').textContent()).toBe('Banned by @owner:alpha.test: spam');
    expect(await page.getByText('You are in no room now.', { exact: false }).count()).toBe(1);
    expect(await page.getByText('No rooms yet', { exact: false }).count()).toBe(0);
    expect(await axeViolations(page)).toEqual([]);

    // Opened from there: its old messages, read-only, and why.
    await item('lounge').getByRole('link', { name: 'lounge' }).click();
    await page.getByTestId('message').getByText('welcome to the lounge').waitFor();
    expect(await reason.textContent()).toBe('Banned by @owner:alpha.test: spam. The messages from before stay here to read; nothing can be sent.');
    expect(await page.getByTestId('composer').count()).toBe(0);
  });

  it('a removed member opens the room from the left list to its messages up to the removal, read-only', async ({ browser, fileNodes }) => {
    const alpha = await fileNodes.start({ serverName: 'alpha.test' });
    const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
    await phone.goto(String((await alpha.admin('POST', '/members/invites', {})).body.link));
    await joinByLink(phone, 'sam', 'kettle orbit lantern mosaic');
    const room = (await alpha.admin('POST', '/rooms', { name: 'diary' })).body.room_id as string;
    expect((await alpha.admin('POST', `/rooms/${enc(room)}/invites`, { user_id: '@sam:alpha.test' })).status).toBe(200);
    await phone.getByTestId('room-invite').getByRole('button', { name: 'Accept' }).click();
    await phone.getByTestId('composer').waitFor();
    const say = async (body: string) => (await alpha.admin('POST', `/rooms/${enc(room)}/messages`, { body })).body.event_id as string;
    await say('welcome to the diary');
    const plan = await say('the plan as it was');
    const slip = await say('a slip of the tongue');
    await phone.getByTestId('message').getByText('a slip of the tongue').waitFor({ timeout: 15_000 });
    expect((await alpha.admin('POST', `/rooms/${enc(room)}/members/${enc('@sam:alpha.test')}/remove`, { reason: 'cool down for a day' })).status).toBe(200);
    await say('said after sam was gone');
    expect((await alpha.admin('PATCH', `/rooms/${enc(room)}/messages/${enc(plan)}`, { body: 'the plan as changed later' })).status).toBe(200);
    expect((await alpha.admin('DELETE', `/rooms/${enc(room)}/messages/${enc(slip)}`, {})).status).toBe(200);

    // Opened again from the Rooms screen's list of rooms left: what was said up to the removal.
    await phone.evaluate(() => (location.hash = '#/rooms'));
    const item = phone.getByTestId('left-rooms').getByRole('listitem').filter({ hasText: 'diary' });
    await item.waitFor({ timeout: 15_000 });
    expect(await item.getByTestId('left-words').textContent()).toBe('Removed by @owner:alpha.test: cool down for a day');
    await item.getByRole('link', { name: 'diary' }).click();
    const shown = phone.getByTestId('message');
    await shown.getByText('welcome to the diary').waitFor({ timeout: 15_000 });
    expect(await phone.getByTestId('cannot-send').textContent()).toBe('Removed by @owner:alpha.test: cool down for a day. The messages from before stay here to read; nothing can be sent.');
    expect(await shown.getByText('the plan as it was').count()).toBe(1);
    expect(await phone.getByText('the plan as changed later').count()).toBe(0);
    expect(await phone.getByText('said after sam was gone').count()).toBe(0);
    expect(await phone.getByText('a slip of the tongue').count()).toBe(0);
    expect(await shown.filter({ hasText: 'Message deleted' }).count()).toBe(1);
    expect(await shown.count()).toBe(3);
    // Read-only: no composer, nothing to react with, edit or delete.
    expect(await phone.getByTestId('composer').count()).toBe(0);
    await shown.first().hover();
    expect(await phone.getByRole('button', { name: /^React with|^Edit|^Delete/ }).count()).toBe(0);
    expect(await axeViolations(phone)).toEqual([]);

    // Invited again: the invitation, and beside it the same old messages up to the removal.
    expect((await alpha.admin('POST', `/rooms/${enc(room)}/invites`, { user_id: '@sam:alpha.test' })).status).toBe(200);
    await say('said while sam was invited');
    await phone.reload();
    const invitation = phone.getByTestId('room-invite');
    await invitation.getByRole('button', { name: 'Accept' }).waitFor({ timeout: 15_000 });
    await shown.getByText('welcome to the diary').waitFor({ timeout: 15_000 });
    expect(await shown.getByText('the plan as it was').count()).toBe(1);
    expect(await shown.count()).toBe(3);
    for (const later of ['said after sam was gone', 'said while sam was invited', 'the plan as changed later']) expect(await phone.getByText(later).count()).toBe(0);
    expect(await phone.getByText('You are not in this room yet: accept its invitation above to join.').count()).toBe(1);
    expect(await phone.getByTestId('composer').count()).toBe(0);
    expect(await axeViolations(phone)).toEqual([]);
  });
});
