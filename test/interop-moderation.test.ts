/**
 * Issue #20 item 8: the Paracord reference's removals and moderator deletes, in its exact wire
 * form (docs/REFERENCE-INTEROP-NOTES.md §6; test/helpers/reference-peer.ts `kick`,
 * `moderatorDelete`), through the real HTTP listener of a real node of ours.
 *
 * - A room HOSTED by the reference (read-only for our users): its removal of our user removes
 *   them here; its moderator delete of another user's message shows it deleted with deleted_by.
 * - A room WE host: a reference member's delete of someone else's message is refused unless that
 *   user is an owner/moderator here (roles are ours; authorization in rooms/authorize.ts).
 */
import { beforeAll, describe, expect, it, type InProcessNode } from './helpers/fixtures.ts';
import { messagesOn, pushedTo } from './helpers/interop.ts';
import { ReferencePeer, reserialize, type RefEnvelope } from './helpers/reference-peer.ts';
import { eventually } from './helpers/rooms.ts';

let ours: InProcessNode;
let ref: ReferencePeer;
const enc = encodeURIComponent;
const OWNER = '@owner:ours.test';

beforeAll(async ({ fileNodes }) => {
  ref = await fileNodes.referencePeer({ serverName: 'ref.test', allowedGuilds: ['4343'] });
  ref.guilds.set('4343', 'Ref hall');
  ours = await fileNodes.inProcess('ours.test', { config: { referencePollIntervalMs: 150 } });
  const added = await ours.admin('POST', '/peers', { endpoint: ref.url, key_id: ref.keyId, public_key: ref.publicKeyHex });
  expect(added.status).toBe(200);
  await ref.addServer('ours.test', 'ours.test', `${ours.started.federation_url!}/_paracord/federation/v1`);
});

const messagesOf = (roomId: string) => messagesOn(ours, roomId);

async function membersOf(roomId: string): Promise<any[]> {
  return (await ours.admin('GET', `/rooms/${enc(roomId)}`)).body.members;
}

/** Waits until the poller has stored `marker` (events are polled in depth order: everything before it was handled). */
async function polled(roomId: string, marker: RefEnvelope): Promise<any[]> {
  return eventually(async () => {
    const messages = await messagesOf(roomId);
    if (!messages.some((m) => m.event_id === marker.event_id)) throw new Error('not polled yet');
    return messages;
  });
}

const push = (e: RefEnvelope) => ref.call('ours.test', 'POST', '/event', reserialize('event', e)!);

