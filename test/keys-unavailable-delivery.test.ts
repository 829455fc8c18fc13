/**
 * A message sent while the receiver cannot read the sender's new key (2026-11-26). Alpha rotates
 * its key and sends at once; beta meets the new key id and tries to read alpha's keys, but the
 * keys endpoint answers 500 (a proxy between them in this test: any network problem at that
 * moment). That was answered 403 unknown_key, which alpha's outbox takes as final: the message was
 * marked failed and never arrived. Now beta answers 503 keys_unavailable with Retry-After, alpha
 * retries, and once beta can read the keys the message arrives; nothing is marked failed.
 * Real child-process nodes (plain http on loopback), real rotation through the admin API.
 */
import { afterAll, describe, expect, it } from './helpers/fixtures.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { eventually, inviteAndJoin, messages, send } from './helpers/rooms.ts';
import { expectArrivedAfterRotation } from './helpers/rotated-delivery.ts';
import { switchProxy } from './helpers/switch-proxy.ts';

const KEYS_PATH = '/_paracord/federation/v1/keys';

let proxy: Awaited<ReturnType<typeof switchProxy>> | undefined;
afterAll(() => {
  proxy?.close();
});

/** A proxy to `target` (beta's way to alpha); its keys endpoint answers 500 while `state.keysDown`. */
async function keysProxy(target: string, state: { keysDown: boolean; keysFetches: number; refused: number }): Promise<string> {
  const started = await switchProxy(target, (req) => {
    if (req.url?.split('?')[0] !== KEYS_PATH) return null;
    state.keysFetches++;
    if (!state.keysDown) return null;
    state.refused++;
    return { status: 500, body: '{"error":"internal_error","message":"down"}' };
  });
  proxy = started;
  return started.url;
}

describe('a message signed by a key the receiver cannot read yet', () => {
  it('arrives once the receiver can read the sender\'s keys (retried, not failed)', async ({ nodes }) => {
    const alpha = await nodes.start({ serverName: 'alpha.test' });
    const beta = await nodes.start({ serverName: 'beta.test' });
    const state = { keysDown: false, keysFetches: 0, refused: 0 };
    const viaProxy = await keysProxy(alpha.federationUrl, state);
    // Beta reaches alpha (and reads its keys) through the proxy; alpha reaches beta directly.
    const added = await beta.admin('POST', '/peers', { server_name: 'alpha.test', endpoint: viaProxy });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    await alpha.addPeer(beta);

    const roomId = (await alpha.admin('POST', '/rooms', { name: 'keys down' })).body.room_id as string;
    await inviteAndJoin(alpha, roomId, beta, '@owner:beta.test');
    const before = await send(alpha, roomId, 'before the rotation');
    await eventually(async () => expect((await messages(beta, roomId)).map((m) => m.event_id)).toContain(before));

    // Alpha's keys cannot be read by beta now; alpha rotates and sends.
    state.keysDown = true;
    const rotated = await alpha.admin('POST', '/keys/rotate');
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const after = await send(alpha, roomId, 'signed with the new key while beta cannot read it');

    // Beta tried to read the keys and could not; alpha's entry waits (with beta's 503), it is not failed.
    await eventually(async () => {
      expect(state.refused).toBeGreaterThanOrEqual(1);
      const entry = queryNodeDb<{ state: string; last_error: string | null }>(alpha.dataDir, 'SELECT state, last_error FROM federation_outbox WHERE event_id = ?', after);
      expect(entry).toEqual([expect.objectContaining({ state: 'pending', last_error: expect.stringContaining('keys_unavailable') })]);
    }, 60_000, 250);
    expect((await messages(beta, roomId)).map((m) => m.event_id)).not.toContain(after);

    // The keys can be read again: the message arrives, and nothing was given up on the way.
    state.keysDown = false;
    await expectArrivedAfterRotation(alpha, beta, roomId, after, rotated.body.key_id, 90_000);
  }, 180_000);
});
