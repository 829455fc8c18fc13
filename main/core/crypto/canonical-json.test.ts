import { describe, expect, it } from 'vitest';
import { canonicalJson, compareCodePoints, CanonicalJsonError } from './canonical-json.ts';
import { checkJsonLimits, jsonShape } from './json-limits.ts';
import { loadWireVectors } from '../../../test/helpers/vectors.ts';

const vectors = loadWireVectors();

describe('canonical JSON (wire-v1 vectors)', () => {
  for (const [index, vector] of vectors.canonical_json.entries()) {
    it(`vector ${index}: ${vector.input.slice(0, 40)}`, () => {
      expect(canonicalJson(JSON.parse(vector.input))).toBe(vector.canonical);
      // Byte for byte, not just as JS strings.
      expect(Buffer.from(canonicalJson(JSON.parse(vector.input)), 'utf8').equals(Buffer.from(vector.canonical, 'utf8'))).toBe(true);
    });
  }

  for (const input of vectors.canonical_json_must_reject) {
    it(`rejects ${input}`, () => {
      // Either the raw-text scan (floats written as such, 1e400) or the serializer refuses it.
      const scanned = checkJsonLimits(input);
      let serializerRefused = false;
      try {
        canonicalJson(JSON.parse(input));
      } catch (error) {
        serializerRefused = error instanceof CanonicalJsonError;
      }
      expect(scanned?.kind === 'number' || serializerRefused).toBe(true);
      expect(scanned?.kind).toBe('number');
    });
  }
});

describe('canonical JSON rules', () => {
  it('orders keys by code point, not UTF-16 unit', () => {
    const keys = ['\u{1F600}', '\uE000', '\uFFFF', '\u{10000}', 'a', '\u00e9', '\uD7FF'];
    const sorted = [...keys].sort(compareCodePoints);
    const byCodePoint = [...keys].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    expect(sorted).toEqual(byCodePoint);
    // And the plain sort would have been wrong: this is what the comparator is for.
    expect([...keys].sort()).not.toEqual(byCodePoint);
  });

  it('gives the same bytes whatever order the keys came in (objects already in order are not sorted again)', () => {
    const keys = ['\u{1F600}', '\uE000', '\uFFFF', 'a', 'b', 'ab', '\u00e9', '\uD7FF', ''];
    const expected = `{${[...keys].sort(compareCodePoints).map((k) => `${JSON.stringify(k)}:1`).join(',')}}`;
    const orders = [keys, [...keys].reverse(), [...keys].sort(), [...keys].sort(compareCodePoints)];
    for (const order of orders) {
      const value = Object.fromEntries(order.map((k) => [k, 1]));
      expect(canonicalJson(value)).toBe(expected);
      expect(canonicalJson({ nested: value, z: [value] })).toBe(`{"nested":${expected},"z":[${expected}]}`);
    }
    // In UTF-16 order but not in code point order: must be sorted, not taken as it came.
    expect(canonicalJson({ '\u{1F600}': 1, '\uE000': 2 })).toBe('{"\uE000":2,"\u{1F600}":1}');
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
    // Small objects are sorted in place, larger ones by the engine: both give code point order.
    for (const size of [3, 16, 17, 40]) {
      const names = Array.from({ length: size }, (_, i) => `k${(i * 7919) % size}x${i % 3 === 0 ? 'Z' : 'a'}`);
      const shuffled = Object.fromEntries([...names].reverse().map((k, i) => [k, i]));
      const keysOut = Object.keys(JSON.parse(canonicalJson(shuffled)) as object);
      expect(keysOut).toEqual([...names].sort(compareCodePoints));
    }
  });

  it('compares shared prefixes by length', () => {
    expect(compareCodePoints('ab', 'abc')).toBeLessThan(0);
    expect(compareCodePoints('abc', 'ab')).toBeGreaterThan(0);
    expect(compareCodePoints('x\u{1F600}', 'x\uE000')).toBeGreaterThan(0);
  });

  it('refuses floats, -0, unsafe integers, NaN and non-JSON values', () => {
    expect(() => canonicalJson({ f: 1.5 })).toThrow(/not an integer/);
    expect(() => canonicalJson({ z: -0 })).toThrow(/negative zero/);
    expect(() => canonicalJson({ big: 2 ** 53 })).toThrow(/outside/);
    expect(() => canonicalJson({ small: -(2 ** 53) })).toThrow(/outside/);
    expect(() => canonicalJson({ n: Number.NaN })).toThrow();
    expect(() => canonicalJson({ i: Infinity })).toThrow();
    expect(() => canonicalJson({ b: 10n })).toThrow(/unsupported/);
    expect(() => canonicalJson({ d: new Date(0) })).toThrow(/plain object/);
    expect(() => canonicalJson({ deep: [{ x: 0.1 }] })).toThrow(/\$\.deep\[0\]\.x/);
  });

  it('accepts the integer bounds and escapes strings minimally', () => {
    expect(canonicalJson([Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 0])).toBe('[9007199254740991,-9007199254740991,0]');
    expect(canonicalJson('a/b é \u2028 \u0000 "')).toBe('"a/b é \u2028 \\u0000 \\""');
  });
});

