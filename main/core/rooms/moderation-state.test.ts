/**
 * Issue #20's room state on a real SQLite database: bans, roles and the search index are the
 * same whatever order the events arrive in (as every server must compute the same), and the
 * search/mention helpers treat user text as text.
 */
import { beforeEach, describe, expect, it } from '../../../test/helpers/fixtures.ts';
import type { Envelope } from '../federation/envelope.ts';
import type { Db } from '../store/database.ts';
import { FederationEvents } from '../store/federation-events.ts';
import { GroupCommit } from '../store/group-commit.ts';
import { MAX_CLOCK_SKEW_MS } from './ordering.ts';
import { mentions } from './read-markers.ts';
import { BANNED_BACKLOG_GRACE_MS, bannedEventIsAbuse } from './room-bans.ts';
import { RoomStore } from './room-store.ts';
import { MAX_HIGHLIGHT_WORDS, escapeHtml, highlight, highlighter, queryWords } from './search-words.ts';
import { matchExpression } from './search-match.ts';

let db: Db;
beforeEach(({ tempDb }) => {
  db = tempDb.db;
});

const ROOM = '!r:alpha.test';
const OWNER = '@owner:alpha.test';
const BOB = '@bob:beta.test';

function event(type: string, sender: string, depth: number, id: string, stateKey: string | null, content: Record<string, unknown>): Envelope {
  return { event_id: `$${id}:alpha.test`, room_id: ROOM, event_type: type, sender, origin_server: 'alpha.test', origin_ts: depth, depth, state_key: stateKey, content, signatures: {} };
}

const history = [
  event('m.member.join', OWNER, 1, 'j0', OWNER, { membership: 'join', role: 'owner' }),
  event('m.member.invite', OWNER, 2, 'i1', BOB, { membership: 'invite', expires_at: 9e12 }),
  event('m.member.join', BOB, 3, 'j1', BOB, { membership: 'join' }),
  event('m.message', BOB, 4, 'm1', null, { body: 'pineapple first' }),
  event('m.room.role', OWNER, 5, 'r1', BOB, { role: 'moderator' }),
  event('m.message.edit', BOB, 6, 'e1', null, { target: '$m1:alpha.test', body: 'mango now' }),
  event('m.room.role', OWNER, 7, 'r2', BOB, { role: 'member' }),
  event('m.room.role', OWNER, 8, 'r3', BOB, { role: 'moderator' }),
  event('m.message', OWNER, 9, 'm2', null, { body: 'pineapple second' }),
  event('m.message.delete', OWNER, 10, 'd2', null, { target: '$m2:alpha.test' }),
  event('m.member.ban', OWNER, 11, 'b1', BOB, { membership: 'ban', reason: 'rude' }),
  event('m.member.unban', OWNER, 12, 'u1', BOB, { membership: 'leave' }),
  event('m.member.ban', OWNER, 13, 'b2', BOB, { membership: 'ban' }),
];

/** Stores and applies the events in the given order; answers the resulting state. */
function replay(order: Envelope[]) {
  const rooms = new RoomStore(db);
  const events = new FederationEvents(db);
  rooms.createRoom({ room_id: ROOM, name: 'r', host_server: 'alpha.test', created_at: 0 });
  for (const e of order) {
    events.insert(e, `h-${e.event_id}`, null);
    rooms.apply(e);
  }
  const search = async (q: string) => (await rooms.search.search(OWNER, queryWords(q), null, 10)).map((r) => r.event_id);
  return { bob: rooms.member(ROOM, BOB), banned: rooms.bans.isBanned(ROOM, BOB), bans: rooms.bans.list(ROOM), search, rooms };
}

describe('moderation state does not depend on arrival order', () => {
  it('in order: the last ban wins, the ban ended the role, the index follows the edit and the delete', async () => {
    const state = replay(history);
    expect(state.bob).toMatchObject({ membership: 'leave', role: 'member' });
    expect(state.banned).toBe(true);
    expect(state.bans).toEqual([{ user_id: BOB, by: OWNER, reason: null, at: 13 }]);
    expect(await state.search('pineapple')).toEqual([]);
    expect(await state.search('mango')).toEqual(['$m1:alpha.test']);
  });

  it('shuffled (edits and deletes before their targets, old role and ban events last): the same', async () => {
    const reversed = [...history.slice(0, 3), ...history.slice(3).reverse()];
    const state = replay(reversed);
    expect(state.bob).toMatchObject({ membership: 'leave', role: 'member' });
    expect(state.banned).toBe(true);
    expect(await state.search('pineapple')).toEqual([]);
    expect(await state.search('mango')).toEqual(['$m1:alpha.test']);
  });

  it('an old role event arriving after a newer one does not undo it', async () => {
    const upTo = (n: number) => history.slice(0, n);
    // The newest (moderator, depth 8) first, then the older moderator (5) and member (7): arrival order would say member.
    const roleOrder = [...upTo(5).filter((e) => e.event_type !== 'm.room.role'), history[7]!, history[4]!, history[6]!];
    const state = replay(roleOrder);
    expect(state.bob).toMatchObject({ membership: 'join', role: 'moderator' });
  });
});

