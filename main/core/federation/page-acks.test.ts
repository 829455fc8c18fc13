import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { MAX_ACK_REFUSALS, PageAcks, type AckRefusal } from './page-acks.ts';

const log = pino({ level: 'silent' });
const tick = () => new Promise((r) => setTimeout(r, 0));

/** A transport that records the cursors sent and answers when told. */
function transport() {
  const sent: number[] = [];
  const refusals: Array<readonly AckRefusal[]> = [];
  const answers: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  const send = (cursor: number, refused: readonly AckRefusal[] = []) => new Promise<void>((resolve, reject) => {
    sent.push(cursor);
    refusals.push(refused);
    answers.push({ resolve, reject });
  });
  return { sent, refusals, answers, send };
}

describe('PageAcks', () => {
  it('acknowledges only stored cursors, one at a time, coalesced while a backlog drains, at once when caught up', async () => {
    const t = transport();
    const acks = new PageAcks(t.send, 'a.test', 'pull', log, { events: 300, ms: 60_000, gapMs: 0 });
    acks.storedUpTo(100, 100, false);
    acks.storedUpTo(200, 100, false);
    expect(t.sent).toEqual([]);
    acks.storedUpTo(300, 100, false);
    expect(t.sent).toEqual([300]);
    // While that one is on the wire, more pages are stored: nothing else is sent...
    acks.storedUpTo(400, 100, false);
    acks.storedUpTo(450, 50, true);
    expect(t.sent).toEqual([300]);
    // ...until it is answered: then the highest stored cursor (caught up: at once).
    t.answers[0]!.resolve();
    await tick();
    expect(t.sent).toEqual([300, 450]);
    t.answers[1]!.resolve();
    await tick();
    expect(acks.settled).toBe(true);
  });

  it('caught up, acknowledges a trickle of pages at most once per gap, the last one too', async () => {
    const t = transport();
    const acks = new PageAcks(t.send, 'a.test', 'pull', log, { gapMs: 1_000 });
    await new Promise((r) => setTimeout(r, 1_050));
    acks.storedUpTo(1, 1, true);
    expect(t.sent).toEqual([1]);
    t.answers[0]!.resolve();
    await tick();
    for (const cursor of [2, 3, 4]) acks.storedUpTo(cursor, 1, true);
    await tick();
    expect(t.sent).toEqual([1]);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(t.sent).toEqual([1, 4]);
    t.answers[1]!.resolve();
    await tick();
    expect(acks.settled).toBe(true);
  });

  it('acknowledges full pages that no page follows once `ms` has passed since the last ack (a long poll with the same cursor is no page)', async () => {
    const t = transport();
    const acks = new PageAcks(t.send, 'a.test', 'pull', log, { events: 500, ms: 300, gapMs: 0 });
    acks.storedUpTo(100, 100, false);
    acks.storedUpTo(200, 100, false);
    await tick();
    expect(t.sent).toEqual([]);
    await new Promise((r) => setTimeout(r, 400));
    expect(t.sent).toEqual([200]);
    t.answers[0]!.resolve();
    await tick();
    expect(acks.settled).toBe(true);
    await acks.close();
  });

  it('waits longer before each retry while acknowledgements keep failing (1 s, then 2 s)', async () => {
    const t = transport();
    const acks = new PageAcks(t.send, 'a.test', 'pull', log, { gapMs: 0 });
    acks.storedUpTo(7, 3, true);
    t.answers[0]!.reject(new Error('HTTP 400'));
    await new Promise((r) => setTimeout(r, 1_100));
    expect(t.sent).toEqual([7, 7]);
    t.answers[1]!.reject(new Error('HTTP 400'));
    await new Promise((r) => setTimeout(r, 1_100));
    expect(t.sent).toEqual([7, 7]);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(t.sent).toEqual([7, 7, 7]);
    t.answers[2]!.resolve();
    await tick();
    expect(acks.settled).toBe(true);
    await acks.close();
  });

  it('sends a failed acknowledgement again', async () => {
    const t = transport();
    const acks = new PageAcks(t.send, 'a.test', 'pull', log, { gapMs: 0 });
    acks.storedUpTo(7, 3, true);
    expect(t.sent).toEqual([7]);
    t.answers[0]!.reject(new Error('connection reset'));
    await tick();
    expect(acks.settled).toBe(false);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(t.sent).toEqual([7, 7]);
    t.answers[1]!.resolve();
    await tick();
    expect(acks.settled).toBe(true);
    await acks.close();
  });

  it('carries the refusals of the pages an ack covers, keeps them for the retry of a failed one, and holds at most MAX_ACK_REFUSALS', async () => {
    const t = transport();
    const acks = new PageAcks(t.send, 'a.test', 'pull', log, { events: 300, ms: 60_000, gapMs: 0 });
    const refusal = (n: number): AckRefusal => ({ event_id: `$e${n}`, status: 403, error: 'not_member' });
    acks.storedUpTo(100, 100, false, [refusal(1)]);
    acks.storedUpTo(200, 100, false, [refusal(2)]);
    acks.storedUpTo(300, 100, false);
    expect(t.sent).toEqual([300]);
    expect(t.refusals[0]).toEqual([refusal(1), refusal(2)]);
    // Stored while that ack is on the wire: the next ack carries it, after the failed one's.
    acks.storedUpTo(350, 50, true, [refusal(3)]);
    t.answers[0]!.reject(new Error('connection reset'));
    await new Promise((r) => setTimeout(r, 1_100));
    expect(t.sent).toEqual([300, 350]);
    expect(t.refusals[1]).toEqual([refusal(1), refusal(2), refusal(3)]);
    t.answers[1]!.resolve();
    await tick();
    expect(acks.settled).toBe(true);
    // Answered: not carried again.
    acks.storedUpTo(400, 50, true);
    expect(t.refusals[2]).toEqual([]);
    t.answers[2]!.resolve();
    await tick();
    // Bounded: beyond MAX_ACK_REFUSALS they are dropped (the sender takes those as delivered).
    const many = Array.from({ length: MAX_ACK_REFUSALS + 5 }, (_, i) => refusal(100 + i));
    acks.storedUpTo(500, 100, true, many);
    expect(t.refusals[3]).toHaveLength(MAX_ACK_REFUSALS);
    t.answers[3]!.resolve();
    await tick();
    await acks.close();
  });
});
