/**
 * A peer rotates its signing key moments after we last read its keys (2026-11-26). Its next
 * delivery is signed by a key id we do not know yet; the refetch of its keys was refused by the
 * per-server limit (one fetch per 10 s), so the request was answered 403 unknown_key, which the
 * sender takes as final: the message was marked failed and never arrived. Now a key id we could
 * not check because of that limit is answered 503 with Retry-After (the time left until a fetch
 * is allowed): the sender retries then, the fetch happens, and the message arrives. The limit
 * itself is unchanged (no peer can make us fetch a server's keys more often).
 * Real child-process nodes (plain http on loopback), real rotation through the admin API.
 */
import { join } from 'node:path';
import { describe, expect, it } from './helpers/fixtures.ts';
import { Identity } from '../main/core/identity/identity.ts';
import { eventually, inviteAndJoin, messages, send } from './helpers/rooms.ts';
import { expectArrivedAfterRotation } from './helpers/rotated-delivery.ts';
import { sendSigned } from './helpers/signed-request.ts';
import { tempDir } from './helpers/temp-dir.ts';

const FED = '/_paracord/federation/v1';

describe('a key rotation right after the receiver read the keys', () => {
  it('the first message signed by the new key arrives (retried, not failed), and the key-fetch limit still holds', async ({ pair }) => {
    const { alpha, beta } = pair;
    const roomId = (await alpha.admin('POST', '/rooms', { name: 'rotation' })).body.room_id as string;
    await inviteAndJoin(alpha, roomId, beta, '@owner:beta.test');
    const before = await send(alpha, roomId, 'before the rotation');
    await eventually(async () => expect((await messages(beta, roomId)).map((m) => m.event_id)).toContain(before));

    // Beta reads alpha's keys now: a request naming a key id of alpha it does not know makes it fetch them.
    const stranger = Identity.create(join(tempDir(), 'identity.json'), 'alpha.test');
    const probe = () => sendSigned(stranger, beta.federationUrl, 'GET', `${FED}/keys/cache?server_name=nobody.test`);
    const first = await probe();
    expect(first.status, first.text).toBe(403);
    expect(first.body.error).toBe('unknown_key');

    // Alpha rotates at once and sends: its delivery is signed by a key id beta has not seen.
    const rotated = await alpha.admin('POST', '/keys/rotate');
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const after = await send(alpha, roomId, 'signed with the new key');

    // The anti-amplification bound: another unknown key id within the gap is not fetched for,
    // it is told when to come back (the same for anybody who names alpha.test).
    const again = await probe();
    expect(again.status, again.text).toBe(503);
    expect(again.body.error).toBe('keys_recently_fetched');
    expect(Number(again.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(again.headers['retry-after'])).toBeLessThanOrEqual(10);

    // It arrives, nothing was given up on the way, and beta holds the new key as alpha's.
    await expectArrivedAfterRotation(alpha, beta, roomId, after, rotated.body.key_id, 60_000);
  }, 120_000);
});
