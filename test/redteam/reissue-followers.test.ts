/**
 * A helper's audit (2026-11-28): a room's host away longer than it takes events (a minute), a
 * member's message A waiting for it, and the member's deletion (or edit) E of A made shortly
 * before the host returns. One batch carries both: the host refuses A as too old (409, re-issued
 * and sent again) and E as naming an unknown message (A is not stored yet): E failed for good —
 * "Your deletion was not delivered", everyone else seeing the deleted message. Now an event
 * refused after an earlier one of its batch was re-issued is tried again, not failed.
 */
import { describe, expect, it } from '../helpers/fixtures.ts';
import { startPeered } from '../helpers/node-process.ts';
import { enc, eventually, messages, roomWithMembers, send } from '../helpers/rooms.ts';

describe('a change of a message re-issued as too old', () => {
  it('reaches the host with the message, in the same batch as its re-issued target', async ({ nodes }) => {
    // The host takes an event at most 20 s after it was signed (PARACORD_TEST_EVENT_MAX_AGE_MS, set alike on both).
    const env = { PARACORD_TEST_EVENT_MAX_AGE_MS: '20000' };
    const alpha = nodes.process({ serverName: 'alpha.test', env });
    const beta = nodes.process({ serverName: 'beta.test', args: ['--retry-initial', '200', '--retry-max', '2000'], env });
    await startPeered([alpha, beta]);
    const roomId = await roomWithMembers(alpha, 'away', [[beta, '@owner:beta.test']]);
    await send(beta, roomId, 'before');
    await eventually(async () => expect((await messages(alpha, roomId)).map((m) => m.body)).toContain('before'), 30_000);

    expect(await alpha.stop()).toBe(0);
    const edited = await send(beta, roomId, 'typo');
    const deleted = await send(beta, roomId, 'oops');
    await new Promise((r) => setTimeout(r, 21_000));
    // Shortly before alpha is back: an edit of one, a deletion of the other (both fresh).
    expect((await beta.admin('PATCH', `/rooms/${enc(roomId)}/messages/${enc(edited)}`, { body: 'fixed' })).status).toBe(200);
    expect((await beta.admin('DELETE', `/rooms/${enc(roomId)}/messages/${enc(deleted)}`)).status).toBe(200);
    await alpha.start();
    await eventually(async () => {
      const seen = await messages(alpha, roomId);
      expect(seen.find((m) => m.event_id === edited)).toMatchObject({ body: 'fixed', edited: true });
      expect(seen.find((m) => m.event_id === deleted)).toMatchObject({ deleted: true });
    }, 60_000, 250);
    await eventually(async () => expect((await beta.admin('GET', '/queue')).body.counts).toMatchObject({ pending: 0, failed: 0 }), 30_000, 250);
  }, 180_000);
});
