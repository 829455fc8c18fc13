import { describe, expect, it } from 'vitest';
import { ownValue } from './own-value.ts';

describe('ownValue', () => {
  const table: Readonly<Record<string, string>> = Object.freeze({ event: '/event', join: '/join' });
  it('finds the table\'s own entries', () => {
    expect(ownValue(table, 'event')).toBe('/event');
    expect(ownValue(table, 'join')).toBe('/join');
  });
  it('finds nothing any object inherits, whatever the key', () => {
    for (const key of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', '__defineGetter__', 'isPrototypeOf', 'toLocaleString']) {
      expect(ownValue(table, key), key).toBeUndefined();
      // What a plain lookup finds instead (the reason for this helper).
      expect((table as Record<string, unknown>)[key], key).toBeDefined();
    }
    expect(ownValue(table, '')).toBeUndefined();
  });
});
