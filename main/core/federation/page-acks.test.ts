import pino from 'pino';
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { StoredPullRefusals } from '../pull/pull-refusals.ts';
import { HELD_NOTE, PageAcks, isHeldNote, type AckRefusal } from './page-acks.ts';

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

  it('carries the refusals of the pages an ack covers, kept on disk until an ack carrying them is answered', async ({ tempDb }) => {
    const t = transport();
    const store = new StoredPullRefusals(tempDb.db);
    const acks = new PageAcks(t.send, 'a.test', 'pull', log, { events: 300, ms: 60_000, gapMs: 0, refusals: store });
    const refusal = (n: number): AckRefusal => ({ event_id: `$e${n}`, status: 403, error: 'not_member' });
    const stored = (cursor: number, events: number, caughtUp: boolean, refused: AckRefusal[] = []) => {
      store.keep('a.test', cursor, refused);
      acks.storedUpTo(cursor, events, caughtUp);
    };
    stored(100, 100, false, [refusal(1)]);
    stored(200, 100, false, [refusal(2)]);
    stored(300, 100, false);
    expect(t.sent).toEqual([300]);
    expect(t.refusals[0]).toEqual([refusal(1), refusal(2)]);
    // Stored while that ack is on the wire: the next ack carries it, with the failed one's.
    stored(350, 50, true, [refusal(3)]);
    t.answers[0]!.reject(new Error('connection reset'));
    await new Promise((r) => setTimeout(r, 1_100));
    expect(t.sent).toEqual([300, 350]);
    expect(t.refusals[1]).toEqual([refusal(1), refusal(2), refusal(3)]);
    t.answers[1]!.resolve();
    await tick();
    expect(acks.settled).toBe(true);
    // Answered: forgotten, not carried again.
    expect(store.upTo('a.test', 1_000)).toEqual({ cursor: 1_000, refused: [] });
    stored(400, 50, true);
    expect(t.refusals[2]).toEqual([]);
    t.answers[2]!.resolve();
    await tick();
    await acks.close();
  });

  it('keeps at most its limit of refusals for one source (one that never takes an ack cannot fill the disk); another source has its own', ({ tempDb }) => {
    const store = new StoredPullRefusals(tempDb.db, { limit: 150 });
    const page = (p: number) => Array.from({ length: 100 }, (_, i): AckRefusal => ({ event_id: `$p${p}e${String(i).padStart(3, '0')}`, status: 400, error: 'invalid_event' }));
    expect(store.keep('a.test', 100, page(1))).toBe(0);
    expect(store.keep('a.test', 200, page(2))).toBe(50);
    expect(store.keep('a.test', 300, page(3))).toBe(100);
    expect(store.upTo('a.test', 300).refused).toEqual([...page(1), ...page(2).slice(0, 50)]);
    expect(store.keep('b.test', 100, page(1))).toBe(0);
    // Acknowledged, they leave room again.
    store.acknowledged('a.test', 300, []);
    expect(store.keep('a.test', 400, page(4))).toBe(0);
  });

  it('keeps the events held for review here in a room of their own: a busy quarantined source cannot crowd real refusals out', ({ tempDb }) => {
    const store = new StoredPullRefusals(tempDb.db, { limit: 150 });
    const held = (p: number) => Array.from({ length: 100 }, (_, i): AckRefusal => ({ event_id: `$h${p}e${String(i).padStart(3, '0')}`, ...HELD_NOTE }));
    expect(store.keep('a.test', 100, held(1))).toBe(0);
    expect(store.keep('a.test', 200, held(2))).toBe(50);
    const refused: AckRefusal = { event_id: '$refused', status: 403, error: 'not_member' };
    // The held room is full; a refusal still has all of its own.
    expect(store.keep('a.test', 300, [refused, ...held(3)])).toBe(100);
    const kept = store.upTo('a.test', 300).refused;
    expect(kept.filter((r) => !isHeldNote(r))).toEqual([refused]);
    expect(kept.filter(isHeldNote)).toHaveLength(150);
  });

  it('names at most MAX_ACK_REFUSALS per ack: a lower cursor first (the pages whose refusals fit), then the rest', async ({ tempDb }) => {
    const t = transport();
    const store = new StoredPullRefusals(tempDb.db);
    const acks = new PageAcks(t.send, 'a.test', 'pull', log, { gapMs: 0, refusals: store });
    // 12 pages of 100 refused events each, stored while acks failed.
    const pages = Array.from({ length: 12 }, (_, p) => Array.from({ length: 100 }, (__, i): AckRefusal => ({ event_id: `$p${String(p).padStart(2, '0')}e${String(i).padStart(3, '0')}`, status: 400, error: 'invalid_event' })));
    for (const [p, refused] of pages.entries()) store.keep('a.test', (p + 1) * 100, refused);
    store.keep('b.test', 100, [{ event_id: '$other', status: 403, error: 'not_member' }]);
    acks.storedUpTo(1_200, 1_200, true);
    expect(t.sent).toEqual([1_000]);
    expect(t.refusals[0]).toEqual(pages.slice(0, 10).flat());
    t.answers[0]!.resolve();
    await tick();
    expect(t.sent).toEqual([1_000, 1_200]);
    expect(t.refusals[1]).toEqual(pages.slice(10).flat());
    t.answers[1]!.resolve();
    await tick();
    expect(acks.settled).toBe(true);
    // Another peer's are its own.
    expect(store.upTo('b.test', 100).refused).toEqual([{ event_id: '$other', status: 403, error: 'not_member' }]);
    await acks.close();

    // At a restart: the saved cursor's refusals, in as many acks as they need.
    for (const [p, refused] of pages.entries()) store.keep('a.test', 1_200 + (p + 1) * 100, refused);
    const u = transport();
    const again = new PageAcks(u.send, 'a.test', 'pull', log, { gapMs: 0, refusals: store });
    const resumed = again.resume(2_400);
    expect(u.sent).toEqual([2_200]);
    u.answers[0]!.resolve();
    await tick();
    expect(u.sent).toEqual([2_200, 2_400]);
    u.answers[1]!.resolve();
    await resumed;
    expect(u.refusals.map((r) => r.length)).toEqual([1_000, 200]);
    expect(again.settled).toBe(true);
    await again.close();
  });
});
