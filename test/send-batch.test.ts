/**
 * Issue #17: `POST /rooms/{room_id}/messages/batch` — several messages in one request and one
 * transaction, all or none, in order, delivered like single sends; bad input refused with
 * nothing stored.
 */
import { connect } from 'node:net';
import { beforeAll, describe, expect, it } from './helpers/fixtures.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { enc, eventually, messages, roomWithMembers, send } from './helpers/rooms.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';

let alpha: NodeProcess;
let beta: NodeProcess;
let roomId: string;
const eventCount = (node: NodeProcess) => queryNodeDb<{ n: number }>(node.dataDir, 'SELECT COUNT(*) AS n FROM federation_events')[0]!.n;
const batch = (node: NodeProcess, room: string, body: unknown) => node.admin('POST', `/rooms/${enc(room)}/messages/batch`, body);

beforeAll(async ({ pair }) => {
  ({ alpha, beta } = pair);
  roomId = await roomWithMembers(alpha, 'batch', [[beta, '@owner:beta.test']]);
});

describe('sending several messages in one request', () => {
  it('stores them in order, answers their ids in that order, and the other server shows them in that order', async () => {
    const before = await send(alpha, roomId, 'before the batch');
    const bodies = Array.from({ length: 40 }, (_, i) => `line ${i}`);
    const response = await batch(alpha, roomId, { messages: bodies.map((body) => ({ body })) });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const ids: string[] = response.body.event_ids;
    expect(ids).toHaveLength(40);
    expect(new Set(ids).size).toBe(40);
    // The room's clock, written once for the batch (at its end), is at its last event's depth.
    const [clock] = queryNodeDb<{ last_depth: number; newest: number }>(alpha.dataDir, 'SELECT last_depth, (SELECT MAX(depth) FROM federation_events WHERE room_id = rooms.room_id) AS newest FROM rooms WHERE room_id = ?', roomId);
    expect(clock!.last_depth).toBe(clock!.newest);
    const after = await send(alpha, roomId, 'after the batch');
    const expected = [before, ...ids, after];
    const order = (list: Array<{ event_id: string }>) => list.map((m) => m.event_id).filter((id) => expected.includes(id));
    expect(order(await messages(alpha, roomId))).toEqual(expected);
    await eventually(async () => expect(order(await messages(beta, roomId))).toEqual(expected));
    const shown = (await messages(beta, roomId)).filter((m) => ids.includes(m.event_id)).map((m) => m.body);
    expect(shown).toEqual(bodies);
  });

  it('notifies the UI of a batch in one chunk of its event stream', async () => {
    // The admin event stream read raw: each HTTP chunk is one write of the stream.
    const url = new URL(alpha.ready.admin_url);
    const socket = connect(Number(url.port), url.hostname);
    let raw = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => (raw = Buffer.concat([raw, data])));
    socket.write(`GET /_paracord/admin/v1/events HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${alpha.adminToken}\r\n\r\n`);
    const chunks = () => {
      const text = raw.toString('latin1');
      const found: string[] = [];
      let at = text.indexOf('\r\n\r\n') + 4;
      for (;;) {
        const end = text.indexOf('\r\n', at);
        if (end < 0) break;
        const size = parseInt(text.slice(at, end), 16);
        if (!(size > 0) || end + 2 + size + 2 > text.length) break;
        found.push(text.slice(end + 2, end + 2 + size));
        at = end + 2 + size + 2;
      }
      return found;
    };
    try {
      await eventually(async () => expect(chunks().some((c) => c.includes(': connected'))).toBe(true));
      const response = await batch(alpha, roomId, { messages: Array.from({ length: 30 }, (_, i) => ({ body: `streamed ${i}` })) });
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      const ids: string[] = response.body.event_ids;
      await eventually(async () => expect(ids.every((id) => chunks().some((c) => c.includes(id)))).toBe(true));
      // The 30 room notifications (a later chunk tells of their delivery to beta).
      const holding = chunks().filter((c) => c.includes('event: room') && ids.some((id) => c.includes(id)));
      expect(holding).toHaveLength(1);
      expect(ids.every((id) => holding[0]!.includes(`"event_id":"${id}"`))).toBe(true);
    } finally {
      socket.destroy();
    }
  });

  it('a member server sends a batch through the host to everyone', async () => {
    const response = await batch(beta, roomId, { messages: [{ body: 'from beta 1' }, { body: 'from beta 2' }] });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    await eventually(async () => expect((await messages(alpha, roomId)).map((m) => m.event_id)).toEqual(expect.arrayContaining(response.body.event_ids)));
  });

  it.each([
    ['no messages', { messages: [] }, 400],
    ['more than 100', { messages: Array.from({ length: 101 }, () => ({ body: 'x' })) }, 400],
    ['one empty body among good ones', { messages: [{ body: 'fine' }, { body: '' }] }, 400],
    ['an unknown field', { messages: [{ body: 'fine', format: 'html' }] }, 400],
    ['not an array', { messages: 'hello' }, 400],
    ['too large a request', { messages: Array.from({ length: 100 }, () => ({ body: 'y'.repeat(4000) })) }, 413],
  ])('refuses %s with a clear error and stores nothing', async (_name, body, status) => {
    const before = [eventCount(alpha), eventCount(beta)];
    const response = await batch(alpha, roomId, body);
    expect(response.status, JSON.stringify(response.body)).toBe(status);
    expect(typeof response.body.error).toBe('string');
    expect(typeof response.body.message).toBe('string');
    await new Promise((r) => setTimeout(r, 150));
    expect([eventCount(alpha), eventCount(beta)]).toEqual(before);
  });

  it('refuses a room the user is not in, storing none of the batch', async () => {
    const { body: created } = await beta.admin('POST', '/rooms', { name: 'beta only' });
    const before = eventCount(alpha);
    const response = await batch(alpha, created.room_id, { messages: [{ body: 'a' }, { body: 'b' }] });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(eventCount(alpha)).toBe(before);
  });
});
