/**
 * A friend that receives by pull (a node behind a home router) and keeps our server in quarantine
 * holds what it pulls from us for its owner's review. Pushed, its receipt says `held` and our
 * message reads "delivered to alpha.test, which held it for review"; pulled, its ack only moved the
 * cursor, and the message read "✓ Delivered" while nobody there saw it. Now the ack names what it
 * holds (`POST /pull/ack {cursor, held}`, capability `pull_held`): the message and the friend's
 * line say so, and a later ack that names none of what it covers clears the line.
 */
import { describe, expect, it } from './helpers/fixtures.ts';
import { startPeered } from './helpers/node-process.ts';
import { hostPullingMember, pullingFrom } from './helpers/pull-friend.ts';
import { enc, eventually, messages, roomWithMembers, send } from './helpers/rooms.ts';
import { join } from 'node:path';
import { Identity } from '../main/core/identity/identity.ts';
import { deliveryOf, rowsFor } from './helpers/refused-entries.ts';
import { sendRaw, sendSigned } from './helpers/signed-request.ts';

const ACK = '/_paracord/federation/v1/pull/ack';

describe('pull mode: events the puller holds for review', () => {
  it('a message pulled by a friend that keeps us in quarantine reads held there, and the friend\'s line says so until it takes ours again', async ({ nodes }) => {
    const { alpha, beta, roomId } = await hostPullingMember(nodes, 'held by pull');

    const deliveryOf = async (eventId: string) =>
      (await beta.admin('GET', `/rooms/${enc(roomId)}/messages?limit=500`)).body.messages.find((m: { event_id: string }) => m.event_id === eventId)?.delivery;
    const line = async () => (await beta.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'alpha.test').holds_ours_for_review;
    // What alpha pulled before reads delivered, with nothing held.
    const before = (await messages(beta, roomId)).find((m) => m.body === 'before');
    await eventually(async () => expect(await deliveryOf(before.event_id)).toMatchObject({ state: 'delivered' }), 30_000);
    expect((await deliveryOf(before.event_id)).held_there).toBeUndefined();
    expect(await line()).toBeNull();

    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'quarantine', reason: 'checking' })).status).toBe(200);
    const held = await send(beta, roomId, 'am I heard?');
    await eventually(async () => {
      const list = (await alpha.admin('GET', '/quarantine?server_name=beta.test')).body;
      expect(list.held.map((h: { event_id: string }) => h.event_id)).toContain(held);
    }, 30_000);
    // alpha's ack names it: beta's message says alpha holds it, and alpha's line says alpha holds ours.
    await eventually(async () => expect(await deliveryOf(held)).toMatchObject({ state: 'delivered', held_there: ['alpha.test'] }), 30_000);
    expect(await line()).toEqual({ since: expect.any(Number), last_at: expect.any(Number) });
    expect((await messages(alpha, roomId)).map((m) => m.body)).not.toContain('am I heard?');

    // alpha lets beta in again: what it pulls next is taken as any other, and the line goes.
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'allow' })).status).toBe(200);
    const later = await send(beta, roomId, 'heard at once');
    await eventually(async () => expect((await messages(alpha, roomId)).map((m) => m.body)).toContain('heard at once'), 30_000);
    await eventually(async () => expect(await deliveryOf(later)).toMatchObject({ state: 'delivered' }), 30_000);
    expect((await deliveryOf(later)).held_there).toBeUndefined();
    await eventually(async () => expect(await line()).toBeNull(), 30_000);
    // What alpha held then still says so: nothing tells beta whether alpha's owner released it.
    expect((await deliveryOf(held)).held_there).toEqual(['alpha.test']);
  }, 180_000);

  it('an ack\'s `held` is checked at the edge (a bad one gets a clear 400 and changes nothing); a good one notes only the caller\'s own rows, and `held: []` clears the line', async ({ nodes }) => {
    const alpha = nodes.process({ serverName: 'alpha.test' });
    const beta = nodes.process({ serverName: 'beta.test' });
    await startPeered([alpha, beta]);
    const roomId = await roomWithMembers(alpha, 'held acks', [[beta, '@owner:beta.test']]);
    await pullingFrom(alpha, beta);
    await beta.stop();
    const sent = [await send(alpha, roomId, 'first'), await send(alpha, roomId, 'second')];
    const before = rowsFor(alpha, 'beta.test');
    expect(before.filter((r) => r.state === 'pending').map((r) => r.event_id)).toEqual(sent);
    const key = await Identity.open(join(beta.dataDir, 'identity.json'));
    const cursor = String(before[before.length - 1]!.id);
    const bad: unknown[] = ['no', [''], [42], [`$${'e'.repeat(255)}`], [{ event_id: sent[0] }], Array.from({ length: 1_001 }, () => sent[0])];
    for (const held of bad) {
      const body = JSON.stringify({ cursor, held });
      const response = await sendSigned(key, alpha.federationUrl, 'POST', ACK, body);
      expect(response.status, body.slice(0, 200)).toBe(400);
      expect(response.body, body.slice(0, 200)).toMatchObject({ error: 'invalid_request' });
    }
    expect(rowsFor(alpha, 'beta.test')).toEqual(before);
    const line = async () => (await alpha.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'beta.test').holds_ours_for_review;
    expect(await line()).toBeNull();

    // A good one: both rows are acknowledged; the one it names reads held there, the other delivered; an unknown id is ignored.
    const acked = await sendSigned(key, alpha.federationUrl, 'POST', ACK, JSON.stringify({ cursor, held: [sent[0], '$unknown:beta.test'] }));
    expect(acked.status, JSON.stringify(acked.body)).toBe(200);
    expect(acked.body).toEqual({ acknowledged: 2 });
    expect(rowsFor(alpha, 'beta.test')).toEqual([]);
    expect(await deliveryOf(alpha, roomId, sent[0]!)).toMatchObject({ state: 'delivered', held_there: ['beta.test'] });
    expect((await deliveryOf(alpha, roomId, sent[1]!) as { held_there?: unknown }).held_there).toBeUndefined();
    expect(await line()).toEqual({ since: expect.any(Number), last_at: expect.any(Number) });

    // An ack without the field (an older puller) says nothing either way; one with `held: []` covering a row clears the line.
    const third = await send(alpha, roomId, 'third');
    const thirdCursor = String(rowsFor(alpha, 'beta.test').find((r) => r.event_id === third)!.id);
    expect((await sendSigned(key, alpha.federationUrl, 'POST', ACK, JSON.stringify({ cursor: thirdCursor }))).status).toBe(200);
    expect(await line()).not.toBeNull();
    const fourth = await send(alpha, roomId, 'fourth');
    const fourthCursor = String(rowsFor(alpha, 'beta.test').find((r) => r.event_id === fourth)!.id);
    expect((await sendSigned(key, alpha.federationUrl, 'POST', ACK, JSON.stringify({ cursor: fourthCursor, held: [] }))).status).toBe(200);
    expect(await line()).toBeNull();
    expect(await deliveryOf(alpha, roomId, sent[0]!)).toMatchObject({ held_there: ['beta.test'] });

    // The capability is advertised.
    const discovery = await sendRaw(`${alpha.federationUrl}/.well-known/paracord/server`, 'GET', {});
    expect(discovery.body.capabilities).toContain('pull_held');
  }, 120_000);
});