describe('search and mention helpers', () => {
  it('cuts queries into words and quotes each: operators are words, never syntax', async () => {
    expect(queryWords('NEAR(pine apple) AND "x" OR y* col:z')).toEqual(['NEAR', 'pine', 'apple', 'AND', 'x', 'OR', 'y', 'col', 'z']);
    expect(matchExpression(['a"b', 'AND'])).toBe('"a""b" "AND"');
    expect(queryWords('" * ( ) :')).toEqual([]);
    expect(queryWords(Array.from({ length: 40 }, (_, i) => `w${i}`).join(' '))).toHaveLength(16);
  });

  it('highlights matching words in the escaped body, folding case and diacritics', async () => {
    expect(highlight('<script>alert("Crème")</script> creme', ['CREME', 'script'])).toBe(
      '&lt;<mark>script</mark>&gt;alert(&quot;<mark>Crème</mark>&quot;)&lt;/<mark>script</mark>&gt; <mark>creme</mark>',
    );
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
    // A body of one word said again and again: the first 100 marked, the rest as it is (escaped),
    // not 2,000 marks a hit (a red-team review: ~150 ms of the main thread a search).
    const many = highlight(`${'a '.repeat(300)}<b>`, ['A']);
    expect(many.split('<mark>a</mark>')).toHaveLength(101);
    expect(many.endsWith(`${'a '.repeat(200)}&lt;b&gt;`)).toBe(true);
    // One search's hits share their folded words (the same answers), and read MAX_HIGHLIGHT_WORDS
    // words at most between them: distinct words (no memo helps) cannot cost more.
    const marked = highlighter(['creme']);
    expect(marked('Crème creme CREME')).toBe('<mark>Crème</mark> <mark>creme</mark> <mark>CREME</mark>');
    expect(marked('creme')).toBe('<mark>creme</mark>');
    const distinct = Array.from({ length: 1_000 }, (_, i) => `w${i}`).join(' ');
    const page = highlighter(['w999']);
    const shown = Array.from({ length: MAX_HIGHLIGHT_WORDS / 1_000 + 2 }, () => page(distinct));
    expect(shown.slice(0, MAX_HIGHLIGHT_WORDS / 1_000).every((h) => h.endsWith('<mark>w999</mark>'))).toBe(true);
    expect(shown.at(-1)).toBe(distinct);
  });

  it('finds mentions by id or localpart, not of other users or servers', async () => {
    expect(mentions('hi @carol!', '@carol:alpha.test')).toBe(true);
    expect(mentions('hi @Carol:alpha.test', '@carol:alpha.test')).toBe(true);
    expect(mentions('@carol: look', '@carol:alpha.test')).toBe(true);
    expect(mentions('hi @carolyn', '@carol:alpha.test')).toBe(false);
    expect(mentions('hi @carol:beta.test', '@carol:alpha.test')).toBe(false);
    expect(mentions('mail carol@alpha.test', '@carol:alpha.test')).toBe(false);
    expect(mentions('a.b @a.b+c', '@a.b:alpha.test')).toBe(true);
  });
});

describe('when events for a banned user count against their server', () => {
  it('only once the ban reached it: signed more than the clock skew after, or arriving past the backlog grace', async () => {
    const knownAt = 1_000_000;
    expect(bannedEventIsAbuse(null, knownAt * 2, knownAt * 2)).toBe(false); // the ban has not reached it
    expect(bannedEventIsAbuse(knownAt, knownAt - 5_000, knownAt + 10)).toBe(false); // typed before it had the ban
    expect(bannedEventIsAbuse(knownAt, knownAt + MAX_CLOCK_SKEW_MS, knownAt + MAX_CLOCK_SKEW_MS)).toBe(false); // its clock may be ahead
    expect(bannedEventIsAbuse(knownAt, knownAt + MAX_CLOCK_SKEW_MS + 1, knownAt + MAX_CLOCK_SKEW_MS + 1)).toBe(true);
    // An old signing time does not excuse an event sent long after the ban reached its server.
    expect(bannedEventIsAbuse(knownAt, knownAt - 5_000, knownAt + BANNED_BACKLOG_GRACE_MS + 1)).toBe(true);
  });

  it('the ban reaches the banned user\'s server when it acknowledges the ban in force, not another event or server', () => {
    const { rooms } = replay(history); // bob@beta.test banned by b2 (from alpha.test)
    expect(rooms.bans.knownAt(ROOM, BOB)).toBeNull();
    rooms.bans.noteRead(ROOM, '$b1:alpha.test', 'beta.test', 500); // an older ban, superseded
    rooms.bans.noteRead(ROOM, '$b2:alpha.test', 'gamma.test', 600); // another server
    expect(rooms.bans.knownAt(ROOM, BOB)).toBeNull();
    rooms.bans.noteRead(ROOM, '$b2:alpha.test', 'beta.test', 700);
    expect(rooms.bans.knownAt(ROOM, BOB)).toBe(700);
    rooms.bans.noteRead(ROOM, '$b2:alpha.test', 'beta.test', 800); // a copy sent again: the first time stays
    expect(rooms.bans.knownAt(ROOM, BOB)).toBe(700);
    // Held there for review first (known from a grace later: inbound-events.ts), then read for real: the earlier time wins.
    rooms.bans.noteRead(ROOM, '$b2:alpha.test', 'beta.test', 650);
    expect(rooms.bans.knownAt(ROOM, BOB)).toBe(650);
    // Unbanned and banned again: the new ban has to reach beta in its turn.
    rooms.apply(event('m.member.unban', OWNER, 14, 'u2', BOB, { membership: 'leave' }));
    expect(rooms.bans.knownAt(ROOM, BOB)).toBeNull();
    rooms.apply(event('m.member.ban', OWNER, 15, 'b3', BOB, { membership: 'ban' }));
    expect(rooms.bans.knownAt(ROOM, BOB)).toBeNull();
    // A ban made on the banned user's own server (by a moderator there) is known to it at once.
    const own = { ...event('m.member.ban', '@mod:beta.test', 16, 'b4', BOB, { membership: 'ban' }), origin_server: 'beta.test', origin_ts: 1234 };
    rooms.apply(own);
    expect(rooms.bans.knownAt(ROOM, BOB)).toBe(1234);
  });
});

