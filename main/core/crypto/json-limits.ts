/**
 * A single pass over raw JSON text, before JSON.parse, that enforces the wire limits
 * (docs/PROTOCOL.md §Event ingest, step 1): nesting depth, number of elements, and integer-only numbers. Doing it on
 * the text means a hostile body never reaches the parser's recursion, and a float such as
 * `1.0` (which JSON.parse would turn into the integer 1) is still recognised as a float.
 */

export interface JsonLimits {
  maxDepth: number;
  /** Total array elements plus object members in the whole document. */
  maxElements: number;
}

export const WIRE_JSON_LIMITS: JsonLimits = { maxDepth: 32, maxElements: 10_000 };

export type JsonLimitViolation =
  | { kind: 'depth'; message: string }
  | { kind: 'elements'; message: string }
  | { kind: 'number'; message: string };

const MAX_SAFE_DIGITS = String(Number.MAX_SAFE_INTEGER).length;

/** Returns the first violation found, or null. Malformed JSON is left for JSON.parse to report. */
export function checkJsonLimits(text: string, limits: JsonLimits = WIRE_JSON_LIMITS): JsonLimitViolation | null {
  let depth = 0;
  let elements = 0;
  // Per open container: has it seen a value yet (to count elements as values, not commas).
  const len = text.length;
  let i = 0;
  while (i < len) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i = endOfString(text, i + 1);
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      if (depth > limits.maxDepth) {
        return { kind: 'depth', message: `JSON nesting deeper than ${limits.maxDepth}` };
      }
      // An element starts right after the opening bracket unless the container is empty.
      if (!isEmptyContainer(text, i + 1)) {
        elements++;
        if (elements > limits.maxElements) return tooMany(limits);
      }
      i++;
      continue;
    }
    if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
      i++;
      continue;
    }
    if (c === 0x2c /* , */) {
      elements++;
      if (elements > limits.maxElements) return tooMany(limits);
      i++;
      continue;
    }
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      let digitsOnly = true;
      i++;
      while (i < len) {
        const d = text.charCodeAt(i);
        if (d >= 0x30 && d <= 0x39) i++;
        else if (d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d) {
          digitsOnly = false;
          i++;
        } else break;
      }
      // The common case needs no closer look: up to 15 digits is always a safe integer.
      const digits = i - start - (c === 0x2d ? 1 : 0);
      if (digitsOnly && digits > 0 && digits < MAX_SAFE_DIGITS && !(c === 0x2d && text.charCodeAt(start + 1) === 0x30)) continue;
      const violation = checkIntegerLexeme(text.slice(start, i));
      if (violation) return { kind: 'number', message: violation };
      continue;
    }
    i++;
  }
  return null;
}

/**
 * The elements (array elements plus object members) and the nesting depth that checkJsonLimits
 * counts in `text`, for a sender that must keep a document it builds within a receiver's limits
 * (a batch of events: each event two levels deeper than alone).
 */
export function jsonShape(text: string): { elements: number; depth: number } {
  let elements = 0;
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i = endOfString(text, i + 1);
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      deepest = Math.max(deepest, ++depth);
      if (!isEmptyContainer(text, i + 1)) elements++;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
    else if (c === 0x2c /* , */) elements++;
    i++;
  }
  return { elements, depth: deepest };
}

/**
 * Whether an event, sent alone as a request body (`POST /event`), would pass the wire limits:
 * the envelope's ten members, its signatures and its content, one level below the envelope.
 * Events also reach a node inside answers it asked for (a pull or catch-up page, a join snapshot,
 * a reference's history), parsed without the request-body check: the ingest asks this of every
 * event, so none is stored, served or relayed that a peer receiving it alone would refuse.
 */
export function eventShapeViolation(contentJson: string, signatures: Record<string, Record<string, unknown>>, limits: JsonLimits = WIRE_JSON_LIMITS): JsonLimitViolation | null {
  const content = jsonShape(contentJson);
  if (content.depth + 1 > limits.maxDepth) return { kind: 'depth', message: `JSON nesting deeper than ${limits.maxDepth}` };
  let elements = ENVELOPE_MEMBERS + content.elements;
  for (const server in signatures) elements += 1 + Object.keys(signatures[server] ?? {}).length;
  return elements > limits.maxElements ? tooMany(limits) : null;
}

/** The members of an event envelope (docs/PROTOCOL.md "Event envelope"). */
const ENVELOPE_MEMBERS = 10;

/** The index after the closing quote of a string whose content starts at `from` (or the end). */
function endOfString(text: string, from: number): number {
  let at = from;
  for (;;) {
    const quote = text.indexOf('"', at);
    if (quote < 0) return text.length;
    // Escaped when preceded by an odd number of backslashes (inside this string).
    let backslashes = 0;
    for (let j = quote - 1; j >= from && text.charCodeAt(j) === 0x5c; j--) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    at = quote + 1;
  }
}

function isEmptyContainer(text: string, from: number): boolean {
  for (let j = from; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c === 0x7d || c === 0x5d;
  }
  return true;
}

function tooMany(limits: JsonLimits): JsonLimitViolation {
  return { kind: 'elements', message: `JSON document has more than ${limits.maxElements} elements` };
}

function checkIntegerLexeme(lexeme: string): string | null {
  const digits = lexeme.startsWith('-') ? lexeme.slice(1) : lexeme;
  if (!/^[0-9]+$/.test(digits)) return `number ${truncate(lexeme)} is not an integer (floats are not allowed)`;
  if (lexeme === '-0') return 'negative zero is not allowed';
  if (digits.length > MAX_SAFE_DIGITS || !Number.isSafeInteger(Number(lexeme))) {
    return `integer ${truncate(lexeme)} is outside ±(2^53−1)`;
  }
  return null;
}

function truncate(s: string): string {
  return s.length > 24 ? `${s.slice(0, 24)}…` : s;
}
