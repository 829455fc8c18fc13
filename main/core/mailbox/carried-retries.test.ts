/**
 * Carried requests kept here to be handed over again (carried-retries.ts), through the real
 * parts they go through: SelfDispatch to a real Koa listener on 127.0.0.1 running the real
 * verification middleware (its clock set by the test), real SQLite and group commit, requests
 * signed by real identities whose keys a small real server serves. Only the route behind the
 * middleware is the test's: it records what it was handed and answers 200.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import { Identity } from '../identity/identity.ts';
import type { Db } from '../store/database.ts';
import type { GroupCommit } from '../store/group-commit.ts';
import type { ReplayCache } from '../federation/replay-cache.ts';
import { signRequestHeaders } from '../federation/request-signature.ts';
import type { SignedRequestState } from '../federation/middleware/verify-signed-request.ts';
import { EVENT_PATH } from '../federation/paths.ts';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { tempDir } from '../../../test/helpers/temp-dir.ts';
import { eventually } from '../../../test/helpers/rooms.ts';
import { keysServer, verifyApp, type VerifyApp } from '../../../test/helpers/verify-app.ts';
import { MAILBOX_MAX_AGE_MS } from './mailbox-store.ts';
import { SelfDispatch, type CarriedRequest, type DispatchAnswer } from './self-dispatch.ts';
import { CarriedRetries, type KeepLimits } from './carried-retries.ts';

const DAY = 24 * 3600_000;
const SELF = 'node.test';
const log = pino({ level: 'silent' });
let app: VerifyApp;
let db: Db;
let commit: GroupCommit;
let replay: ReplayCache;
let dispatcher: SelfDispatch;
/** The listener's clock (the middleware's `now`). */
let clock = Date.now();
/** What the route was handed, in order: `origin body`. */
const taken: string[] = [];
const signers = new Map<string, Identity>();

beforeAll(async () => {
  const dir = tempDir();
  for (const name of ['alice.test', 'bob.test']) signers.set(name, Identity.create(join(dir, `${name}.json`), name));
  let base: string | null = null;
  dispatcher = new SelfDispatch(() => base, () => SELF);
  app = await verifyApp(dir, [...signers.values()].map((identity) => ({ identity, keys: keysServer(identity) })), (ctx) => {
    const state = ctx.state as SignedRequestState;
    const text = state.rawBody.toString('utf8');
    // Requests that make this listener fail: on something unforeseen (a defect), or its database.
    if (text.includes('"defect"')) throw new TypeError("Cannot read properties of undefined (reading 'x')");
    if (text.includes('"disk"')) throw Object.assign(new Error('disk I/O error'), { name: 'SqliteError', code: 'SQLITE_IOERR' });
    taken.push(`${state.origin} ${text}`);
    ctx.body = { ok: true };
  }, () => ({ now: () => clock, serverName: () => SELF, isDispatched: (v) => dispatcher.isDispatched(v) }));
  ({ db, commit, replay } = app);
  base = app.url;
});

afterAll(async () => {
  await dispatcher.close();
  app.close();
});

/** A request `from` signed for us at `timestamp`, as a mailbox carries it. */
function carried(from: string, body: string, timestamp = Date.now()): CarriedRequest {
  const headers = signRequestHeaders(signers.get(from)!, 'POST', EVENT_PATH, body, timestamp, SELF);
  return { from, path: EVENT_PATH, keyId: headers['X-Paracord-Key-Id']!, timestamp: String(timestamp), signature: headers['X-Paracord-Signature']!, body };
}

/** "Not yet" for an hour: kept, not handed over while the test fills the table. */
const LATER: DispatchAnswer = { status: 429, error: 'rate_limited', notYet: 'limit', retryAfterMs: 3600_000, items: 1, taken: 0 };
/** Not checkable here (its signer's keys cannot be read): what a depositor can make happen on purpose. */
const UNCHECKABLE: DispatchAnswer = { status: 503, error: 'keys_unavailable', notYet: 'unchecked', retryAfterMs: 3600_000, items: 1, taken: 0 };

