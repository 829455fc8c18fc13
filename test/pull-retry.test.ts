/**
 * The owner's "Retry" on an expired entry for a friend that pulls from us (a helper's audit,
 * 2026-11-28): the entry kept its old id, below the cursor the friend had acknowledged since, so
 * its pulls never served it and its next acknowledgement deleted it as if delivered. A retried
 * entry is a fresh one (a new id, after every cursor), and arrives.
 */
import { describe, expect, it } from './helpers/fixtures.ts';
import { startPeered } from './helpers/node-process.ts';
import { eventually, messages, roomWithMembers, send } from './helpers/rooms.ts';
import { pullingFrom } from './helpers/pull-friend.ts';

describe('retrying an expired entry for a friend that pulls', () => {
  it('reaches the friend, although it acknowledged later entries meanwhile', async ({ nodes }) => {
    // Entries expire after 0.0001 days (8.6 s).
    const alpha = nodes.process({ serverName: 'alpha.test', args: ['--retry-initial', '200', '--retry-max', '1000', '--outbox-max-age', '0.0001'] });
    const beta = nodes.process({ serverName: 'beta.test' });
    await startPeered([alpha, beta]);
    const roomId = await roomWithMembers(alpha, 'retry', [[beta, '@owner:beta.test']]);
    // beta receives by pull from now on.
    const { restart } = await pullingFrom(alpha, beta);
    const pulled = async () => (await messages(beta, roomId)).map((m) => m.event_id);
    const first = await send(alpha, roomId, 'first');
    await eventually(async () => expect(await pulled()).toContain(first), 60_000, 100);

    // beta is away long enough for the next one to expire.
    expect(await beta.stop()).toBe(0);
    const missed = await send(alpha, roomId, 'missed');
    const expired = await eventually(async () => {
      const entry = (await alpha.admin('GET', '/queue?state=expired')).body.entries.find((e: { event_id: string }) => e.event_id === missed);
      expect(entry).toBeDefined();
      return entry as { id: number };
    }, 60_000, 200);

    // Back, beta pulls and acknowledges a later message: its cursor is past the expired entry's id.
    await restart();
    const later = await send(alpha, roomId, 'later');
    await eventually(async () => expect(await pulled()).toContain(later), 60_000, 100);
    await eventually(async () => expect((await alpha.admin('GET', '/queue?destination=beta.test')).body.entries.filter((e: { state: string }) => e.state === 'pending')).toEqual([]), 30_000, 100);

    // The owner retries it: a fresh entry, which beta pulls.
    const retried = await alpha.admin('POST', `/queue/${expired.id}/retry`);
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    expect(retried.body.state).toBe('pending');
    expect(retried.body.id).toBeGreaterThan(expired.id);
    await eventually(async () => expect(await pulled()).toContain(missed), 30_000, 100);
    // Sent again later, it stays: a second retry of the old id finds nothing.
    expect((await alpha.admin('POST', `/queue/${expired.id}/retry`)).status).toBe(404);
  }, 180_000);
});
