import { describe, expect, it } from 'vitest';
import { HttpError } from '../errors.ts';
import { MAX_EVENT_AGE_MS, RESIGN_AFTER_MS, checkHostOrdering, eventMaxAge } from './ordering.ts';

const now = 1_800_000_000_000;

function signedAgo(ms: number): string | null {
  try {
    checkHostOrdering({ depth: now, origin_ts: now - ms }, now, now, 60_000);
    return null;
  } catch (error) {
    return error instanceof HttpError ? `${error.status} ${error.code}` : String(error);
  }
}

describe('how long after it was signed a room\'s host takes an event', () => {
  it('a minute: an event signed 59 s ago is taken, one signed 61 s ago refused as too old; members sign theirs again at half that', () => {
    expect(MAX_EVENT_AGE_MS).toBe(60_000);
    expect(signedAgo(59_000)).toBeNull();
    expect(signedAgo(61_000)).toBe('409 depth_too_old');
    expect(RESIGN_AFTER_MS).toBe(30_000);
  });

  it('tests may make it shorter (PARACORD_TEST_EVENT_MAX_AGE_MS), never longer; anything else is the minute', () => {
    expect(eventMaxAge('20000')).toBe(20_000);
    expect(eventMaxAge('2000')).toBe(2_000);
    for (const setting of [undefined, '', '1999', '60000', '600000', '-5000', '20000.5', '2e4', ' 20000', 'abc']) expect(eventMaxAge(setting)).toBe(60_000);
  });
});
