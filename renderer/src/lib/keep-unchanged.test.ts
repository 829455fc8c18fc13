import { describe, expect, it } from 'vitest';
import { keepUnchanged } from './keep-unchanged.ts';

describe('keepUnchanged', () => {
  it('keeps the shown object of each unchanged message and takes the new one of each changed or new message', () => {
    type Message = { event_id: string; body: string; reactions: Record<string, string[]> };
    const a: Message = { event_id: '$a', body: 'one', reactions: {} };
    const b: Message = { event_id: '$b', body: 'two', reactions: {} };
    const fresh: Message[] = [
      { event_id: '$a', body: 'one', reactions: {} },
      { event_id: '$b', body: 'two', reactions: { '👍': ['@x:y'] } },
      { event_id: '$c', body: 'three', reactions: {} },
    ];
    const merged = keepUnchanged([a, b], fresh);
    expect(merged[0]).toBe(a);
    expect(merged[1]).toBe(fresh[1]);
    expect(merged[2]).toBe(fresh[2]);
    expect(merged).toEqual(fresh);
    expect(keepUnchanged([], fresh)).toEqual(fresh);
  });
});
