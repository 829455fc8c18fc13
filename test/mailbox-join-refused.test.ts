/**
 * "The UI tells the truth" about an invite our user accepted (admin `listInvites` `join`): a join
 * refused by the host directly is shown refused, in our words; one sent while the room's host is
 * reached only through a friend's mailbox (issue #32) is shown waiting there, and the host's final
 * refusal comes back the same way (a join-answer carrying `refused`), so the invite no longer
 * looks as if it waited for the host for good. Real node processes on 127.0.0.1 (alpha hosts, beta
 * joins, carol carries); a fake host (test/helpers/fake-peer.ts) for the direct refusals.
 */
import { describe, expect, it } from './helpers/fixtures.ts';
import { enc, eventually } from './helpers/rooms.ts';
import { identityOf, listeningAt, twoHomesAndAFriend } from './helpers/mailbox-homes.ts';
import { sendSigned } from './helpers/signed-request.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { signEnvelope } from '../main/core/federation/envelope.ts';
import { MAX_JOIN_RESENDS } from '../main/core/rooms/room-joins.ts';

const FED = '/_paracord/federation/v1';
const USER = '@owner:beta.test';

interface ListedInvite { invite_id: string; room_id: string; join?: { state: string; since: number; mailbox?: string; error?: string; message?: string } }