describe('a room hosted by the reference', () => {
  const roomId = '!4343:ref.test';
  let adaMessage: RefEnvelope;
  let bobMessage: RefEnvelope;
  let ownMessage: RefEnvelope;

  it('our user joins and its history is polled', async () => {
    ref.memberJoin(roomId, 'Ada');
    ref.memberJoin(roomId, 'Bob');
    adaMessage = ref.say(roomId, 'Ada', 'I moderate here');
    bobMessage = ref.say(roomId, 'Bob', 'something abusive');
    ownMessage = ref.say(roomId, 'Bob', 'I regret this one');
    expect((await ours.admin('POST', '/rooms/join', { room_id: roomId })).status).toBe(200);
    const messages = await polled(roomId, ownMessage);
    expect(messages.find((m) => m.event_id === bobMessage.event_id)).toMatchObject({ body: 'something abusive', deleted: false });
  });

  it('its moderator delete (sender = the moderator, message_id = its id of the target) shows the message deleted by that moderator', async () => {
    const deletion = ref.moderatorDelete(roomId, 'Ada', String(bobMessage.content.message_id));
    expect(deletion.content).toEqual({ guild_id: '4343', channel_id: '4343', message_id: bobMessage.content.message_id });
    expect(deletion.event_id).toMatch(/^\$m_message_delete:/);
    const shown = await eventually(async () => {
      const m = (await messagesOf(roomId)).find((x) => x.event_id === bobMessage.event_id);
      if (!m?.deleted) throw new Error('not applied yet');
      return m;
    });
    expect(shown).toMatchObject({ sender: '@Bob:ref.test', deleted: true, deleted_by: '@Ada:ref.test' });
    expect(shown.body).toBeUndefined();
    // Its own delete of its own message: deleted, no deleted_by.
    ref.relate(roomId, 'Bob', 'm.message.delete', String(ownMessage.content.message_id));
    const own = await eventually(async () => {
      const m = (await messagesOf(roomId)).find((x) => x.event_id === ownMessage.event_id);
      if (!m?.deleted) throw new Error('not applied yet');
      return m;
    });
    expect(own.deleted_by).toBeUndefined();
  });

  it('a delete naming a message_id that did not originate on the host changes nothing', async () => {
    ref.moderatorDelete(roomId, 'Ada', '123456789');
    const marker = ref.say(roomId, 'Ada', 'after the unresolvable delete');
    const messages = await polled(roomId, marker);
    expect(messages.find((m) => m.event_id === adaMessage.event_id)).toMatchObject({ body: 'I moderate here', deleted: false });
  });

  it('a leave naming a local id other than our user\'s (even sent as our user\'s pseudo-user) does not remove them', async () => {
    ref.kick(roomId, OWNER, '1');
    const marker = ref.say(roomId, 'Ada', 'after the mismatched leave');
    await polled(roomId, marker);
    expect(await membersOf(roomId)).toContainEqual(expect.objectContaining({ user_id: OWNER, membership: 'join' }));
  });

  it('its removal of our user (kick or ban: an m.member.leave as their pseudo-user naming their local id) removes them here', async () => {
    const kick = ref.kick(roomId, OWNER);
    expect(kick).toMatchObject({ event_type: 'm.member.leave', state_key: null, content: { guild_id: '4343', user_id: ref.localIds.get(OWNER) } });
    expect(kick.sender).toMatch(/^@owner_[0-9a-f]{6}:ref\.test$/);
    await eventually(async () => {
      if ((await membersOf(roomId)).find((x) => x.user_id === OWNER)?.membership !== 'leave') throw new Error('not applied yet');
      return true;
    });
    // The other members are unaffected.
    expect(await membersOf(roomId)).toContainEqual(expect.objectContaining({ user_id: '@Ada:ref.test', membership: 'join' }));
  });
});

