/**
 * Issue #20 items 1-3 with three real nodes on 127.0.0.1: alpha hosts a room with members on
 * beta and gamma. The owner makes gamma's owner a moderator; the moderator deletes a remote
 * member's message; a plain member's attempts to remove or delete others are refused; a remote
 * member is banned (gone everywhere, their server's join, invite acceptance and events refused
 * 403 `banned` by the host), then unbanned and back; a server cut off from the host when its
 * user was banned has the backlog he typed meanwhile refused but is not quarantined for it; a
 * server that keeps sending for a banned user once it has the ban is quarantined; a removed
 * server stops receiving the room.
 */
import { join } from 'node:path';
import { Identity } from '../main/core/identity/identity.ts';
import { MEMBERSHIP_WIRE_ORDER, wireJson } from '../main/core/federation/wire-json.ts';
import { makeEvent, wire } from './helpers/events.ts';
import { beforeAll, describe, expect, it } from './helpers/fixtures.ts';
import { startAround, type NodeProcess } from './helpers/node-process.ts';
import { enc, eventually, inviteAndJoin, messages, roomWithMembers, send } from './helpers/rooms.ts';
import { sendSigned } from './helpers/signed-request.ts';

let alpha: NodeProcess;
let beta: NodeProcess;
let gamma: NodeProcess;
let betaSigner: Identity;
let roomId: string;
/** The ban of bob while beta was cut off. */
let banEvent: string;

const BOB = '@bob:beta.test';
const DAVE = '@dave:beta.test';
const GAMMA = '@owner:gamma.test';

async function members(node: NodeProcess): Promise<Record<string, { membership: string; role: string }>> {
  const room = await node.admin('GET', `/rooms/${enc(roomId)}`);
  expect(room.status, JSON.stringify(room.body)).toBe(200);
  return Object.fromEntries(room.body.members.map((m: { user_id: string; membership: string; role: string }) => [m.user_id, { membership: m.membership, role: m.role }]));
}

beforeAll(async ({ fileNodes }) => {
  // alpha quarantines a server after 3 events of banned users (the default is 20).
  alpha = fileNodes.process({ serverName: 'alpha.test', args: ['--banned-events-before-quarantine', '3'] });
  beta = fileNodes.process({ serverName: 'beta.test' });
  gamma = fileNodes.process({ serverName: 'gamma.test' });
  await startAround(alpha, [beta, gamma]);
  for (const localpart of ['bob', 'dave']) expect((await beta.admin('POST', '/users', { localpart })).status).toBe(200);
  betaSigner = Identity.load(join(beta.dataDir, 'identity.json'));
  roomId = await roomWithMembers(alpha, 'civil room', [
    [beta, '@owner:beta.test'],
    [beta, BOB],
    [gamma, GAMMA],
  ]);
  for (const node of [beta, gamma]) {
    await eventually(async () => expect(Object.values(await members(node)).filter((m) => m.membership === 'join')).toHaveLength(4));
  }
}, 60_000);

