import { describe, expect, it } from 'vitest';
import { refetchGate } from './refetch-gate.ts';

/** A clock and timers the test moves by hand. */
function manualTime() {
  let t = 1_000;
  const timers: Array<{ at: number; run: () => void }> = [];
  return {
    now: () => t,
    later: (run: () => void, ms: number) => timers.push({ at: t + ms, run }),
    advance(ms: number) {
      const end = t + ms;
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const next = timers[0];
        if (!next || next.at > end) break;
        timers.shift();
        t = next.at;
        next.run();
      }
      t = end;
    },
  };
}

describe('refetchGate', () => {
  it('refetches the first notification at once, then at most once per gap during a burst, with every kind', () => {
    const time = manualTime();
    const refetches: Array<{ at: number; kinds: string[] }> = [];
    const notify = refetchGate<string>((kinds) => refetches.push({ at: time.now(), kinds: kinds.sort() }), { gapMs: 100, now: time.now, later: time.later });
    notify('room');
    notify('status');
    time.advance(0);
    expect(refetches).toEqual([{ at: 1_000, kinds: ['room', 'status'] }]);
    // A burst: a notification every 5 ms for 300 ms gives one refetch per 100 ms, not 60.
    for (let i = 0; i < 60; i++) {
      notify(i % 10 === 0 ? 'invites' : 'room');
      time.advance(5);
    }
    time.advance(200);
    expect(refetches.map((r) => r.at)).toEqual([1_000, 1_100, 1_200, 1_300]);
    expect(refetches.slice(1).every((r) => r.kinds.includes('room'))).toBe(true);
    expect(refetches.some((r) => r.kinds.includes('invites'))).toBe(true);
    // After a quiet moment the next one is at once again.
    time.advance(1_000);
    notify('room');
    time.advance(0);
    expect(refetches.at(-1)).toEqual({ at: time.now(), kinds: ['room'] });
  });
});