describe('a room we host, with reference members', () => {
  let roomId: string;
  let bobMessage: RefEnvelope;
  let ourMessageId: string;

  const admit = async (user: string) => {
    expect((await ours.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: user })).status).toBe(200);
    const joined = await ref.call('ours.test', 'POST', '/join', JSON.stringify({ origin_server: 'ref.test', room_id: roomId, user_id: user }));
    expect(joined.status).toBe(200);
  };

  it('two of its users join and talk (polled from its mirror)', async () => {
    roomId = (await ours.admin('POST', '/rooms', { name: 'Our hall' })).body.room_id;
    await admit('@Zoe:ref.test');
    await admit('@Bob:ref.test');
    const ourSent = await ours.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'house rules: be nice' });
    expect(ourSent.status).toBe(200);
    const pushed = await pushedTo(ref, ourSent.body.event_id);
    ourMessageId = String(pushed.content.message_id);
    bobMessage = ref.say(roomId, 'Bob', 'spam spam spam', { mirrored: true });
    await polled(roomId, bobMessage);
  });

  it('its delete of another member\'s message is refused (403 not_allowed) while that user is a plain member here, and nothing changes', async () => {
    const deletion = ref.moderatorDelete(roomId, 'Zoe', String(bobMessage.content.message_id));
    const answer = await push(deletion);
    expect(answer.status).toBe(403);
    expect(answer.json).toMatchObject({ error: 'not_allowed' });
    // The same event polled from its /events is refused too (the poller logs it and moves on).
    const marker = ref.say(roomId, 'Zoe', 'after my refused delete', { mirrored: true });
    const messages = await polled(roomId, marker);
    expect(messages.find((m) => m.event_id === bobMessage.event_id)).toMatchObject({ body: 'spam spam spam', deleted: false });
  });

  it('its delete of OUR user\'s message names an id we cannot resolve (its local id): refused, nothing changes', async () => {
    const answer = await push(ref.moderatorDelete(roomId, 'Zoe', ourMessageId));
    expect(answer.status).toBe(404);
    expect(answer.json).toMatchObject({ error: 'unknown_target' });
    const messages = await messagesOf(roomId);
    expect(messages.find((m) => m.body === 'house rules: be nice')).toMatchObject({ deleted: false });
  });

  it('its leave naming a pseudo-user of OUR user cannot remove our user', async () => {
    const answer = await push(ref.kick(roomId, OWNER, '77'));
    expect(answer.status).toBe(403);
    expect(await membersOf(roomId)).toContainEqual(expect.objectContaining({ user_id: OWNER, membership: 'join' }));
  });

  it('once our owner makes that user a moderator here, the same form is accepted and shows deleted_by', async () => {
    const promoted = await ours.admin('PUT', `/rooms/${enc(roomId)}/members/${enc('@Zoe:ref.test')}/role`, { role: 'moderator' });
    expect(promoted.status).toBe(200);
    const deletion = ref.moderatorDelete(roomId, 'Zoe', String(bobMessage.content.message_id));
    const shown = await eventually(async () => {
      const m = (await messagesOf(roomId)).find((x) => x.event_id === bobMessage.event_id);
      if (!m?.deleted) throw new Error('not applied yet');
      return m;
    });
    expect(shown).toMatchObject({ sender: '@Bob:ref.test', deleted: true, deleted_by: '@Zoe:ref.test' });
    // Polled (or pushed again): already stored.
    const again = await push(deletion);
    expect(again.status).toBeLessThan(300);
  });

  it('our ban of its user (an id in its grammar) is enforced here: their later events and /join get 403 banned; unban lets them back', async () => {
    const bob = '@Bob:ref.test';
    const removed = await ours.admin('POST', `/rooms/${enc(roomId)}/members/${enc(bob)}/remove`, { ban: true, reason: 'spam' });
    expect(removed.status).toBe(200);
    expect((await membersOf(roomId)).find((m) => m.user_id === bob)?.membership).not.toBe('join');
    expect((await ours.admin('GET', `/rooms/${enc(roomId)}/bans`)).body.bans).toContainEqual(expect.objectContaining({ user_id: bob }));
    const later = ref.say(roomId, 'Bob', 'I am back', { mirrored: true });
    const refused = await push(later);
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ error: 'banned' });
    expect((await messagesOf(roomId)).some((m) => m.event_id === later.event_id)).toBe(false);
    // Its event-less /join for him is answered `banned` too (not `not_invited`), and changes nothing.
    const rejoin = await ref.call('ours.test', 'POST', '/join', JSON.stringify({ origin_server: 'ref.test', room_id: roomId, user_id: bob }));
    expect(rejoin.status).toBe(403);
    expect(rejoin.json).toMatchObject({ error: 'banned' });
    expect((await membersOf(roomId)).find((m) => m.user_id === bob)?.membership).not.toBe('join');
    expect((await ours.admin('DELETE', `/rooms/${enc(roomId)}/bans/${enc(bob)}`)).status).toBe(200);
    expect((await ours.admin('GET', `/rooms/${enc(roomId)}/bans`)).body.bans).toEqual([]);
  });

  it('bad input: a subject id that is no user id in any dialect is a 400, and nothing changes', async () => {
    for (const bad of ['Bob', '@:ref.test', '@Bob:', '@Bo b:ref.test']) {
      const answer = await ours.admin('PUT', `/rooms/${enc(roomId)}/members/${enc(bad)}/role`, { role: 'moderator' });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_input');
    }
    expect((await membersOf(roomId)).find((m) => m.user_id === '@Zoe:ref.test')).toMatchObject({ role: 'moderator' });
  });
});