describe('roles, moderator deletes and refusals', () => {
  it('the owner makes a remote member a moderator; every server shows the role', async () => {
    const made = await alpha.admin('PUT', `/rooms/${enc(roomId)}/members/${enc(GAMMA)}/role`, { role: 'moderator' });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    for (const node of [alpha, beta, gamma]) {
      await eventually(async () => {
        const m = await members(node);
        expect(m[GAMMA]).toEqual({ membership: 'join', role: 'moderator' });
        expect(m['@owner:alpha.test']).toEqual({ membership: 'join', role: 'owner' });
      });
    }
    // Again: nothing to change.
    const again = await alpha.admin('PUT', `/rooms/${enc(roomId)}/members/${enc(GAMMA)}/role`, { role: 'moderator' });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('role_unchanged');
  });

  it('a plain member cannot remove, ban, delete others\' messages or change roles; nothing changes', async () => {
    const g1 = await send(gamma, roomId, 'a message of the moderator');
    await eventually(async () => expect((await messages(beta, roomId)).map((m) => m.event_id)).toContain(g1));
    const before = await members(alpha);

    const remove = await beta.admin('POST', `/rooms/${enc(roomId)}/members/${enc(GAMMA)}/remove`, { actor: BOB });
    expect(remove.status).toBe(403);
    expect(typeof remove.body.message).toBe('string');
    const ban = await beta.admin('POST', `/rooms/${enc(roomId)}/members/${enc('@owner:beta.test')}/remove`, { actor: BOB, ban: true });
    expect(ban.status).toBe(403);
    expect(ban.body.error).toBe('not_allowed');
    const del = await beta.admin('DELETE', `/rooms/${enc(roomId)}/messages/${enc(g1)}`, { user_id: BOB });
    expect(del.status).toBe(403);
    expect(del.body.error).toBe('not_allowed');
    const role = await beta.admin('PUT', `/rooms/${enc(roomId)}/members/${enc(BOB)}/role`, { role: 'moderator', actor: '@owner:beta.test' });
    expect(role.status).toBe(403);
    // A moderator cannot act on the owner; the owner cannot ban themself.
    const onOwner = await gamma.admin('POST', `/rooms/${enc(roomId)}/members/${enc('@owner:alpha.test')}/remove`, { ban: true });
    expect(onOwner.status).toBe(403);
    const selfBan = await alpha.admin('POST', `/rooms/${enc(roomId)}/members/${enc('@owner:alpha.test')}/remove`, { ban: true });
    expect(selfBan.status).toBe(400);
    expect(selfBan.body.error).toBe('cannot_target_self');

    // The host refuses a forged removal from beta too (signed by beta, for its user bob).
    const forged = makeEvent(betaSigner, { room_id: roomId, sender: BOB, event_type: 'm.member.leave', state_key: GAMMA, content: { membership: 'leave' } });
    const refused = await sendSigned(betaSigner, alpha.federationUrl, 'POST', '/_paracord/federation/v1/event', wire(forged));
    expect(refused.status).toBe(403);

    expect(await members(alpha)).toEqual(before);
    expect((await messages(alpha, roomId)).find((m) => m.event_id === g1)).toMatchObject({ deleted: false, body: 'a message of the moderator' });
  });

  it('a moderator deletes a remote member\'s message: deleted on every server, with deleted_by', async () => {
    const b1 = await send(beta, roomId, 'something rude', BOB);
    await eventually(async () => expect((await messages(gamma, roomId)).map((m) => m.event_id)).toContain(b1));
    const deleted = await gamma.admin('DELETE', `/rooms/${enc(roomId)}/messages/${enc(b1)}`, { reason: 'be nice' });
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(200);
    for (const node of [alpha, beta, gamma]) {
      await eventually(async () => {
        const message = (await messages(node, roomId)).find((m) => m.event_id === b1);
        expect(message).toMatchObject({ deleted: true, deleted_by: GAMMA });
        expect(message.body).toBeUndefined();
      });
    }
    // A member's own delete has no deleted_by.
    const own = await send(beta, roomId, 'oops', BOB);
    expect((await beta.admin('DELETE', `/rooms/${enc(roomId)}/messages/${enc(own)}`, { user_id: BOB })).status).toBe(200);
    await eventually(async () => {
      const message = (await messages(alpha, roomId)).find((m) => m.event_id === own);
      expect(message).toMatchObject({ deleted: true });
      expect(message.deleted_by).toBeUndefined();
    });
  });
});

