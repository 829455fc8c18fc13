/**
 * Red team: what a Paracord reference 3.x peer gets into our node through our poll of its history
 * (GET /events, reference/reference-rooms.ts), compared with what the same event gets when pushed
 * (POST /event). Every field it chooses must pass the checks a pushed event passes, in one place.
 * Real node (in-process, real SQLite and sockets), the reference-shaped peer playing 3.x.
 */
import { beforeAll, describe, expect, it, type InProcessNode } from '../helpers/fixtures.ts';
import { messagesOn, shownMessage } from '../helpers/interop.ts';
import { ReferencePeer, reserialize } from '../helpers/reference-peer.ts';
import { sendRaw } from '../helpers/signed-request.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';

let ours: InProcessNode;
let ref: ReferencePeer;
const roomId = '!4242:ref3.test';

const storedIds = (ids: string[]) =>
  queryNodeDb<{ event_id: string }>(ours.dataDir, `SELECT event_id FROM federation_events WHERE event_id IN (${ids.map(() => '?').join(',')})`, ...ids).map((r) => r.event_id);

beforeAll(async ({ fileNodes }) => {
  ours = await fileNodes.inProcess('ours.test', { config: { referencePollIntervalMs: 150 } });
  const ourUrl = ours.started.federation_url!;
  const keys = (await sendRaw(`${ourUrl}/_paracord/federation/v1/keys`, 'GET', {})).body;
  ref = await fileNodes.referencePeer({ serverName: 'ref3.test', version: '3', allowedGuilds: ['4242'] });
  ref.guilds.set('4242', 'Ref3 lounge');
  ref.defaultChannels.set('4242', '424201');
  ref.pinServer('ours.test', 'ours.test', `${ourUrl}/_paracord/federation/v1`, keys.active_key.key_id, keys.active_key.public_key);
  const added = await ours.admin('POST', '/peers', { server_name: 'ref3.test', endpoint: ref.url, key_id: ref.keyId, public_key: ref.publicKeyHex, reference_version: '3' });
  expect(added.status).toBe(200);
  ref.joined.set(roomId, new Set(['@Ada:ref3.test']));
  expect((await ours.admin('POST', '/rooms/join', { room_id: roomId })).status).toBe(200);
});

/** `levels` arrays nested in one another: `[[[...[1]...]]]`. */
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

describe('red team: a reference 3.x peer\'s polled events pass the wire JSON limits of a pushed event', () => {
  it('an event nested deeper than the wire limit (depth 32), or with more than 10,000 elements, is refused when pushed and is not stored when polled; a sound one polled after them is', async () => {
    const deep = ref.say(roomId, 'Ada', 'deep', { extra: { attachments: nested(40) } });
    const wide = ref.say(roomId, 'Ada', 'wide', { extra: { attachments: Array.from({ length: 12_000 }, () => 0) } });
    const sound = ref.say(roomId, 'Ada', 'sound after them');
    // Pushed, each is refused by the JSON limits on the body (docs/PROTOCOL.md "Event ingest", step 1).
    for (const e of [deep, wide]) {
      const pushed = await ref.call('ours.test', 'POST', '/event', reserialize('event', e)!);
      expect(pushed.status, e.content.body as string).toBe(400);
      expect(pushed.json.error).toBe('limits_exceeded');
    }
    // Polled (the room's history, as its poller reads it), the same events must not get in either.
    await shownMessage(ours, roomId, sound.event_id);
    expect(storedIds([deep.event_id, wide.event_id, sound.event_id])).toEqual([sound.event_id]);
    const shown = (await messagesOn(ours, roomId)).map((m) => m.event_id);
    expect(shown).not.toContain(deep.event_id);
    expect(shown).not.toContain(wide.event_id);
  });
});

