import { describe, expect, it } from 'vitest';
import { carriedEventIds } from './carried-refusals.ts';
import { EVENTS_PATH } from '../federation/paths.ts';

describe('the event ids a mailbox notes of a carried request', () => {
  it('are a batch\'s first 1,000 at most, whatever the body holds (no more rows per deposit than a refusal can name)', () => {
    const events = Array.from({ length: 1_500 }, (_, i) => ({ event_id: `$e${i}:a.test` }));
    const ids = carriedEventIds(EVENTS_PATH, JSON.stringify({ events }));
    expect(ids.size).toBe(1_000);
    expect(ids.has('$e999:a.test')).toBe(true);
    expect(ids.has('$e1000:a.test')).toBe(false);
    expect(carriedEventIds('/_paracord/federation/v1/peering', JSON.stringify({ events }))).toEqual(new Set());
  });
});