describe('the ban lookup made for every event authorized', () => {
  it('follows the bans applied, and a ban rolled back in a group commit is not kept', async () => {
    const rooms = new RoomStore(db);
    const commit = new GroupCommit(db, { onRollback: () => rooms.forgetCachedMembership() });
    rooms.createRoom({ room_id: ROOM, name: 'r', host_server: 'alpha.test', created_at: 0 });
    // Read first, so an answer is cached for (room, bob) and (room, carol).
    expect(rooms.bans.isBanned(ROOM, BOB)).toBe(false);
    expect(rooms.bans.isBanned(ROOM, '@carol:beta.test')).toBe(false);
    await commit.run(() => rooms.apply(event('m.member.ban', OWNER, 11, 'b1', BOB, { membership: 'ban' })));
    expect(rooms.bans.isBanned(ROOM, BOB)).toBe(true);
    expect(rooms.bans.isBanned(ROOM, '@carol:beta.test')).toBe(false);
    // A job that bans carol, reads it (cached inside the transaction) and then fails: rolled back.
    const failed = commit.run(() => {
      rooms.apply(event('m.member.ban', OWNER, 12, 'b2', '@carol:beta.test', { membership: 'ban' }));
      expect(rooms.bans.isBanned(ROOM, '@carol:beta.test')).toBe(true);
      throw new Error('a later check refused the job');
    });
    await expect(failed).rejects.toThrow('a later check refused the job');
    expect(rooms.bans.isBanned(ROOM, '@carol:beta.test')).toBe(false);
    expect(rooms.bans.list(ROOM).map((b) => b.user_id)).toEqual([BOB]);
    await commit.run(() => rooms.apply(event('m.member.unban', OWNER, 13, 'u1', BOB, { membership: 'leave' })));
    expect(rooms.bans.isBanned(ROOM, BOB)).toBe(false);
    await commit.drained();
  });
});

describe('search order', () => {
  it('newest first in display order, whatever order the messages arrived in; the page is the newest ones', async () => {
    const kiwi = (depth: number, id: string) => event('m.message', BOB, depth, id, null, { body: `kiwi ${id}` });
    // History that arrived late (a catch-up) after newer messages, and two of the same depth.
    const order = [...history.slice(0, 3), kiwi(300, 'k3'), kiwi(100, 'k1'), kiwi(200, 'k2'), kiwi(200, 'k2b'), kiwi(50, 'k0')];
    const { rooms } = replay(order);
    const ids = async (limit: number, roomId: string | null = null) => (await rooms.search.search(OWNER, queryWords('kiwi'), roomId, limit)).map((r) => r.event_id.slice(1, -':alpha.test'.length));
    expect(await ids(10)).toEqual(['k3', 'k2b', 'k2', 'k1', 'k0']);
    expect(await ids(2)).toEqual(['k3', 'k2b']);
    expect(await ids(10, '!other:alpha.test')).toEqual([]);
    // An edit keeps the message in its place; a delete takes it out.
    const events = new FederationEvents(db);
    for (const e of [event('m.message.edit', BOB, 400, 'ek1', null, { target: '$k1:alpha.test', body: 'kiwi edited' }), event('m.message.delete', BOB, 401, 'dk2', null, { target: '$k2:alpha.test' })]) {
      events.insert(e, `h-${e.event_id}`, null);
      rooms.apply(e);
    }
    expect(await ids(10)).toEqual(['k3', 'k2b', 'k1', 'k0']);
  });
});
