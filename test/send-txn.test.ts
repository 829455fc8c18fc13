/**
 * Client transaction ids (`txn_id` of sendMessage and sendMessages): a send repeated with the same
 * id — after a connection closed before its answer, over HTTP or the admin stream, at the same
 * time as the first, or after a restart, even after a SIGKILL — answers the event stored the first
 * time, stores nothing new and delivers nothing new.
 */
import { beforeAll, describe, expect, it } from './helpers/fixtures.ts';
import WebSocket from 'ws';
import { ADMIN_STREAM_PATH } from '../shared/contract/admin-operations.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { enc, eventually, messages, roomWithMembers } from './helpers/rooms.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';

let alpha: NodeProcess;
let beta: NodeProcess;
let roomId: string;
const sendOne = (body: string, txn_id?: string) => alpha.admin('POST', `/rooms/${enc(roomId)}/messages`, { body, ...(txn_id ? { txn_id } : {}) });
const sendBatch = (list: Array<{ body: string; txn_id?: string }>) => alpha.admin('POST', `/rooms/${enc(roomId)}/messages/batch`, { messages: list });
const stored = (node: NodeProcess, body: string) =>
  queryNodeDb<{ n: number }>(node.dataDir, "SELECT COUNT(*) AS n FROM federation_events WHERE event_type = 'm.message' AND json_extract(content, '$.body') = ?", body)[0]!.n;

beforeAll(async ({ pair }) => {
  ({ alpha, beta } = pair);
  roomId = await roomWithMembers(alpha, 'txn', [[beta, '@owner:beta.test']]);
});

describe('a send repeated with its txn_id', () => {
  it('answers the first event and stores and delivers it once, also when both are under way together', async () => {
    const first = await sendOne('said once', 'txn-once');
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const again = await sendOne('said once', 'txn-once');
    expect(again.body).toEqual(first.body);
    // Both at the same time: one is stored, both answer it.
    const [a, b] = await Promise.all([sendOne('said together', 'txn-together'), sendOne('said together', 'txn-together')]);
    expect(a.status).toBe(200);
    expect(b.body).toEqual(a.body);
    // Without an id, the same text twice is two messages.
    await sendOne('no id');
    await sendOne('no id');
    expect([stored(alpha, 'said once'), stored(alpha, 'said together'), stored(alpha, 'no id')]).toEqual([1, 1, 2]);
    await eventually(async () => expect((await messages(beta, roomId)).filter((m) => m.body === 'no id')).toHaveLength(2));
    expect([stored(beta, 'said once'), stored(beta, 'said together')]).toEqual([1, 1]);
  });

  it('in a batch: ids already stored answer their events, the others are sent (pool-signed from 8), an id twice is sent once', async () => {
    const known = (await sendOne('known before the batch', 'txn-known')).body.event_id as string;
    const list = [
      { body: 'known before the batch', txn_id: 'txn-known' },
      ...Array.from({ length: 9 }, (_, i) => ({ body: `batch line ${i}`, txn_id: `txn-line-${i}` })),
      { body: 'batch line 0', txn_id: 'txn-line-0' },
      { body: 'no id in the batch' },
    ];
    const response = await sendBatch(list);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const ids = response.body.event_ids as string[];
    expect(ids).toHaveLength(list.length);
    expect(ids[0]).toBe(known);
    expect(ids[10]).toBe(ids[1]);
    expect(new Set(ids).size).toBe(11);
    expect(stored(alpha, 'known before the batch')).toBe(1);
    expect(stored(alpha, 'batch line 0')).toBe(1);
    // The whole batch again: every id is known, nothing is stored, the same ids come back.
    const repeat = await sendBatch(list.filter((m) => m.txn_id));
    expect(repeat.body.event_ids).toEqual(ids.slice(0, 11));
    expect(Array.from({ length: 9 }, (_, i) => stored(alpha, `batch line ${i}`))).toEqual(Array(9).fill(1));
    // A single send of a batch's id answers the batch's event.
    expect((await sendOne('batch line 3', 'txn-line-3')).body.event_id).toBe(ids[4]);
  });

  it('over the admin stream, frames read together with the same id are stored once', async () => {
    const ws = new WebSocket(`${alpha.ready.admin_url.replace(/^http/, 'ws')}${ADMIN_STREAM_PATH}`, { headers: { authorization: `Bearer ${alpha.adminToken}` } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const answers = new Map<number, { ok: boolean; result?: { event_id: string } }>();
    ws.on('message', (data) => {
      const answer = JSON.parse(String(data)) as { id: number; ok: boolean; result?: { event_id: string } };
      answers.set(answer.id, answer);
    });
    const socket = (ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.cork();
    for (let i = 0; i < 12; i++) ws.send(JSON.stringify({ id: i, op: 'sendMessage', input: { room_id: roomId, body: `frame ${i % 4}`, txn_id: `txn-frame-${i % 4}` } }));
    socket.uncork();
    await eventually(async () => expect(answers.size).toBe(12));
    expect([...answers.values()].every((a) => a.ok)).toBe(true);
    for (let i = 4; i < 12; i++) expect(answers.get(i)!.result!.event_id).toBe(answers.get(i % 4)!.result!.event_id);
    expect([0, 1, 2, 3].map((k) => stored(alpha, `frame ${k}`))).toEqual([1, 1, 1, 1]);
    // Not grouped (a status read between them): the second send starts while the first is under
    // way, waits for it and answers its event.
    socket.cork();
    ws.send(JSON.stringify({ id: 100, op: 'sendMessage', input: { room_id: roomId, body: 'under way', txn_id: 'txn-under-way' } }));
    ws.send(JSON.stringify({ id: 101, op: 'getStatus' }));
    ws.send(JSON.stringify({ id: 102, op: 'sendMessage', input: { room_id: roomId, body: 'under way', txn_id: 'txn-under-way' } }));
    socket.uncork();
    await eventually(async () => expect(answers.has(100) && answers.has(102)).toBe(true));
    expect(answers.get(102)).toEqual(answers.get(100) && { ...answers.get(100), id: 102 });
    expect(answers.get(100)!.ok).toBe(true);
    expect(stored(alpha, 'under way')).toBe(1);
    ws.close();
  });

  it('is remembered across a SIGKILL and a restart: an answered send is never stored twice', async () => {
    const first = await sendOne('before the kill', 'txn-kill');
    await alpha.stop('SIGKILL');
    await alpha.start();
    expect((await sendOne('before the kill', 'txn-kill')).body).toEqual(first.body);
    expect(stored(alpha, 'before the kill')).toBe(1);
  });

  it('refuses an id that is not 1-64 letters, digits, - or _, storing nothing', async () => {
    for (const txn_id of ['', 'has space', 'x'.repeat(65), 'ünï', '../x']) {
      const response = await alpha.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: `bad id ${txn_id}`, txn_id });
      expect(response.status, txn_id).toBe(400);
      expect(response.body.error).toBe('invalid_input');
      expect(stored(alpha, `bad id ${txn_id}`)).toBe(0);
    }
  });
});
