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
    expect(retries.retry('$a', 0)).toBe(true);
    expect(retries.retry('$a', 999)).toBe(true);
    expect(retries.retry('$b', 500)).toBe(true);
    expect(retries.retry('$a', 1_000)).toBe(false);
    expect(retries.retry('$a', 1_001)).toBe(true);
    // Taken in the meantime: forgotten, its window starts again when met again.
    retries.settled('$b');
    expect(retries.retry('$b', 5_000)).toBe(true);
    expect(retries.retry('$b', 5_999)).toBe(true);
  });

  it('remembers a bounded number of events (the oldest forgotten first)', () => {
    const retries = new UncheckedRetries(1_000);
    for (let i = 0; i <= 10_000; i++) retries.retry(`$${i}`, 0);
    // $0 was forgotten when the 10,001st came: met again, its window starts again.
    expect(retries.retry('$0', 5_000)).toBe(true);
    expect(retries.retry('$10000', 5_000)).toBe(false);
  });

  it('start() opens a window only where there is none', () => {
    const retries = new UncheckedRetries(1_000);
    retries.start('$a', 0);
    retries.start('$a', 900);
    expect(retries.retry('$a', 999)).toBe(true);
    expect(retries.retry('$a', 1_000)).toBe(false);
  });
});
