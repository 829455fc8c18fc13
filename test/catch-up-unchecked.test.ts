/**
 * Catch-up never moves past an event it could not check (2026-11-27). Beta was away while alpha,
 * the room's host, rotated its key and sent 251 messages; alpha's pushes to beta fail (the way
 * from alpha to beta is down), so only beta's catch-up can bring them. When beta comes back, alpha's
 * keys cannot be read (its keys endpoint answers 500: a network problem at that moment): every
 * event signed with the new key is answered 503 keys_unavailable. Catch-up took that as a refusal:
 * it skipped them, moved its watermark past the first page and never asked again, so they were
 * lost. Now its watermark stays below them and it asks again after Retry-After, and they arrive.
 * Real child-process nodes, real proxies between them, real rotation through the admin API.
 */
import { afterAll, describe, expect, it } from './helpers/fixtures.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { eventually, inviteAndJoin, messages, send } from './helpers/rooms.ts';
import { expectArrivedAfterRotation } from './helpers/rotated-delivery.ts';
import { switchProxy } from './helpers/switch-proxy.ts';
import { EVENTS_PATH, KEYS_PATH } from '../main/core/federation/paths.ts';

const proxies: Array<{ close(): void }> = [];
afterAll(() => {
  for (const proxy of proxies) proxy.close();
});

describe('catch-up of events whose signer\'s keys cannot be read yet', () => {
  it('keeps its watermark below them and takes them once the keys can be read', async ({ nodes }) => {
    const alpha = await nodes.start({ serverName: 'alpha.test' });
    const beta = await nodes.start({ serverName: 'beta.test' });
    const state = { keysDown: false, pushDown: false, keysRefused: 0, pages: 0 };
    // Beta's way to alpha: its keys endpoint fails while keysDown; catch-up pages counted.
    const toAlpha = await switchProxy(alpha.federationUrl, (req) => {
      const path = req.url?.split('?')[0];
      if (path === EVENTS_PATH) state.pages++;
      if (path !== KEYS_PATH || !state.keysDown) return null;
      state.keysRefused++;
      return { status: 500, body: '{"error":"internal_error","message":"down"}' };
    });
    // Alpha's way to beta: everything fails while pushDown.
    const toBeta = await switchProxy(beta.federationUrl, () => (state.pushDown ? { status: 503 } : null));
    proxies.push(toAlpha, toBeta);
    expect((await beta.admin('POST', '/peers', { server_name: 'alpha.test', endpoint: toAlpha.url })).status).toBe(200);
    expect((await alpha.admin('POST', '/peers', { server_name: 'beta.test', endpoint: toBeta.url })).status).toBe(200);

    const roomId = (await alpha.admin('POST', '/rooms', { name: 'away' })).body.room_id as string;
    await inviteAndJoin(alpha, roomId, beta, '@owner:beta.test');
    const before = await send(alpha, roomId, 'before beta left');
    await eventually(async () => expect((await messages(beta, roomId)).map((m) => m.event_id)).toContain(before));

    // Beta is away; alpha rotates its key and the room goes on (more than a catch-up page of 200).
    await beta.stop();
    state.pushDown = true;
    const rotated = await alpha.admin('POST', '/keys/rotate');
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const sent: string[] = [];
    for (let i = 0; i < 251; i++) sent.push(await send(alpha, roomId, `while beta was away ${i}`));
    const firstDepth = queryNodeDb<{ depth: number }>(alpha.dataDir, 'SELECT depth FROM federation_events WHERE event_id = ?', sent[0])[0]!.depth;

    // Beta comes back while alpha's keys cannot be read: its catch-up pages through them all.
    state.keysDown = true;
    await beta.start();
    await eventually(async () => {
      expect(state.keysRefused).toBeGreaterThanOrEqual(1);
      expect(state.pages).toBeGreaterThanOrEqual(2);
    }, 30_000, 100);
    // Its watermark stayed below the first event it could not check; none of them is stored.
    const watermark = queryNodeDb<{ synced_depth: number }>(beta.dataDir, 'SELECT synced_depth FROM rooms WHERE room_id = ?', roomId)[0]!.synced_depth;
    expect(watermark).toBeLessThan(firstDepth);
    expect((await messages(beta, roomId)).map((m) => m.event_id)).not.toContain(sent[0]);

    // The keys can be read again (the way from alpha to beta is still down): catch-up asks again
    // by itself, and every message arrives.
    state.keysDown = false;
    await eventually(async () => {
      const ids = new Set((await messages(beta, roomId)).map((m) => m.event_id));
      expect(sent.filter((id) => !ids.has(id))).toEqual([]);
    }, 60_000, 250);
    // Nothing given up on alpha's side either (its pushes wait), and beta holds the new key.
    await expectArrivedAfterRotation(alpha, beta, roomId, sent[250]!, rotated.body.key_id, 1_000);
  }, 150_000);
});