function retries(limits?: Partial<KeepLimits>): CarriedRetries {
  return new CarriedRetries({ db, log, dispatch: (r) => dispatcher.dispatch(r), durably: (write) => commit.run(write), seen: (s) => replay.seen(s), ...(limits ? { limits } : {}) });
}

const kept = () => db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM mailbox_retries').get()!.n;
/** Makes what waits due now and hands it over (a restart of the queue). */
async function dueNow(queue: CarriedRetries): Promise<void> {
  await queue.stop();
  db.prepare('UPDATE mailbox_retries SET next_at = 0').run();
  queue.start();
}

describe('carried requests kept to be handed over again', () => {
  beforeEach(() => {
    clock = Date.now();
    taken.length = 0;
  });
  afterEach(() => {
    db.prepare('DELETE FROM mailbox_retries').run();
  });

  it('a request that waited here for days is judged by its age when it was kept, not refused as stale', async () => {
    const queue = retries();
    const sixDaysOld = carried('alice.test', '{"n":"waited"}', Date.now() - 6 * DAY);
    expect(await queue.keep('carol.test', sixDaysOld, LATER)).toBe('kept');
    // Three days later it is nine days old: handed over without its kept time it is refused.
    clock = Date.now() + 3 * DAY;
    const alone = await dispatcher.dispatch(carried('alice.test', '{"n":"not kept"}', Date.now() - 6 * DAY));
    expect(alone.status).toBe(401);
    expect(alone.error).toBe('stale_timestamp');
    await dueNow(queue);
    await eventually(async () => expect(kept()).toBe(0), 10_000, 20);
    expect(taken).toContain('alice.test {"n":"waited"}');
    await queue.stop();
  });

  it('a stale request, or one taken before, is not kept (its kept time must not extend its age past its replay entry)', async () => {
    const queue = retries();
    expect(await queue.keep('carol.test', carried('alice.test', '{"n":"old"}', Date.now() - MAILBOX_MAX_AGE_MS - 120_000), null)).toBe('stale');
    expect(await queue.keep('carol.test', carried('alice.test', '{"n":"future"}', Date.now() + 3600_000), LATER)).toBe('stale');
    const once = carried('alice.test', '{"n":"once"}');
    expect((await dispatcher.dispatch(once)).status).toBe(200);
    expect(await queue.keep('carol.test', once, LATER)).toBe('taken_before');
    expect(await queue.keep('carol.test', once, null)).toBe('taken_before');
    expect(kept()).toBe(0);
    expect(taken.filter((t) => t.includes('"once"'))).toHaveLength(1);
    await queue.stop();
  });

  it('counts what each queue and each mailbox keeps (a hostile mailbox fills only its own share), frees it as it is handed over, and after a restart', async () => {
    // Small caps for the test: 3 requests (or 1,000 bytes) per queue, 5 (or 2,000 bytes) per mailbox.
    const limits = { perQueue: 3, perQueueBytes: 1_000, perMailbox: 5, perMailboxBytes: 2_000 };
    const queue = retries(limits);
    const at = Date.now();
    const request = (from: string, i: number, pad = 0) => carried(from, JSON.stringify({ n: i, pad: 'x'.repeat(pad) }), at);
    for (let i = 0; i < 3; i++) expect(await queue.keep('carol.test', request('alice.test', i), LATER)).toBe('kept');
    // One depositor's queue full, held by our limit for it: nothing is dropped, the page stays at the mailbox.
    expect(await queue.keep('carol.test', request('alice.test', 3), LATER)).toBe('full');
    // The same request kept twice is counted once, and not stored twice.
    expect(await queue.keep('carol.test', request('alice.test', 0), null)).toBe('known');
    expect(kept()).toBe(3);
    // Another depositor through carol: room for two more, then carol's share is full.
    expect(await queue.keep('carol.test', request('bob.test', 0), LATER)).toBe('kept');
    expect(await queue.keep('carol.test', request('bob.test', 1), LATER)).toBe('kept');
    expect(await queue.keep('carol.test', request('bob.test', 2), LATER)).toBe('full');
    // Through another mailbox there is room whatever carol holds.
    expect(await queue.keep('dave.test', request('alice.test', 10), LATER)).toBe('kept');
    // Bytes count too, as bytes: 260 four-byte characters (1,040 bytes; 520 UTF-16 units) are over a queue's 1,000.
    // (Through erin and frank, bob's first request cannot be checked here: a queue full of that is
    // bob's doing, and its surplus is refused, final, so that the page is not held for everyone behind it.)
    expect(await queue.keep('erin.test', carried('bob.test', JSON.stringify({ n: 19, pad: '😀'.repeat(260) }), at), UNCHECKABLE)).toBe('queue_full');
    expect(await queue.keep('erin.test', request('bob.test', 20, 900), UNCHECKABLE)).toBe('kept');
    // 200 of them (~820 bytes, ~420 units) kept; 200 more bytes do not fit.
    expect(await queue.keep('frank.test', carried('bob.test', JSON.stringify({ n: 30, pad: '😀'.repeat(200) }), at), UNCHECKABLE)).toBe('kept');
    expect(await queue.keep('frank.test', request('bob.test', 31, 200), UNCHECKABLE)).toBe('queue_full');
    expect(await queue.keep('erin.test', request('bob.test', 21, 200), UNCHECKABLE)).toBe('queue_full');
    // A restarted node reads what waits from the table (in bytes: a body of 4-byte characters, stored, counts 4 a character).
    await queue.stop();
    const again = retries(limits);
    expect(await again.keep('carol.test', request('alice.test', 5), LATER)).toBe('full');
    expect(await again.keep('frank.test', request('bob.test', 31, 200), UNCHECKABLE)).toBe('queue_full');
    // Handed over, the shares are free again.
    await dueNow(again);
    await eventually(async () => expect(kept()).toBe(0), 30_000, 50);
    expect(await again.keep('carol.test', request('alice.test', 3), LATER)).toBe('kept');
    expect(await again.keep('carol.test', request('bob.test', 2), LATER)).toBe('kept');
    await again.stop();
  });

  it('frees a request handed over by its bytes, as it was counted: the share left behind it is what it holds, not less', async () => {
    const queue = retries({ perQueueBytes: 2_000 });
    const at = Date.now();
    // 260 four-byte characters: ~1,056 bytes kept (~536 UTF-16 units), then a small one behind it.
    expect(await queue.keep('carol.test', carried('alice.test', JSON.stringify({ n: 0, pad: '😀'.repeat(260) }), at), LATER)).toBe('kept');
    expect(await queue.keep('carol.test', carried('alice.test', JSON.stringify({ n: 1, pad: 'x'.repeat(100) }), at), LATER)).toBe('kept');
    // Only the first is due: handed over, it frees its ~1,056 bytes; the second stays (~116 bytes).
    await queue.stop();
    db.prepare('UPDATE mailbox_retries SET next_at = 0 WHERE id = (SELECT MIN(id) FROM mailbox_retries)').run();
    queue.start();
    await eventually(async () => expect(kept()).toBe(1), 30_000, 50);
    // ~1,766 bytes more fit beside it (1,882 of 2,000); freed as UTF-16 units, 520 phantom bytes stayed and it did not.
    expect(await queue.keep('carol.test', carried('alice.test', JSON.stringify({ n: 2, pad: 'x'.repeat(1_750) }), at), LATER)).toBe('kept');
    await queue.stop();
  });

  it('a queue is a depositor\'s requests through one mailbox: what waits through one does not hold its mail through another', async () => {
    const queue = retries();
    // Through carol: waits an hour (as requests a hostile mailbox forged in alice's name would).
    expect(await queue.keep('carol.test', carried('alice.test', '{"n":"via carol"}'), LATER)).toBe('kept');
    expect(queue.waiting('carol.test', 'alice.test')).toBe(true);
    expect(queue.waiting('dave.test', 'alice.test')).toBe(false);
    // Through dave: due now, handed over at once.
    expect(await queue.keep('dave.test', carried('alice.test', '{"n":"via dave"}'), { status: 503, error: 'internal_error', notYet: 'failure', retryAfterMs: 1, items: 1, taken: 0 }, Date.now() - 5_000)).toBe('kept');
    await eventually(async () => expect(taken).toEqual(['alice.test {"n":"via dave"}']), 10_000, 20);
    // Its row goes once the hand-over's answer is written (after the route took it).
    await eventually(async () => expect(queue.waitingHere()).toEqual([expect.objectContaining({ from_server: 'alice.test', requests: 1, mailbox: 'carol.test' })]), 10_000, 20);
    await queue.stop();
  });

  it('the replay entry of a request kept here outlives its time while its row is kept (taken, then handed over again, it is "taken before")', async () => {
    const queue = retries();
    const old = carried('alice.test', '{"n":"kept long"}', Date.now() - 6 * DAY);
    expect(await queue.keep('carol.test', old, LATER)).toBe('kept');
    // Taken nine days after it was signed, and its row outlived the take (a crash, a lost answer):
    // its entry's time is already over.
    await commit.run(() => replay.record(old.signature, 'alice.test', Number(old.timestamp) - 3 * DAY, true));
    replay.prune(Date.now());
    expect(replay.seen(old.signature)).toBe(true);
    // Handed over again, it is taken before: its row goes, and only then its entry.
    await dueNow(queue);
    await eventually(async () => expect(kept()).toBe(0), 10_000, 20);
    replay.prune(Date.now());
    expect(replay.seen(old.signature)).toBe(false);
    await queue.stop();
  });

  it('a request that fails here on something unforeseen is tried for a while (then given up, as what cannot be checked); a failure of the disk or database is waited out', async () => {
    const queue = retries();
    const defect = carried('alice.test', '{"n":"defect"}');
    const disk = carried('alice.test', '{"n":"disk"}');
    const defectAnswer = await dispatcher.dispatch(defect);
    const diskAnswer = await dispatcher.dispatch(disk);
    expect(defectAnswer).toMatchObject({ status: 500, error: 'internal_error', notYet: 'defect' });
    expect(diskAnswer).toMatchObject({ status: 503, error: 'storage_failed', notYet: 'failure' });
    // Neither left a replay entry (not taken): both are kept, the defect with its window started.
    expect(await queue.keep('carol.test', defect, defectAnswer)).toBe('kept');
    expect(await queue.keep('dave.test', disk, diskAnswer)).toBe('kept');
    const windows = db.prepare<[], { mailbox: string; unchecked_since: number | null }>('SELECT mailbox, unchecked_since FROM mailbox_retries ORDER BY mailbox').all();
    expect(windows).toEqual([{ mailbox: 'carol.test', unchecked_since: expect.any(Number) }, { mailbox: 'dave.test', unchecked_since: null }]);
    await queue.stop();
  });

  it('hands over one request of each depositor in turn: a long backlog does not hold another depositor', async () => {
    const queue = retries();
    for (let i = 0; i < 20; i++) expect(await queue.keep('carol.test', carried('alice.test', `{"n":"alice ${i}"}`), LATER)).toBe('kept');
    expect(await queue.keep('carol.test', carried('bob.test', '{"n":"bob 0"}'), LATER)).toBe('kept');
    // The owner's view: per depositor and mailbox, how many, the oldest's last answer.
    expect(queue.waitingHere()).toEqual([
      { from_server: 'alice.test', mailbox: 'carol.test', requests: 20, last_status: 429, last_error: 'rate_limited', next_at: expect.any(Number) },
      { from_server: 'bob.test', mailbox: 'carol.test', requests: 1, last_status: 429, last_error: 'rate_limited', next_at: expect.any(Number) },
    ]);
    await dueNow(queue);
    await eventually(async () => expect(kept()).toBe(0), 10_000, 20);
    // Each depositor's order kept; bob's one request among alice's first, not after all twenty.
    expect(taken.filter((t) => t.startsWith('alice.test'))).toEqual(Array.from({ length: 20 }, (_, i) => `alice.test {"n":"alice ${i}"}`));
    expect(taken.indexOf('bob.test {"n":"bob 0"}')).toBeLessThan(3);
    expect(queue.waitingHere()).toEqual([]);
    await queue.stop();
  });
});
