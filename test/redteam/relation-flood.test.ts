/**
 * Red team (2026-11-26): a joined member's server floods edits of one of its own messages, each
 * authorized (its author, not deleted), within its storage quota. The timeline folded every edit
 * of a message on each page, unread counts read every edit after the marker, and search re-read
 * them per edit: 20,000 edits (16 s of sending, a fraction of a day's quota) made the room's page
 * 48 times slower (5.6 → 271 ms) and the room list 14 times (6 → 86 ms), for every user of every
 * server in the room. Now a message's first delete and its author's latest edit are index lookups
 * (FederationEvents.messageRelations, migration 30); the cost is `npm run bench -- --only=relations`.
 */
import { beforeAll, describe, expect, it, type InProcessNode } from '../helpers/fixtures.ts';
import { makeEvent } from '../helpers/events.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import { joinFakePeer } from '../helpers/fake-members.ts';
import type { NodeProcess } from '../helpers/node-process.ts';
import { enc } from '../helpers/rooms.ts';
import { sendSigned } from '../helpers/signed-request.ts';

const FED = '/_paracord/federation/v1';
const EDITS = 12_000;

let host: InProcessNode;
let fake: FakePeer;

beforeAll(async ({ fileNodes }) => {
  host = await fileNodes.inProcess('edithost.test', { graceMs: 1_000 });
  fake = await fileNodes.fakePeer('editor.test');
});

describe('red team: a flood of edits of one message', () => {
  it('shows the author\'s latest edit and counts it once among the unread; a delete after them hides it', async () => {
    const roomId = (await host.admin('POST', '/rooms', { name: 'edits' })).body.room_id as string;
    const userId = await joinFakePeer({ admin: host.admin, federationUrl: host.started.federation_url! } as unknown as NodeProcess, roomId, fake);
    let depth = Date.now() + 2_000;
    const target = makeEvent(fake.identity, { room_id: roomId, sender: userId, depth: ++depth, content: { body: 'original' } });
    expect((await sendSigned(fake.identity, host.started.federation_url!, 'POST', `${FED}/event`, JSON.stringify(target))).status).toBe(202);
    for (let i = 0; i < 20; i++) expect((await host.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: `m${i}` })).status).toBe(200);

    for (let start = 0; start < EDITS; start += 500) {
      const batch = Array.from({ length: Math.min(500, EDITS - start) }, (_, i) =>
        makeEvent(fake.identity, {
          room_id: roomId, sender: userId, event_type: 'm.message.edit', depth: ++depth,
          content: { target: target.event_id, body: start + i === EDITS - 1 ? 'final words for @owner' : `edit ${start + i}` },
        }));
      const sent = await sendSigned(fake.identity, host.started.federation_url!, 'POST', `${FED}/events`, JSON.stringify({ events: batch }));
      expect(sent.status).toBe(200);
      expect(sent.body.results.filter((r: any) => r.inserted !== true)).toEqual([]);
    }

    // What every server shows: the author's latest edit; the owner has one unread message mentioning them.
    const shown = (await host.admin('GET', `/rooms/${enc(roomId)}/messages?limit=50`)).body.messages.find((m: any) => m.event_id === target.event_id);
    expect(shown).toMatchObject({ body: 'final words for @owner', edited: true, deleted: false });
    const listed = (await host.admin('GET', '/rooms')).body.rooms.find((r: any) => r.room_id === roomId);
    expect(listed).toMatchObject({ unread: 1, mentions: 1 });

    // What the flood costs the page and the room list is measured by `npm run bench --
    // --only=relations` (a ratio, never asserted here: tests do not time).

    // The author deletes it: gone, whatever came before.
    const gone = makeEvent(fake.identity, { room_id: roomId, sender: userId, event_type: 'm.message.delete', depth: ++depth, content: { target: target.event_id } });
    expect((await sendSigned(fake.identity, host.started.federation_url!, 'POST', `${FED}/event`, JSON.stringify(gone))).status).toBe(202);
    const after = (await host.admin('GET', `/rooms/${enc(roomId)}/messages?limit=50`)).body.messages.find((m: any) => m.event_id === target.event_id);
    expect(after).toMatchObject({ deleted: true, edited: false });
    expect(after.body).toBeUndefined();
    expect((await host.admin('GET', '/rooms')).body.rooms.find((r: any) => r.room_id === roomId)).toMatchObject({ unread: 0, mentions: 0 });
  }, 180_000);
});
