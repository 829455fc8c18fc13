/**
 * Red team (2026-11-28): a user who left a room reads its reactions as they stood at its leave
 * (ReactionIndex.aggregateUpTo). Each (sender, key) decided after the leave was looked up in the
 * message's reaction events before the leave through the relations index, which narrows only by
 * message and type: every lookup read all of them. A joined member's server toggling one key
 * thousands of times before the leave, then adding and taking back a thousand keys after it, made
 * one message's page cost (keys after) x (events before), seconds of a synchronous node (5,000 keys
 * taken back after the cut: 5.2 s). Now each lookup is one seek in federation_events_reaction_pair
 * (migration 48): its plan is checked here, on the node's own database; tests do not time.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, type InProcessNode } from '../helpers/fixtures.ts';
import { makeEvent } from '../helpers/events.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import { joinFakePeer } from '../helpers/fake-members.ts';
import type { NodeProcess } from '../helpers/node-process.ts';
import { enc, inviteAndJoin } from '../helpers/rooms.ts';
import { sendSigned } from '../helpers/signed-request.ts';
import { REACTION_PAIR_BELOW_SQL } from '../../main/core/rooms/reaction-index.ts';
import { stablePlanSql } from '../../main/core/store/stable-plans.ts';

const FED = '/_paracord/federation/v1';
/** Reaction events of one key before the cut (adds and removes in turn, ending with an add). */
const TOGGLES = 8_001;
/** Keys added and taken back after the cut, each a (sender, key) decided after it. */
const LATER_KEYS = 1_000;

let host: InProcessNode;
let fake: FakePeer;

beforeAll(async ({ fileNodes }) => {
  host = await fileNodes.inProcess('cuthost.test', { graceMs: 1_000 });
  fake = await fileNodes.fakePeer('toggler.test');
});

describe('red team: a flood of reactions around a reader\'s leave', () => {
  it('the reader who left sees the reactions as at its leave; each (sender, key) decided after it is one index seek', async () => {
    const roomId = (await host.admin('POST', '/rooms', { name: 'toggles' })).body.room_id as string;
    const sam = (await host.admin('POST', '/users', { localpart: 'sam' })).body.user_id as string;
    await inviteAndJoin(host, roomId, host, sam);
    const userId = await joinFakePeer({ admin: host.admin, federationUrl: host.started.federation_url! } as unknown as NodeProcess, roomId, fake);
    let depth = Date.now() + 2_000;
    const target = makeEvent(fake.identity, { room_id: roomId, sender: userId, depth: ++depth, content: { body: 'react to me' } });
    expect((await sendSigned(fake.identity, host.started.federation_url!, 'POST', `${FED}/event`, JSON.stringify(target))).status).toBe(202);
    const sendAll = async (events: Array<{ type: 'm.reaction.add' | 'm.reaction.remove'; key: string }>) => {
      for (let start = 0; start < events.length; start += 500) {
        const batch = events.slice(start, start + 500).map(({ type, key }) =>
          makeEvent(fake.identity, { room_id: roomId, sender: userId, event_type: type, depth: ++depth, content: { target: target.event_id, key } }));
        const sent = await sendSigned(fake.identity, host.started.federation_url!, 'POST', `${FED}/events`, JSON.stringify({ events: batch }));
        expect(sent.status).toBe(200);
        expect(sent.body.results.filter((r: any) => r.inserted !== true)).toEqual([]);
      }
    };

    // Before the cut: 👍 added and taken back thousands of times, left added.
    await sendAll(Array.from({ length: TOGGLES }, (_, i) => ({ type: i % 2 === 0 ? 'm.reaction.add' : 'm.reaction.remove', key: '👍' })));
    expect((await host.admin('POST', `/rooms/${enc(roomId)}/members/${enc(sam)}/remove`, {})).status).toBe(200);
    // After it: 👍 taken back, a thousand keys added and taken back, 19 left.
    depth = Math.max(depth, Date.now()) + 5_000;
    const later = Array.from({ length: LATER_KEYS }, (_, i) => `k${i}`);
    await sendAll([
      { type: 'm.reaction.remove', key: '👍' },
      ...later.flatMap((key, i) => (i < 19 ? [{ type: 'm.reaction.add' as const, key }] : [{ type: 'm.reaction.add' as const, key }, { type: 'm.reaction.remove' as const, key }])),
    ]);

    // sam, removed, reads the message as it was: 👍 by the toggler, nothing of what came after.
    const read = await host.admin('GET', `/rooms/${enc(roomId)}/messages?user_id=${enc(sam)}`);
    expect(read.status, JSON.stringify(read.body)).toBe(200);
    const shown = read.body.messages.find((m: any) => m.event_id === target.event_id);
    expect(shown).toMatchObject({ reactions: { '👍': [userId] }, reaction_counts: { '👍': 1 } });
    // The owner, in the room, sees the 19 keys standing now.
    const now = (await host.admin('GET', `/rooms/${enc(roomId)}/messages`)).body.messages.find((m: any) => m.event_id === target.event_id);
    expect(Object.keys(now.reaction_counts).sort()).toEqual(later.slice(0, 19).sort());

    // Each lookup of a (sender, key) decided after the cut, as the node prepares it: one seek
    // narrowed by message, sender, key and position, not a read of the message's reaction events.
    const db = new Database(join(host.dataDir, 'paracord.db'), { readonly: true });
    try {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${stablePlanSql(REACTION_PAIR_BELOW_SQL)}`).all(target.event_id, userId, 'k5', roomId, depth, '', '') as Array<{ detail: string }>)
        .map((p) => p.detail).join(' ');
      expect(plan).toContain('USING INDEX federation_events_reaction_pair (relates_to=? AND sender=? AND <expr>=? AND (depth,origin_server,event_id)<(?,?,?))');
      expect(plan).not.toContain('TEMP B-TREE');
    } finally {
      db.close();
    }
  }, 180_000);
});