describe('where a join sent for an invite stands', () => {
  it('refused by its host directly: shown refused, in words; a limit is no verdict (shown unanswered); accepted again, it joins', async ({ nodes }) => {
    const host = await nodes.fakePeer('refuser.test', { roomHost: true });
    const alpha = await nodes.inProcess('alpha.test');
    expect((await alpha.admin('POST', '/peers', { server_name: 'refuser.test', endpoint: host.url })).status).toBe(200);
    expect((await host.invite(alpha.started.federation_url!, '!r:refuser.test', '@owner:alpha.test')).status).toBe(200);
    const listed = async () => ((await alpha.admin('GET', '/invites')).body.invites as ListedInvite[]).find((i) => i.room_id === '!r:refuser.test');
    const invite = (await listed())!;
    host.joinRefusal = { status: 403, body: { error: 'banned', message: 'no \u001b[31mentry\u001b[0m' } };
    const refused = await alpha.admin('POST', `/invites/${invite.invite_id}/accept`);
    expect([refused.status, refused.body.error]).toEqual([403, 'banned']);
    const join = (await listed())!.join!;
    expect(join).toMatchObject({ state: 'refused', error: 'banned' });
    // The host's words are kept only cleaned (no terminal escapes), as a direct answer's message.
    expect(join.message).toContain('refuser.test refused (banned)');
    expect(join.message).not.toContain('\u001b');
    host.joinRefusal = { status: 429, body: { error: 'rate_limited', message: 'later' } };
    expect((await alpha.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(429);
    expect((await listed())!.join).toMatchObject({ state: 'unanswered' });
    // The host's refusals through a join-answer (as through a mailbox): one of the join refused
    // before is no answer to the one sent since; one of that join is taken once, the same again
    // changes nothing (no new time, no notification).
    expect(host.joins).toHaveLength(2);
    const answer = (joinEvent: unknown, error: string) =>
      sendSigned(host.identity, alpha.started.federation_url!, 'POST', `${FED}/join-answer`, JSON.stringify({ origin_server: 'refuser.test', room_id: '!r:refuser.test', answer: { refused: { join_event: joinEvent, error, message: `no (${error})` } } }));
    expect((await answer(host.joins[0], 'banned')).status).toBe(200);
    expect((await listed())!.join).toMatchObject({ state: 'unanswered' });
    expect((await answer(host.joins[1], 'not_invited')).status).toBe(200);
    const noted = (await listed())!.join!;
    expect(noted).toMatchObject({ state: 'refused', error: 'not_invited' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await answer(host.joins[1], 'banned')).status).toBe(200);
    expect((await listed())!.join).toEqual(noted);
    // The host invites the user again: the refused join is over, the invite is offered afresh.
    expect((await host.invite(alpha.started.federation_url!, '!r:refuser.test', '@owner:alpha.test')).status).toBe(200);
    expect((await listed())!.join).toBeUndefined();
    // Sent again, not answered (a limit); then an answer that cannot be read: final (400, not 502:
    // a mailbox would carry it again and again, holding the host's later requests behind it), and
    // shown as such, not as waiting.
    expect((await alpha.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(429);
    const unreadable = await sendSigned(host.identity, alpha.started.federation_url!, 'POST', `${FED}/join-answer`, JSON.stringify({ origin_server: 'refuser.test', room_id: '!r:refuser.test', answer: { join_event: host.joins[2], room: null } }));
    expect([unreadable.status, unreadable.body.error]).toEqual([400, 'bad_snapshot']);
    expect((await listed())!.join).toMatchObject({ state: 'refused', error: 'bad_snapshot' });
    host.joinRefusal = null;
    const joined = await alpha.admin('POST', `/invites/${invite.invite_id}/accept`);
    expect(joined.status, JSON.stringify(joined.body)).toBe(200);
    expect(await listed()).toBeUndefined();
  });

  it('taken too late by its host (it waited at a mailbox over the host\'s minute): signed again and sent again by itself, at most MAX_JOIN_RESENDS times', async ({ nodes }) => {
    const host = await nodes.fakePeer('late.test', { roomHost: true });
    const alpha = await nodes.inProcess('alpha.test');
    expect((await alpha.admin('POST', '/peers', { server_name: 'late.test', endpoint: host.url })).status).toBe(200);
    const listed = async (roomId: string) => ((await alpha.admin('GET', '/invites')).body.invites as ListedInvite[]).find((i) => i.room_id === roomId);
    const joinsTo = (roomId: string) => host.joins.filter((e) => e.room_id === roomId);
    const tooLate = (joinEvent: unknown, roomId: string, words = 'origin_ts is more than 60 s behind') =>
      sendSigned(host.identity, alpha.started.federation_url!, 'POST', `${FED}/join-answer`, JSON.stringify({ origin_server: 'late.test', room_id: roomId, answer: { refused: { join_event: joinEvent, error: 'depth_too_old', message: words } } }));
    for (const roomId of ['!a:late.test', '!b:late.test']) expect((await host.invite(alpha.started.federation_url!, roomId, '@owner:alpha.test')).status).toBe(200);
    // Sent, not answered (a limit): the host then says it took that join too late.
    host.joinRefusal = { status: 429, body: { error: 'rate_limited', message: 'later' } };
    expect((await alpha.admin('POST', `/invites/${(await listed('!a:late.test'))!.invite_id}/accept`)).status).toBe(429);
    host.joinRefusal = null;
    expect((await tooLate(joinsTo('!a:late.test')[0], '!a:late.test')).status).toBe(200);
    // Signed again and sent again by itself: the host answers it, the room is joined.
    await eventually(async () => expect(await listed('!a:late.test')).toBeUndefined(), 15_000, 50);
    expect(joinsTo('!a:late.test')).toHaveLength(2);
    expect(joinsTo('!a:late.test')[1]!.event_id).not.toBe(joinsTo('!a:late.test')[0]!.event_id);

    // A host that says so of every join: at most MAX_JOIN_RESENDS joins sent by themselves, then shown refused.
    host.joinRefusal = { status: 429, body: { error: 'rate_limited', message: 'later' } };
    expect((await alpha.admin('POST', `/invites/${(await listed('!b:late.test'))!.invite_id}/accept`)).status).toBe(429);
    for (let n = 1; n <= MAX_JOIN_RESENDS; n++) {
      // Two answers of that join at once (the same request twice would be a replay): one join sent again.
      const twice = await Promise.all(['once', 'twice'].map((words) => tooLate(joinsTo('!b:late.test').at(-1), '!b:late.test', words)));
      expect(twice.map((r) => r.status)).toEqual([200, 200]);
      await eventually(async () => expect(joinsTo('!b:late.test')).toHaveLength(1 + n), 15_000, 50);
    }
    expect((await tooLate(joinsTo('!b:late.test').at(-1), '!b:late.test')).status).toBe(200);
    expect((await listed('!b:late.test'))!.join).toMatchObject({ state: 'refused', error: 'peer_refused' });
    // Refused is where it stands: the same answer again sends nothing.
    expect((await tooLate(joinsTo('!b:late.test').at(-1), '!b:late.test')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(joinsTo('!b:late.test')).toHaveLength(1 + MAX_JOIN_RESENDS);
  });

  it('left at a mailbox: shown waiting at the mailbox; the host\'s refusal comes back through it and is shown in its words; accepted again once the host allows it, the room appears', async ({ nodes }) => {
    const { alpha, beta, carol } = await twoHomesAndAFriend(nodes, false);
    // beta's statement that carol is its mailbox is at carol (its restart sends it): alpha's
    // invite can be left there (before it, the invite is refused 502: beta cannot be reached).
    await eventually(async () => expect(queryNodeDb<{ n: number }>(carol.dataDir, "SELECT COUNT(*) AS n FROM mailbox_choices WHERE recipient = 'beta.test'")[0]!.n).toBe(1), 30_000);
    const invites = async () => (await beta.admin('GET', `/invites?user_id=${enc(USER)}`)).body.invites as ListedInvite[];
    const roomId: string = (await alpha.admin('POST', '/rooms', { name: 'behind a router' })).body.room_id;
    expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: USER })).status).toBe(200);
    const invite = await eventually(async () => {
      const list = await invites();
      expect(list.map((i) => i.room_id)).toEqual([roomId]);
      return list[0]!;
    }, 60_000);
    expect(invite.join).toBeUndefined();
    // alpha's owner puts beta's server on hold before its user accepts.
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'quarantine', reason: 'looking into it' })).status).toBe(200);
    const accepted = await beta.admin('POST', `/invites/${invite.invite_id}/accept`, { user_id: USER });
    expect(accepted.body).toEqual({ room_id: roomId, waiting_for_host: true });
    // Waiting at carol, unless the refusal already came back (a mailbox fetch wakes on a deposit).
    const first = (await invites())[0]!.join!;
    if (first.state !== 'refused') expect(first).toMatchObject({ state: 'waiting', mailbox: 'carol.test' });
    // alpha takes the join from carol and refuses it: the refusal comes back through carol.
    const refused = await eventually(async () => {
      const join = (await invites())[0]!.join!;
      expect(join.state).toBe('refused');
      return join;
    }, 90_000, 250);
    expect(refused).toMatchObject({ error: 'origin_quarantined', message: expect.stringContaining('alpha.test refused') });
    expect(beta.stderr).toContain('"event":"join_refused"');
    // Nothing of the room was read: no member list, no events came with the refusal.
    expect(((await beta.admin('GET', `/rooms/${enc(roomId)}`)).body.members as Array<{ user_id: string; membership: string }> | undefined ?? []).filter((m) => m.membership === 'join')).toEqual([]);

    // What a host says of a join is checked like any peer's words: only the room's host, only for
    // a join our user sent, only naming that join, only in the refusal's shape. Each changes nothing.
    const alphaId = identityOf(alpha);
    const answer = (body: unknown) => sendSigned(alphaId, listeningAt(beta), 'POST', `${FED}/join-answer`, JSON.stringify(body), { destination: 'beta.test' });
    const forged = signEnvelope({
      event_id: `$forged:alpha.test`, room_id: roomId, event_type: 'm.member.join', sender: USER, origin_server: 'alpha.test',
      origin_ts: Date.now(), depth: Date.now(), state_key: USER, content: { membership: 'join' },
    }, alphaId);
    const badShape = await answer({ origin_server: 'alpha.test', room_id: roomId, answer: { refused: { join_event: forged, error: 'Not A Code', message: 7 } } });
    expect([badShape.status, badShape.body.error]).toEqual([400, 'invalid_request']);
    const beside = await answer({ origin_server: 'alpha.test', room_id: roomId, answer: { join_event: forged, refused: { join_event: forged, error: 'banned', message: 'go away' } } });
    expect([beside.status, beside.body.error]).toEqual([400, 'invalid_request']);
    const notOurs = await answer({ origin_server: 'alpha.test', room_id: roomId, answer: { refused: { join_event: forged, error: 'banned', message: 'go away' } } });
    // A join event of our user's made by alpha: not one of ours, refused before any key is looked up.
    expect([notOurs.status, notOurs.body.error], JSON.stringify(notOurs.body)).toEqual([400, 'bad_snapshot']);
    // One that names beta as its origin but is signed by alpha: its signature does not hold.
    const posing = { ...forged, origin_server: 'beta.test', event_id: '$posing:beta.test' };
    const posed = await answer({ origin_server: 'alpha.test', room_id: roomId, answer: { refused: { join_event: posing, error: 'banned', message: 'go away' } } });
    expect(posed.status, JSON.stringify(posed.body)).toBe(403);
    const otherRoom = await answer({ origin_server: 'alpha.test', room_id: '!elsewhere:alpha.test', answer: { refused: { join_event: forged, error: 'banned', message: 'go away' } } });
    expect([otherRoom.status, otherRoom.body.error]).toEqual([404, 'no_join_sent']);
    expect((await invites())[0]!.join).toEqual(refused);

    // The owner ends the hold; the user accepts again: waiting again, then joined.
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'allow' })).status).toBe(200);
    const again = await beta.admin('POST', `/invites/${invite.invite_id}/accept`, { user_id: USER });
    expect(again.body).toEqual({ room_id: roomId, waiting_for_host: true });
    // Waiting at carol again (not refused any more), unless the room already came back.
    const second = (await invites())[0]?.join;
    if (second) expect(second).toMatchObject({ state: 'waiting', mailbox: 'carol.test' });
    await eventually(async () => {
      const members = (await beta.admin('GET', `/rooms/${enc(roomId)}`)).body.members as Array<{ user_id: string; membership: string }>;
      expect(members.filter((m) => m.membership === 'join').map((m) => m.user_id).sort()).toEqual(['@owner:alpha.test', USER]);
    }, 90_000, 250);
    expect(await invites()).toEqual([]);
  }, 240_000);
});
