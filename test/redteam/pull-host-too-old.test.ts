/**
 * Red team 2026-11-26 (pull mode, mailboxes): a room's host that nobody can reach takes its
 * members' events by pull (or from a mailbox). The host refuses an event whose origin_ts is more
 * than 60 s old (409 depth_too_old: history is not rewritten) and a member re-issues such an event
 * when it is told so — but only a push tells it. A pulled event is acknowledged whatever the host
 * answered, so a member's message that waited for a host away longer than a minute (a laptop
 * asleep, a restart) was refused and deleted on both sides: lost, shown nowhere.
 */
import { closedPort } from '../helpers/closed-port.ts';
import { describe, expect, it } from '../helpers/fixtures.ts';
import { startPeered } from '../helpers/node-process.ts';
import { eventually, messages, roomWithMembers, send } from '../helpers/rooms.ts';

describe('red team: a host that receives by pull', () => {
  it('gets a member\'s message that waited for it longer than it takes events (a minute by default)', async ({ nodes }) => {
    // The host takes an event at most 20 s after it was signed here (the protocol's minute
    // otherwise: PARACORD_TEST_EVENT_MAX_AGE_MS, set alike on both), so the test waits 22 s, not 65.
    const env = { PARACORD_TEST_EVENT_MAX_AGE_MS: '20000' };
    const alpha = nodes.process({ serverName: 'alpha.test', env });
    const beta = nodes.process({ serverName: 'beta.test', args: ['--retry-initial', '200', '--retry-max', '2000'], env });
    await startPeered([alpha, beta]);
    const roomId = await roomWithMembers(alpha, 'away', [[beta, '@owner:beta.test']]);

    // alpha (the host) becomes a node nobody can reach: beta knows it only at a closed port.
    const status = (await alpha.admin('GET', '/status')).body;
    expect(await alpha.stop()).toBe(0);
    const closed = `http://127.0.0.1:${await closedPort()}`;
    const readded = await beta.admin('POST', '/peers', { server_name: 'alpha.test', endpoint: closed, key_id: status.key_id, public_key: status.public_key, replace: true });
    expect(readded.status, JSON.stringify(readded.body)).toBe(200);
    await alpha.start(['--public-url', closed, '--pull']);
    await send(beta, roomId, 'before');
    await eventually(async () => expect((await messages(alpha, roomId)).map((m) => m.body)).toContain('before'), 30_000);

    // alpha is away for a little longer than it takes events; beta's message waits for it.
    expect(await alpha.stop()).toBe(0);
    await send(beta, roomId, 'while away');
    await new Promise((r) => setTimeout(r, 22_000));
    await alpha.start(['--public-url', closed, '--pull']);
    try {
      await eventually(async () => expect((await messages(alpha, roomId)).map((m) => m.body)).toContain('while away'), 30_000, 250);
    } catch (error) {
      console.log(alpha.stderr.split('\n').filter((l) => /refused|too_old|pull/.test(l)).slice(-10).join('\n'));
      throw error;
    }
    await eventually(async () => expect((await messages(beta, roomId)).map((m) => m.body)).toContain('while away'), 30_000, 250);
  }, 180_000);
});
