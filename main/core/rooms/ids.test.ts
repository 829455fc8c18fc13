import { describe, expect, it } from 'vitest';
import { EVENT_ID } from '../../../shared/identifiers.ts';
import { newEventId } from './ids.ts';

describe('event ids', () => {
  it('follow the id grammar, are unique, and sort by creation time', () => {
    const times = [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_063, 1_700_000_000_064, 1_800_000_000_000];
    const ids = times.flatMap((t) => [newEventId('a.test', t), newEventId('a.test', t)]);
    for (const id of ids) {
      expect(id).toMatch(/^\$[A-Za-z0-9_-]{24}:a\.test$/);
      expect(EVENT_ID.test(id)).toBe(true);
    }
    expect(new Set(ids).size).toBe(ids.length);
    const prefixes = ids.map((id) => id.slice(1, 9));
    expect([...prefixes].sort()).toEqual(prefixes);
    expect(prefixes[0]).toBe(prefixes[1]);
  });
});
