import { describe, expect, it } from 'vitest';
import { WireCache } from './wire-cache.ts';

describe('WireCache', () => {
  it('keeps an entry until every destination it was queued for settled it', () => {
    const cache = new WireCache();
    cache.remember('$a:x.test', '{"a":1}', 2);
    expect(cache.get('$a:x.test')?.wire).toBe('{"a":1}');
    cache.settled('$a:x.test');
    expect(cache.get('$a:x.test')?.wire).toBe('{"a":1}');
    cache.settled('$a:x.test');
    expect(cache.get('$a:x.test')).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(cache.stats).toEqual({ hits: 2, misses: 1 });
  });

  it('keeps nothing for an event queued nowhere, and forgets on demand', () => {
    const cache = new WireCache();
    cache.remember('$a:x.test', '{}', 0);
    expect(cache.size).toBe(0);
    cache.remember('$b:x.test', '{}', 1);
    cache.forget('$b:x.test');
    expect(cache.get('$b:x.test')).toBeUndefined();
    // Settling or forgetting what is not there is harmless.
    cache.settled('$c:x.test');
    cache.forget('$c:x.test');
  });

  it('drops the oldest entries beyond its entry and byte bounds', () => {
    const cache = new WireCache({ maxEntries: 3, maxBytes: 100 });
    for (const id of ['1', '2', '3', '4']) cache.remember(id, 'x'.repeat(10), 1);
    expect(cache.size).toBe(3);
    expect(cache.get('1')).toBeUndefined();
    expect(cache.get('4')).toBeDefined();
    cache.remember('big', 'y'.repeat(90), 1);
    // 10 (entry 4) + 90 = 100 fits; 2 and 3 went to make room.
    expect(cache.get('2')).toBeUndefined();
    expect(cache.get('3')).toBeUndefined();
    expect(cache.get('big')).toBeDefined();
    expect(cache.get('4')).toBeDefined();
    // Larger than the whole bound: not kept at all (and evicts nothing).
    cache.remember('huge', 'z'.repeat(101), 1);
    expect(cache.get('huge')).toBeUndefined();
    expect(cache.size).toBe(2);
  });

  it('remembering an event again replaces its entry and its byte count', () => {
    const cache = new WireCache({ maxEntries: 10, maxBytes: 30 });
    cache.remember('a', 'x'.repeat(20), 1);
    cache.remember('a', 'y'.repeat(20), 1);
    expect(cache.get('a')?.wire).toBe('y'.repeat(20));
    cache.remember('b', 'z'.repeat(10), 1);
    expect(cache.size).toBe(2);
  });
});
