import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.ts';
import { checkJsonLimits, eventShapeViolation } from './json-limits.ts';

const nested = (levels: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
};

/** An envelope's text as a pushed body, with `content`. */
const pushed = (content: Record<string, unknown>, signatures: Record<string, Record<string, string>>) =>
  JSON.stringify({ event_id: '$a:x.test', room_id: '!r:x.test', event_type: 'm.message', sender: '@a:x.test', origin_server: 'x.test', origin_ts: 1, depth: 1, state_key: null, content, signatures });

describe('eventShapeViolation: an event alone as a pushed body would pass the wire limits', () => {
  it('agrees with checkJsonLimits on the pushed body at the depth and element bounds', () => {
    const sig = { 'x.test': { 'ed25519:a': 'ab' } };
    const twoSigs = { 'x.test': { 'ed25519:a': 'ab', 'ed25519:b': 'cd' }, 'y.test': { 'ed25519:c': 'ef' } };
    const cases: Array<[Record<string, unknown>, Record<string, Record<string, string>>]> = [];
    for (const levels of [28, 29, 30, 31]) cases.push([{ body: 'b', deep: nested(levels) }, sig]);
    for (const n of [9_980, 9_984, 9_985, 9_986, 10_000]) {
      cases.push([{ body: 'b', list: Array.from({ length: n }, () => 0) }, sig]);
      cases.push([{ body: 'b', list: Array.from({ length: n }, () => 0) }, twoSigs]);
    }
    cases.push([{}, sig]);
    for (const [content, signatures] of cases) {
      const alone = checkJsonLimits(pushed(content, signatures));
      expect(eventShapeViolation(canonicalJson(content), signatures)?.kind ?? null).toBe(alone?.kind ?? null);
    }
    // Both sides of each bound are among the cases.
    expect(cases.some(([c, s]) => eventShapeViolation(canonicalJson(c), s)?.kind === 'depth')).toBe(true);
    expect(cases.some(([c, s]) => eventShapeViolation(canonicalJson(c), s)?.kind === 'elements')).toBe(true);
  });
});
