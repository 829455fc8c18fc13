import { describe, expect, it } from 'vitest';
import { HttpError } from '../errors.ts';
import { fetchedEventFailure, fetchedEventId, UncheckedRetries } from './fetched-event-failure.ts';

describe('fetchedEventFailure', () => {
  it('a 4xx is a refusal, a 429 a quota wait, keys not readable (503) tried again for a while, a failure of ours for as long as it lasts', () => {
    expect(fetchedEventFailure(new HttpError(403, 'bad_event_signature', 'no'))).toEqual({ kind: 'refused', message: 'no' });
    expect(fetchedEventFailure(new HttpError(429, 'quota_exceeded', 'full', { 'retry-after': '120' }))).toEqual({ kind: 'quota', waitMs: 120_000, message: 'full' });
    expect(fetchedEventFailure(new HttpError(503, 'keys_unavailable', 'unreadable', { 'retry-after': '7' }))).toEqual({ kind: 'unchecked', waitMs: 7_000, message: 'unreadable' });
    // A Retry-After out of bounds or missing: at most 10 minutes, 30 s by default.
    expect(fetchedEventFailure(new HttpError(503, 'keys_unavailable', 'x', { 'retry-after': '999999' }))).toMatchObject({ kind: 'unchecked', waitMs: 600_000 });
    expect(fetchedEventFailure(new HttpError(503, 'keys_recently_fetched', 'x', { 'retry-after': '4' }))).toMatchObject({ kind: 'unchecked', waitMs: 4_000 });
    // A failure of ours (another 5xx, not an HttpError): waited out however long it lasts, never given up.
    expect(fetchedEventFailure(new HttpError(502, 'bad_gateway', 'x'))).toMatchObject({ kind: 'failure', waitMs: 30_000 });
    const busy = Object.assign(new Error('database is locked'), { name: 'SqliteError', code: 'SQLITE_BUSY' });
    expect(fetchedEventFailure(busy)).toEqual({ kind: 'failure', waitMs: 30_000, message: 'database is locked' });
    expect(fetchedEventFailure(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }))).toMatchObject({ kind: 'failure' });
    // Anything else thrown on a peer's input is no local outage: a refusal (a peer cannot hold a cursor with it).
    expect(fetchedEventFailure(new TypeError('cannot read properties of undefined'))).toMatchObject({ kind: 'refused' });
    expect(fetchedEventFailure('thrown text')).toMatchObject({ kind: 'refused' });
  });

  it('reads an event id only where a fetched event names one', () => {
    expect(fetchedEventId({ event_id: '$abc:a.test' })).toBe('$abc:a.test');
    for (const raw of [null, undefined, 'x', {}, { event_id: 5 }, { event_id: '' }, { event_id: 'x'.repeat(256) }]) expect(fetchedEventId(raw)).toBeNull();
  });
});

describe('UncheckedRetries', () => {
  it('tries an event again during its window, then gives it up once (a new meeting starts a new window)', () => {
    const retries = new UncheckedRetries(1_000);
    expect(retries.retry('h', '$a', 'o', 0)).toBe(true);
    expect(retries.retry('h', '$a', 'o', 999)).toBe(true);
    expect(retries.retry('h', '$b', 'o', 500)).toBe(true);
    expect(retries.retry('h', '$a', 'o', 1_000)).toBe(false);
    expect(retries.retry('h', '$a', 'o', 1_001)).toBe(true);
    // Taken in the meantime: forgotten, its window starts again when met again.
    retries.settled('h', '$b');
    expect(retries.retry('h', '$b', 'o', 5_000)).toBe(true);
    expect(retries.retry('h', '$b', 'o', 5_999)).toBe(true);
  });

  it("one source's flood of fresh unchecked events neither restarts nor ends another source's windows", () => {
    const retries = new UncheckedRetries(1_000);
    expect(retries.retry('honest.test', '$stuck', 'origin.test', 0)).toBe(true);
    for (let i = 0; i < 30_000; i++) retries.retry('hostile.test', `$${i}`, `o${i % 50}.test`, 10);
    expect(retries.age('honest.test', '$stuck', 500)).toBe(500);
    expect(retries.retry('honest.test', '$stuck', 'origin.test', 999)).toBe(true);
    // Its window ends when it would have: the flood did not start it again.
    expect(retries.retry('honest.test', '$stuck', 'origin.test', 1_000)).toBe(false);
  });

  it('a full source keeps every running window; an event met then gets none (tried again, age Infinity) until windows over are cleared', () => {
    const retries = new UncheckedRetries(1_000);
    expect(retries.retry('h', '$old', 'o0.test', 0)).toBe(true);
    for (let i = 0; i < 20_000; i++) retries.retry('h', `$${i}`, `o${i % 8}.test`, 1);
    // The source holds 10,000: the rest are tried again without a window (their caller bounds them).
    expect(retries.retry('h', '$19999', 'o7.test', 2)).toBe(true);
    expect(retries.age('h', '$19999', 2)).toBe(Infinity);
    expect(retries.age('h', '$old', 600)).toBe(600);
    expect(retries.retry('h', '$old', 'o0.test', 1_000)).toBe(false);
    // Windows over are cleared (at most once a minute) to make room for new ones.
    expect(retries.retry('h', '$new', 'o1.test', 61_000)).toBe(true);
    expect(retries.age('h', '$new', 61_500)).toBe(500);
  });

  it("within a source, one origin's flood fills only its share: another origin's events still get windows; its own are cleared once over", () => {
    const retries = new UncheckedRetries(1_000);
    for (let i = 0; i < 5_000; i++) retries.retry('host.test', `$m${i}`, 'flooder.test', 0);
    expect(retries.age('host.test', '$m2499', 1)).toBe(1);
    expect(retries.age('host.test', '$m2500', 1)).toBe(Infinity);
    expect(retries.retry('host.test', '$honest', 'friend.test', 1)).toBe(true);
    expect(retries.retry('host.test', '$honest', 'friend.test', 500)).toBe(true);
    expect(retries.age('host.test', '$honest', 500)).toBe(499);
    // A settled event makes room for its origin again.
    retries.settled('host.test', '$m0');
    expect(retries.retry('host.test', '$m-next', 'flooder.test', 2)).toBe(true);
    expect(retries.age('host.test', '$m-next', 2)).toBe(0);
    // Its share full of windows over (never met again): cleared when one more comes, a minute on.
    expect(retries.retry('host.test', '$m-late', 'flooder.test', 70_000)).toBe(true);
    expect(retries.age('host.test', '$m-late', 70_000)).toBe(0);
  });

  it('start() opens a window only where there is none', () => {
    const retries = new UncheckedRetries(1_000);
    retries.start('h', '$a', null, 0);
    retries.start('h', '$a', null, 900);
    expect(retries.retry('h', '$a', null, 999)).toBe(true);
    expect(retries.retry('h', '$a', null, 1_000)).toBe(false);
  });
});
