import { describe, expect, it } from 'vitest';
import { PushPacer } from './push-pacer.ts';

describe('PushPacer', () => {
  const limit = { events: 3, windowMs: 1_000 };
  const pacer = () => new PushPacer((d) => (d === 'ref.example' ? limit : null));

  it('lets N attempts through per window, then waits until the oldest leaves it', () => {
    const p = pacer();
    for (let i = 0; i < 3; i++) {
      expect(p.delay('ref.example', 10_000 + i)).toBe(0);
      p.record('ref.example', 1, 10_000 + i);
    }
    expect(p.delay('ref.example', 10_500)).toBe(500);
    expect(p.delay('ref.example', 11_000)).toBe(0);
    // Any N+1 consecutive attempts span at least one window: a fixed window never holds more than N.
    const times: number[] = [];
    let now = 20_000;
    for (let i = 0; i < 30; i++) {
      now += p.delay('ref.example', now);
      times.push(now);
      p.record('ref.example', 1, now);
      now += 7;
    }
    for (let i = 0; i + 3 < times.length; i++) expect(times[i + 3]! - times[i]!).toBeGreaterThanOrEqual(1_000);
  });

  it('a 429 waits for Retry-After (bounded) or the next wall-clock window; unpaced destinations are untouched', () => {
    const p = pacer();
    expect(p.refused('ref.example', 2_000, 50_200)).toBe(52_200);
    expect(p.delay('ref.example', 51_000)).toBe(1_200);
    expect(p.refused('ref.example', undefined, 60_250)).toBe(61_000 + Math.ceil(1_000 / 60));
    expect(p.refused('ref.example', 86_400_000, 0)).toBe(600_000);
    expect(p.refused('node.example', undefined, 0)).toBeNull();
    p.record('node.example', 100, 0);
    expect(p.delay('node.example', 0)).toBe(0);
  });
});
