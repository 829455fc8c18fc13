/**
 * Red team (issue #14 items 8/10 class: "one id grammar"), fixed in shared/identifiers.ts (IdGrammar:
 * the server part must pass isServerName). `isUserId` (and ROOM_ID / EVENT_ID) used to
 * embed the loose SERVER_NAME regex, not the canonical server-name check: the server part of a
 * user id may be `2130706433`, `0x7f000001`, `127.1` (URL parsers read all as 127.0.0.1), port 0,
 * a port above 65535, or a port with a leading zero. So one server has many user-id spellings
 * (`@x:127.0.0.1` vs `@x:127.1` vs `@x:2130706433`), which the item 8 canonicaliser refuses as
 * server names everywhere else. Secure outcome: such ids are refused like any malformed id,
 * through the federation listener (400 invalid_event, nothing stored), as the admin
 * API already does.
 */
import { beforeAll, describe, expect, it } from '../helpers/fixtures.ts';
import { z } from 'zod';
import { EVENT_ID, ROOM_ID, USER_ID, isServerName, isUserId } from '../../shared/identifiers.ts';
import { MEMBERSHIP_WIRE_ORDER, wireJson } from '../../main/core/federation/wire-json.ts';
import { makeEvent, wire } from '../helpers/events.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import { startInProcessNode } from '../helpers/in-process-node.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';
import { enc } from '../helpers/rooms.ts';
import { sendSigned } from '../helpers/signed-request.ts';

const FED = '/_paracord/federation/v1';
const NON_CANONICAL = ['@x:2130706433', '@x:0x7f000001', '@x:127.1', '@x:0177.0.0.1', '@x:evil.test:0', '@x:evil.test:99999', '@x:evil.test:08448'];

let alpha: Awaited<ReturnType<typeof startInProcessNode>>;
let fake: FakePeer;
let roomId: string;
const fakeUser = '@u:evil.test';

beforeAll(async ({ fileNodes }) => {
  alpha = await fileNodes.inProcess('alpha.test');
  fake = await fileNodes.fakePeer('evil.test');
  roomId = (await alpha.admin('POST', '/rooms', { name: 'ids' })).body.room_id;
  expect((await alpha.admin('POST', '/peers', { server_name: 'evil.test', endpoint: fake.url })).status).toBe(200);
  expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: fakeUser })).status).toBe(200);
  const joinEvent = makeEvent(fake.identity, { room_id: roomId, event_type: 'm.member.join', sender: fakeUser, state_key: fakeUser, content: { membership: 'join' }, depth: Date.now() + 1_000 });
  const body = wireJson({ origin_server: 'evil.test', room_id: roomId, user_id: fakeUser, event: joinEvent }, MEMBERSHIP_WIRE_ORDER);
  expect((await sendSigned(fake.identity, alpha.started.federation_url!, 'POST', `${FED}/join`, body)).status).toBe(200);
});


describe('red team: user ids whose server part is not a canonical server name', () => {
  it('a joined peer cannot invite @x:2130706433 & co. into the room (400, no member row)', async () => {
    const accepted: string[] = [];
    for (const invitee of NON_CANONICAL) {
      const event = makeEvent(fake.identity, {
        room_id: roomId, event_type: 'm.member.invite', sender: fakeUser, state_key: invitee,
        content: { membership: 'invite', expires_at: Date.now() + 3_600_000, room_name: 'ids' },
      });
      const answer = await sendSigned(fake.identity, alpha.started.federation_url!, 'POST', `${FED}/event`, wire(event));
      if (answer.status < 400) accepted.push(`${invitee} → ${answer.status}`);
    }
    const rows = queryNodeDb<{ user_id: string }>(alpha.dataDir, 'SELECT user_id FROM room_members WHERE room_id = ?', roomId).map((r) => r.user_id);
    expect(accepted, `accepted: ${accepted.join(', ')}; members now ${rows.join(', ')}`).toEqual([]);
    expect(rows.filter((r) => NON_CANONICAL.includes(r))).toEqual([]);
  });

  it('the canonical spelling of a user id is still accepted', async () => {
    const event = makeEvent(fake.identity, {
      room_id: roomId, event_type: 'm.member.invite', sender: fakeUser, state_key: '@x:evil.test',
      content: { membership: 'invite', expires_at: Date.now() + 3_600_000, room_name: 'ids' },
    });
    expect((await sendSigned(fake.identity, alpha.started.federation_url!, 'POST', `${FED}/event`, wire(event))).status).toBeLessThan(300);
  });
});

describe('the one id grammar (unit)', () => {
  it('user, room and event ids need a canonical server part; event ids may hold ":" before it', () => {
    for (const id of NON_CANONICAL) expect(isUserId(id), id).toBe(false);
    expect(isUserId('@x:evil.test')).toBe(true);
    expect(isUserId('@x:127.0.0.1:8448')).toBe(true);
    expect(ROOM_ID.test('!r:evil.test:8448')).toBe(true);
    expect(ROOM_ID.test('!r:127.1')).toBe(false);
    expect(EVENT_ID.test('$e:evil.test:8448')).toBe(true);
    expect(EVENT_ID.test('$m_reaction_add:123:x:1700000000:example.org')).toBe(true);
    expect(EVENT_ID.test('$e:evil.test:0')).toBe(false);
    expect(EVENT_ID.test('$e:2130706433')).toBe(false);
    expect(z.string().regex(USER_ID).safeParse('@x:127.1').success).toBe(false);
  });

  it('remembering accepted server names changes no answer: other spellings, and past the memory size', () => {
    // Accepted names are remembered (issue #17); a remembered name must not vouch for its other spellings.
    for (let round = 0; round < 2; round++) {
      expect(isServerName('evil.test')).toBe(true);
      expect(isServerName('EVIL.test')).toBe(false);
      expect(isServerName('evil.test.')).toBe(false);
      expect(isServerName('127.0.0.1')).toBe(true);
      for (const id of NON_CANONICAL) expect(isServerName(id.slice(3)), id).toBe(false);
      // More names than it keeps: it starts again, and still answers each one the same.
      for (let i = 0; i < 1_200; i++) expect(isServerName(`host${i}.test`)).toBe(true);
      for (let i = 0; i < 1_200; i++) expect(isServerName(`host${i}.test:0${i}`)).toBe(false);
    }
  });

  it('remembering ids that matched changes no answer (tests, exec, zod, past the memory size)', () => {
    for (let round = 0; round < 2; round++) {
      expect(USER_ID.test('@x:evil.test')).toBe(true);
      for (const id of NON_CANONICAL) expect(USER_ID.test(id), id).toBe(false);
      // exec is not answered from memory: a caller that reads the match still gets it.
      expect(USER_ID.exec('@x:evil.test')?.[1]).toBe('evil.test');
      expect(USER_ID.exec('@x:127.1')).toBeNull();
      expect(z.string().regex(USER_ID).safeParse('@x:evil.test').success).toBe(true);
      expect(z.string().regex(USER_ID).safeParse('@x:127.1').success).toBe(false);
      for (let i = 0; i < 600; i++) {
        expect(ROOM_ID.test(`!r${i}:evil.test`)).toBe(true);
        expect(ROOM_ID.test(`!r${i}:127.${i % 256}`)).toBe(false);
        expect(EVENT_ID.test(`$e${i}:evil.test:8448`)).toBe(true);
        expect(EVENT_ID.test(`$e${i}:evil.test:0${i}`)).toBe(false);
      }
    }
  });
});
