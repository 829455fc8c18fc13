/**
 * Canonical JSON (docs/PROTOCOL.md §Canonical JSON): keys sorted by Unicode code point at every level, no
 * whitespace, strings escaped as JSON.stringify does, integers only within ±(2^53−1).
 * Everything that is signed goes through here, so anything that cannot be represented
 * exactly on every implementation (floats, -0, unsafe integers) is refused.
 */

export class CanonicalJsonError extends Error {
  readonly path: string;
  constructor(message: string, path: string) {
    super(`${message} at ${path}`);
    this.name = 'CanonicalJsonError';
    this.path = path;
  }
}

/**
 * Orders two strings by Unicode code point. Plain `<` compares UTF-16 code units, which puts
 * astral characters (surrogate pairs, 0xD800–0xDFFF) before U+E000–U+FFFF. At the first
 * differing unit we shift surrogates above that range, which gives code point order.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  if (unit <= 0xdfff) return unit + 0x2000; // surrogate: belongs after every BMP unit
  return unit - 0x800; // U+E000–U+FFFF: shift down to close the gap
}

/** `root`: how errors name the value itself ('$.content' for an envelope's content). */
export function canonicalJson(value: unknown, root = '$'): string {
  try {
    return serialize(value, null);
  } catch (error) {
    // The fast pass does not track where it is; a second pass names the offending path.
    if (error instanceof CanonicalJsonError) serialize(value, root);
    throw error;
  }
}

/** Any UTF-16 unit where code unit order and code point order differ (surrogates and above). */
const HIGH_UNITS = /[\uD800-\uFFFF]/;

/** Keys in code point order; the engine's own sort gives that when no key has a high unit. */
export function sortKeys(keys: string[]): string[] {
  for (const key of keys) if (HIGH_UNITS.test(key)) return keys.sort(compareCodePoints);
  // A few keys (an event's content): sorted in place, without the copy the engine's sort makes
  // (issue #17); keys already in order (every signed object from the wire) cost one pass.
  if (keys.length <= 16) {
    for (let i = 1; i < keys.length; i++) {
      const key = keys[i]!;
      let j = i - 1;
      for (; j >= 0 && keys[j]! > key; j--) keys[j + 1] = keys[j]!;
      keys[j + 1] = key;
    }
    return keys;
  }
  return keys.sort();
}

/** The canonical form of a number, or the reason it has none. */
export function canonicalNumber(value: number, path: string | null = null): string {
  if (!Number.isInteger(value)) throw new CanonicalJsonError('not an integer', path ?? '$');
  if (!Number.isSafeInteger(value)) throw new CanonicalJsonError('integer outside ±(2^53−1)', path ?? '$');
  if (Object.is(value, -0)) throw new CanonicalJsonError('negative zero', path ?? '$');
  return String(value);
}

/** `path` is null in the fast pass (no path strings built), '$…' when locating an error. */
function serialize(value: unknown, path: string | null): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return canonicalNumber(value, path);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += serialize(value[i], path === null ? null : `${path}[${i}]`);
        }
        return out + ']';
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new CanonicalJsonError('not a plain object', path ?? '$');
      }
      const record = value as Record<string, unknown>;
      let out = '{';
      let first = true;
      for (const key of sortKeys(Object.keys(record))) {
        const member = record[key];
        if (member === undefined) continue; // JSON has no undefined; like JSON.stringify, omit it
        if (!first) out += ',';
        first = false;
        out += JSON.stringify(key) + ':' + serialize(member, path === null ? null : `${path}.${key}`);
      }
      return out + '}';
    }
    default:
      throw new CanonicalJsonError(`unsupported type ${typeof value}`, path ?? '$');
  }
}

/** Canonical JSON as UTF-8 bytes: what is hashed and signed. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}
