/**
 * Red team (a helper's review, 2026-11-28): a room's host could make us delete our whole history
 * of its room. Rooms a peer makes us hold only through invites are forgotten when they are over
 * (hostile-rooms "16."), and "only through invites" was judged from our server's membership rows,
 * which the host writes: after our user left and was invited back (and let the invitation
 * expire), or after an invite of our joined user the host signed itself, any invite of its to
 * another room deleted the room's events, our own users' messages among them. Now a room holding any event but invites is never forgotten
 * that way, and an invite for a user joined here is refused 409 already_joined.
 */
import { join } from 'node:path';
import { describe, expect, it } from '../helpers/fixtures.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';
import { enc, eventually, roomWithMembers, send } from '../helpers/rooms.ts';
import { sendSigned } from '../helpers/signed-request.ts';
import { makeEvent } from '../helpers/events.ts';
import { Identity } from '../../main/core/identity/identity.ts';
import { INVITE_PATH } from '../../main/core/federation/paths.ts';
import { INVITE_WIRE_ORDER, wireJson } from '../../main/core/federation/wire-json.ts';

const eventsIn = (dataDir: string, roomId: string) => queryNodeDb<{ n: number }>(dataDir, 'SELECT COUNT(*) AS n FROM federation_events WHERE room_id = ?', roomId)[0]!.n;

describe('a room\'s host and our history of its room', () => {
  it('our user left, was invited back and let it expire; an invite elsewhere then leaves the room\'s history here', async ({ nodes }) => {
    const [alpha, beta] = await nodes.peered('alpha.test', 'beta.test');
    expect((await beta.admin('POST', '/users', { localpart: 'bob' })).status).toBe(200);
    const roomId = await roomWithMembers(alpha, 'history', [[beta, '@owner:beta.test']]);
    const ours = await send(beta, roomId, 'written by beta\'s owner');
    await eventually(async () => expect(queryNodeDb(alpha.dataDir, 'SELECT 1 FROM federation_events WHERE event_id = ?', ours)).toHaveLength(1));
    expect((await beta.admin('POST', `/rooms/${enc(roomId)}/leave`, {})).status).toBe(200);
    await eventually(async () => expect(queryNodeDb<{ membership: string }>(alpha.dataDir, "SELECT membership FROM room_members WHERE room_id = ? AND user_id = '@owner:beta.test'", roomId)).toEqual([{ membership: 'leave' }]));
    expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: '@owner:beta.test', max_age_seconds: 1 })).status).toBe(200);
    await eventually(async () => expect(queryNodeDb<{ membership: string }>(beta.dataDir, "SELECT membership FROM room_members WHERE room_id = ? AND user_id = '@owner:beta.test'", roomId)).toEqual([{ membership: 'invite' }]));
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // the invitation expires unanswered
    const before = eventsIn(beta.dataDir, roomId);
    // Any invite of alpha's to another room ran the clean-up of "rooms known only from invites".
    const other = (await alpha.admin('POST', '/rooms', { name: 'elsewhere' })).body.room_id as string;
    expect((await alpha.admin('POST', `/rooms/${enc(other)}/invites`, { user_id: '@bob:beta.test' })).status).toBe(200);
    await eventually(async () => expect((await beta.admin('GET', `/invites?user_id=${enc('@bob:beta.test')}`)).body.invites).toHaveLength(1));
    expect(eventsIn(beta.dataDir, roomId)).toBe(before);
    expect(queryNodeDb(beta.dataDir, 'SELECT 1 FROM federation_events WHERE event_id = ?', ours)).toHaveLength(1);
    expect(queryNodeDb(beta.dataDir, 'SELECT 1 FROM rooms WHERE room_id = ?', roomId)).toHaveLength(1);
  }, 120_000);

  it('an invite its host signs for our joined user is refused 409 already_joined and changes nothing', async ({ nodes }) => {
    const [alpha, beta] = await nodes.peered('alpha.test', 'beta.test');
    const roomId = await roomWithMembers(alpha, 'joined', [[beta, '@owner:beta.test']]);
    await send(beta, roomId, 'still joined');
    expect(await alpha.stop()).toBe(0);
    const key = await Identity.open(join(alpha.dataDir, 'identity.json'));
    const invite = (room: string, invitee: string, seconds: number) => {
      const event = makeEvent(key, { room_id: room, event_type: 'm.member.invite', sender: '@owner:alpha.test', state_key: invitee, content: { membership: 'invite', expires_at: Date.now() + seconds * 1000, room_name: 'x' } });
      return sendSigned(key, beta.federationUrl, 'POST', INVITE_PATH, wireJson({ origin_server: 'alpha.test', room_id: room, sender: '@owner:alpha.test', max_age_seconds: seconds, invitee, room_name: 'x', event }, INVITE_WIRE_ORDER));
    };
    const members = () => queryNodeDb(beta.dataDir, 'SELECT user_id, membership, event_id FROM room_members WHERE room_id = ? ORDER BY user_id', roomId);
    const before = [members(), eventsIn(beta.dataDir, roomId)];
    const refused = await invite(roomId, '@owner:beta.test', 2);
    expect([refused.status, refused.body.error]).toEqual([409, 'already_joined']);
    expect([members(), eventsIn(beta.dataDir, roomId)]).toEqual(before);
    // Twin: an invite to a new room is taken.
    const taken = await invite('!new:alpha.test', '@owner:beta.test', 60);
    expect(taken.status, taken.text).toBe(200);
    expect(eventsIn(beta.dataDir, roomId)).toBe(before[1]);
  }, 120_000);
});