describe('bans', () => {
  it('bad input gets a clear 4xx and changes nothing', async () => {
    const before = await members(alpha);
    const cases: Array<[string, string, unknown, number, string]> = [
      ['POST', `/rooms/${enc(roomId)}/members/${enc('@nobody:alpha.test')}/remove`, { ban: true }, 404, 'unknown_user'],
      ['POST', `/rooms/${enc(roomId)}/members/${enc('@stranger:beta.test')}/remove`, { ban: true }, 404, 'unknown_member'],
      ['POST', `/rooms/${enc(roomId)}/members/${enc('@stranger:beta.test')}/remove`, {}, 404, 'unknown_member'],
      ['POST', `/rooms/${enc(roomId)}/members/${enc(BOB)}/remove`, { actor: '@ghost:alpha.test' }, 404, 'unknown_user'],
      ['POST', `/rooms/${enc(roomId)}/members/not-a-user/remove`, {}, 400, 'invalid_input'],
      ['POST', `/rooms/${enc(roomId)}/members/${enc(BOB)}/remove`, { ban: 'yes' }, 400, 'invalid_input'],
      ['POST', `/rooms/${enc(roomId)}/members/${enc(BOB)}/remove`, { reason: 'x'.repeat(501) }, 400, 'invalid_input'],
      ['POST', `/rooms/${enc('!nope:alpha.test')}/members/${enc(BOB)}/remove`, {}, 404, 'unknown_room'],
      ['PUT', `/rooms/${enc(roomId)}/members/${enc(BOB)}/role`, { role: 'owner' }, 400, 'invalid_input'],
      ['PUT', `/rooms/${enc(roomId)}/members/${enc('@stranger:beta.test')}/role`, { role: 'moderator' }, 404, 'unknown_member'],
      ['DELETE', `/rooms/${enc(roomId)}/bans/${enc(BOB)}`, {}, 404, 'not_banned'],
    ];
    for (const [method, path, body, status, error] of cases) {
      const response = await alpha.admin(method, path, body);
      expect(response.status, `${method} ${path} ${JSON.stringify(response.body)}`).toBe(status);
      expect(response.body.error).toBe(error);
      expect(typeof response.body.message).toBe('string');
    }
    expect(await members(alpha)).toEqual(before);
    expect((await alpha.admin('GET', `/rooms/${enc(roomId)}/bans`)).body).toEqual({ bans: [] });
  });

  it('a banned remote member is gone on every server; their server\'s join, invites and events are refused', async () => {
    const banned = await alpha.admin('POST', `/rooms/${enc(roomId)}/members/${enc(BOB)}/remove`, { ban: true, reason: 'abusive' });
    expect(banned.status, JSON.stringify(banned.body)).toBe(200);
    const bans = (await alpha.admin('GET', `/rooms/${enc(roomId)}/bans`)).body.bans;
    expect(bans).toEqual([{ user_id: BOB, by: '@owner:alpha.test', reason: 'abusive', at: expect.any(Number) }]);
    for (const node of [alpha, beta, gamma]) {
      await eventually(async () => {
        expect((await members(node))[BOB]?.membership).toBe('leave');
        expect((await node.admin('GET', `/rooms/${enc(roomId)}/bans`)).body.bans.map((b: { user_id: string }) => b.user_id)).toEqual([BOB]);
      });
    }

    // Bob's server refuses his message at once (it applied the host's ban) ...
    const local = await beta.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'still here', user_id: BOB });
    expect(local.status).toBe(403);
    expect(local.body.error).toBe('banned');
    // ... and the host refuses it from beta's server, as it refuses his join.
    const event = makeEvent(betaSigner, { room_id: roomId, sender: BOB, content: { body: 'let me in', format: 'plain' } });
    const direct = await sendSigned(betaSigner, alpha.federationUrl, 'POST', '/_paracord/federation/v1/event', wire(event));
    expect(direct.status).toBe(403);
    expect(direct.body.error).toBe('banned');
    const join = makeEvent(betaSigner, { room_id: roomId, sender: BOB, event_type: 'm.member.join', state_key: BOB, content: { membership: 'join' } });
    const joinBody = wireJson({ origin_server: 'beta.test', room_id: roomId, user_id: BOB, event: join }, MEMBERSHIP_WIRE_ORDER);
    const joined = await sendSigned(betaSigner, alpha.federationUrl, 'POST', '/_paracord/federation/v1/join', joinBody);
    expect(joined.status).toBe(403);
    expect(joined.body.error).toBe('banned');
    // Inviting him again is refused.
    const invite = await alpha.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: BOB });
    expect(invite.status).toBe(403);
    expect(invite.body.error).toBe('banned');
    expect((await messages(alpha, roomId)).map((m) => m.body)).not.toContain('let me in');

    // A pending invitee banned before accepting: the acceptance is refused.
    const invited = await alpha.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: DAVE });
    expect(invited.status).toBe(200);
    const pending = await eventually(async () => {
      const list = (await beta.admin('GET', `/invites?user_id=${enc(DAVE)}`)).body.invites;
      expect(list).toHaveLength(1);
      return list[0];
    });
    expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/members/${enc(DAVE)}/remove`, { ban: true })).status).toBe(200);
    await eventually(async () => expect((await beta.admin('GET', `/rooms/${enc(roomId)}/bans`)).body.bans).toHaveLength(2));
    const accept = await beta.admin('POST', `/invites/${pending.invite_id}/accept`, { user_id: DAVE });
    expect(accept.status).toBe(403);
    expect(accept.body.error).toBe('banned');
    expect((await members(alpha))[DAVE]?.membership).toBe('leave');
  });

  it('unban lets them back', async () => {
    const unbanned = await alpha.admin('DELETE', `/rooms/${enc(roomId)}/bans/${enc(BOB)}`);
    expect(unbanned.status, JSON.stringify(unbanned.body)).toBe(200);
    expect((await alpha.admin('GET', `/rooms/${enc(roomId)}/bans`)).body.bans.map((b: { user_id: string }) => b.user_id)).toEqual([DAVE]);
    await eventually(async () => expect((await beta.admin('GET', `/rooms/${enc(roomId)}/bans`)).body.bans.map((b: { user_id: string }) => b.user_id)).toEqual([DAVE]));
    await inviteAndJoin(alpha, roomId, beta, BOB);
    const back = await send(beta, roomId, 'sorry, I am back', BOB);
    for (const node of [alpha, gamma]) {
      await eventually(async () => expect((await messages(node, roomId)).find((m) => m.event_id === back)?.body).toBe('sorry, I am back'));
    }
  });

  it('a server cut off when its user was banned: what he typed meanwhile is refused, and not held against it', async () => {
    // beta is cut off from the host (federation paused: it neither sends nor receives) while bob is banned.
    expect((await beta.admin('POST', '/federation/pause', {})).status).toBe(200);
    const ban = await alpha.admin('POST', `/rooms/${enc(roomId)}/members/${enc(BOB)}/remove`, { ban: true, reason: 'again' });
    expect(ban.status, JSON.stringify(ban.body)).toBe(200);
    banEvent = ban.body.event_id;
    // Bob keeps typing: beta does not know of the ban yet, so it accepts and queues his messages —
    // more of them than alpha's quarantine threshold (3).
    const backlog: string[] = [];
    for (let i = 0; i < 5; i++) backlog.push(await send(beta, roomId, `unaware ${i}`, BOB));
    expect((await beta.admin('POST', '/federation/resume', {})).status).toBe(200);
    // The link is back: the ban reaches beta, and beta's backlog reaches alpha, which refuses it ...
    await eventually(async () => {
      expect((await beta.admin('GET', `/rooms/${enc(roomId)}/bans`)).body.bans.map((b: { user_id: string }) => b.user_id)).toContain(BOB);
      const queue = (await beta.admin('GET', '/queue?destination=alpha.test')).body.entries as Array<{ event_id: string; state: string; last_error: string | null }>;
      for (const id of backlog) expect(queue.find((e) => e.event_id === id)).toMatchObject({ state: 'failed', last_error: expect.stringContaining('banned') });
    }, 30_000);
    expect((await messages(alpha, roomId)).map((m) => m.body).filter((b) => b?.startsWith('unaware'))).toEqual([]);
    // ... without holding it against beta: it had no way to know.
    const peer = (await alpha.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'beta.test');
    expect(peer.trust).toBe('allow');
  });

  it('a server that keeps sending for a banned user once it has the ban is quarantined', async () => {
    // The ban reached beta (alpha holds no undelivered copy for it) ...
    await eventually(async () => {
      const queue = (await alpha.admin('GET', '/queue?destination=beta.test')).body.entries as Array<{ event_id: string }>;
      expect(queue.map((e) => e.event_id)).not.toContain(banEvent);
    });
    // ... and beta still sends for bob, events signed after that (by more than the clock skew the
    // host allows: these are signed a minute and a second ahead). The threshold is 3.
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const later = Date.now() + 61_000;
      const event = makeEvent(betaSigner, { room_id: roomId, sender: BOB, origin_ts: later, depth: later, content: { body: `spam ${i}`, format: 'plain' } });
      const response = await sendSigned(betaSigner, alpha.federationUrl, 'POST', '/_paracord/federation/v1/event', wire(event));
      statuses.push(response.status);
    }
    // Refused as banned until the quarantine; then held for the owner's review, never in the room.
    expect(statuses[0]).toBe(403);
    for (const status of statuses) expect([202, 403]).toContain(status);
    expect((await messages(alpha, roomId)).map((m) => m.body).filter((b) => b?.startsWith('spam'))).toEqual([]);
    await eventually(async () => {
      const peer = (await alpha.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'beta.test');
      expect(peer.trust).toBe('quarantine');
      expect(peer.reason).toContain('banned');
    });
    // gamma, which behaved, is untouched.
    const other = (await alpha.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'gamma.test');
    expect(other.trust).toBe('allow');
  });

  it('a removed server stops receiving the room\'s new events', async () => {
    expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/members/${enc(GAMMA)}/remove`, { reason: 'bye' })).status).toBe(200);
    await eventually(async () => expect((await members(gamma))[GAMMA]).toEqual({ membership: 'leave', role: 'member' }));
    const after = await send(alpha, roomId, 'after gamma left');
    const queue = (await alpha.admin('GET', '/queue?destination=gamma.test')).body.entries as Array<{ event_id: string }>;
    expect(queue.map((e) => e.event_id)).not.toContain(after);
    // Gamma's own later event is refused by its own server (not a member) and would be by the host.
    const refused = await gamma.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'hello?' });
    expect(refused.status).toBe(403);
  });
});
