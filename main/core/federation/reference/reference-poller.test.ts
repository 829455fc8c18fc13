import { describe, expect, it } from 'vitest';
import { DEFAULT_REFERENCE_POLL_INTERVAL_MS, fruitlessWaitMs } from './reference-poller.ts';

describe('the wait after polls that brought only events refused here', () => {
  it('doubles each round in a room the peer hosts, up to 10 minutes', () => {
    const waits = [1, 2, 3, 7, 20].map((rounds) => fruitlessWaitMs(rounds, DEFAULT_REFERENCE_POLL_INTERVAL_MS, false));
    expect(waits).toEqual([10_000, 20_000, 40_000, 600_000, 600_000]);
  });

  it('stays at most 20 s in a room we host, under the minute after which an honest message polled there is refused as too old', () => {
    const waits = [1, 2, 3, 7, 20].map((rounds) => fruitlessWaitMs(rounds, DEFAULT_REFERENCE_POLL_INTERVAL_MS, true));
    expect(waits).toEqual([10_000, 20_000, 20_000, 20_000, 20_000]);
    expect(fruitlessWaitMs(1, 150, true)).toBe(300);
  });
});