describe('raw JSON limits', () => {
  it('counts depth', () => {
    expect(checkJsonLimits('['.repeat(32) + ']'.repeat(32))).toBeNull();
    expect(checkJsonLimits('['.repeat(33) + ']'.repeat(33))?.kind).toBe('depth');
    // Brackets inside strings do not count.
    expect(checkJsonLimits(JSON.stringify({ s: '['.repeat(100) }))).toBeNull();
  });

  it('counts elements across the whole document', () => {
    expect(checkJsonLimits(JSON.stringify(new Array(10_000).fill(0)))).toBeNull();
    expect(checkJsonLimits(JSON.stringify(new Array(10_001).fill(0)))?.kind).toBe('elements');
    expect(checkJsonLimits(JSON.stringify([new Array(5_000).fill(0), new Array(5_000).fill(0)]))?.kind).toBe('elements');
    expect(checkJsonLimits('{"a":[],"b":{}}')).toBeNull();
  });

  it('jsonShape measures what the element and depth limits measure (a sender keeps its batches within them)', () => {
    const documents = [
      '[]', '{}', '[0]', '{"a":[],"b":{}}', '{"a":"x,y{[","b":["\\"",",",{}],"c":{"d":{"e":[1,2,3]}}}',
      JSON.stringify({ events: Array.from({ length: 7 }, (_, i) => ({ event_id: `$${i}:a.test`, content: { body: `m, ${i} [x]`, tags: ['a', 'b'] }, signatures: { 'a.test': { k: 'ff' } } })) }),
    ];
    for (const text of documents) {
      const { elements, depth } = jsonShape(text);
      expect(checkJsonLimits(text, { maxDepth: depth, maxElements: elements }), text).toBeNull();
      if (elements > 0) expect(checkJsonLimits(text, { maxDepth: depth, maxElements: elements - 1 })?.kind, text).toBe('elements');
      expect(checkJsonLimits(text, { maxDepth: depth - 1, maxElements: elements })?.kind, text).toBe('depth');
    }
    expect(jsonShape('{"a":[],"b":{}}')).toEqual({ elements: 2, depth: 2 });
  });

  it('refuses float lexemes even when they equal an integer', () => {
    expect(checkJsonLimits('{"a":1.0}')?.kind).toBe('number');
    expect(checkJsonLimits('{"a":1e2}')?.kind).toBe('number');
    expect(checkJsonLimits('{"a":-0}')?.kind).toBe('number');
    expect(checkJsonLimits('{"a":"1.5"}')).toBeNull();
    expect(checkJsonLimits('{"a":"\\"1.5"}')).toBeNull();
    expect(checkJsonLimits('{"a":-9007199254740991}')).toBeNull();
    expect(checkJsonLimits('{"a":-9007199254740992}')?.kind).toBe('number');
    expect(checkJsonLimits('{"a":999999999999999,"b":-999999999999999}')).toBeNull();
  });

  it('finds where strings end whatever their escapes', () => {
    // A string ending in an escaped backslash, then a float: the float is seen.
    expect(checkJsonLimits(String.raw`{"a":"x\\","b":1.5}`)?.kind).toBe('number');
    // An escaped quote does not end the string; the float after the real end is seen.
    expect(checkJsonLimits(String.raw`{"a":"\"1.5\\\"","b":2.5}`)?.kind).toBe('number');
    expect(checkJsonLimits(String.raw`{"a":"\"1.5\\\"","b":2}`)).toBeNull();
    // Brackets and numbers inside strings count for nothing.
    expect(checkJsonLimits(JSON.stringify({ s: `"${'['.repeat(40)}1.5` }))).toBeNull();
    for (const value of ['a\\', '\\"', '"', '\\', '\\\\']) {
      expect(checkJsonLimits(JSON.stringify({ s: value, n: 0.5 }))?.kind).toBe('number');
    }
  });
});
