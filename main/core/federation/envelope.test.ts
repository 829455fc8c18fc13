import { describe, expect, it } from 'vitest';
import { canonicalBytes, canonicalJson } from '../crypto/canonical-json.ts';
import { ENVELOPE_WIRE_ORDER, wireJson } from './wire-json.ts';
import { envelopeSchema, envelopeSigningParts, envelopeWireJson, isWellFormedEnvelope, parseEnvelope, unsignedPart, type Envelope, type UnsignedEnvelope } from './envelope.ts';

const base: UnsignedEnvelope = {
  event_id: '$e1:a.test',
  room_id: '!r:a.test',
  event_type: 'm.message',
  sender: '@u:a.test',
  origin_server: 'a.test',
  origin_ts: 1_700_000_000_000,
  depth: 1_700_000_000_001,
  state_key: null,
  content: { body: 'hi', format: 'plain' },
};

// Contents whose canonical form needs care: key order by code point, escapes, nesting.
const contents: Array<Record<string, unknown>> = [
  {},
  { body: 'quote " backslash \\ newline \n tab \t nul \u0000 emoji 😀 é', format: 'plain' },
  { '\uE000': 1, '😀': 2, a: 3, A: 4, '': 5, é: [1, { z: null, y: true }] },
  { target: '$x:b.test', key: '👍', nested: { deep: [[], {}, [0, -1, 9007199254740991]] } },
];

describe('envelope signing bytes', () => {
  it('writes the same bytes as the general canonical form, field by field', () => {
    for (const content of contents) {
      for (const stateKey of [null, '@u:a.test', 'ü']) {
        const unsigned: UnsignedEnvelope = { ...base, content, state_key: stateKey };
        const signed: Envelope = { ...unsigned, signatures: { 'a.test': { 'ed25519:k': 'ab'.repeat(64) } } };
        const expected = canonicalBytes(unsigned);
        expect(envelopeSigningParts(unsigned).bytes.equals(expected)).toBe(true);
        expect(envelopeSigningParts(signed).bytes.equals(expected)).toBe(true);
        expect(envelopeSigningParts(signed).contentJson).toBe(canonicalJson(content));
      }
    }
  });

  it('falls back to the general form for anything but the exact envelope shape', () => {
    const extra = { ...base, extra: 'field' } as unknown as UnsignedEnvelope;
    expect(envelopeSigningParts(extra).bytes.equals(canonicalBytes(extra))).toBe(true);
    const missing = { ...base } as Partial<UnsignedEnvelope>;
    delete missing.state_key;
    expect(envelopeSigningParts(missing as UnsignedEnvelope).bytes.equals(canonicalBytes(missing))).toBe(true);
    const signed = { ...base, signatures: {} } as Envelope;
    expect(envelopeSigningParts(signed).bytes.equals(canonicalBytes(unsignedPart(signed)))).toBe(true);
  });

  it('refuses what canonical JSON refuses, naming where', () => {
    expect(() => envelopeSigningParts({ ...base, depth: 1.5 })).toThrow(/not an integer at \$\.depth/);
    expect(() => envelopeSigningParts({ ...base, origin_ts: 2 ** 53 })).toThrow(/outside .* at \$\.origin_ts/);
    expect(() => envelopeSigningParts({ ...base, content: { list: [{ x: 0.5 }] } })).toThrow(/at \$\.content\.list\[0\]\.x/);
  });
});

describe('envelope wire form', () => {
  it('writes the same bytes as the general wire form, field by field, with or without the canonical content handed in', () => {
    for (const content of contents) {
      for (const stateKey of [null, '@u:a.test', 'ü']) {
        const signed: Envelope = { ...base, content, state_key: stateKey, signatures: { 'a.test': { 'ed25519:k': 'ab'.repeat(64) }, 'b.test': { 'ed25519:z': 'cd'.repeat(64) } } };
        const expected = wireJson(signed, ENVELOPE_WIRE_ORDER);
        expect(envelopeWireJson(signed)).toBe(expected);
        expect(envelopeWireJson(signed, canonicalJson(content))).toBe(expected);
        expect(envelopeWireJson(signed, envelopeSigningParts(signed).contentJson)).toBe(expected);
      }
    }
  });

  it('falls back to the general form for anything but the exact envelope shape, and refuses what canonical JSON refuses', () => {
    const extra = { ...base, signatures: {}, extra: 'field' } as unknown as Envelope;
    expect(envelopeWireJson(extra)).toBe(wireJson(extra, ENVELOPE_WIRE_ORDER));
    expect(envelopeWireJson(extra)).toContain('"extra":"field"');
    const unsigned = { ...base } as unknown as Envelope;
    expect(envelopeWireJson(unsigned)).toBe(wireJson(unsigned, ENVELOPE_WIRE_ORDER));
    expect(() => envelopeWireJson({ ...base, depth: 1.5, signatures: {} })).toThrow(/not an integer at \$\.depth/);
    expect(() => envelopeWireJson({ ...base, content: { x: 0.5 }, signatures: {} })).toThrow(/at \$\.content\.x/);
  });

  it('keeps a member named like what every object inherits as a member (JSON.parse makes `__proto__` an own key)', () => {
    const odd = JSON.parse(`{"event_id":"$e:a.test","__proto__":{"x":1},"constructor":2}`) as Record<string, unknown>;
    expect(wireJson(odd, ENVELOPE_WIRE_ORDER)).toBe('{"event_id":"$e:a.test","__proto__":{"x":1},"constructor":2}');
  });
});

describe('isWellFormedEnvelope (the fast path of parseEnvelope)', () => {
  const good: Envelope = { ...base, signatures: { 'a.test': { 'ed25519:k1': 'ab'.repeat(64) } } };
  const fromJson = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;
  // Each a replacement of one field, or a change to the object, as the network could send it.
  const bad: Array<[string, (e: Record<string, unknown>) => void]> = [
    ['extra field', (e) => (e.extra = 1)],
    ['missing field', (e) => delete e.depth],
    ['event_id without server', (e) => (e.event_id = '$abc')],
    ['event_id too long', (e) => (e.event_id = `$${'a'.repeat(128)}:${'b'.repeat(200)}.test`)],
    ['room_id a number', (e) => (e.room_id = 5)],
    ['event_type uppercase', (e) => (e.event_type = 'M.message')],
    ['event_type too long', (e) => (e.event_type = 'm'.repeat(70))],
    ['sender not a user', (e) => (e.sender = 'u:a.test')],
    ['origin_server with a bad port', (e) => (e.origin_server = 'a.test:70000')],
    ['origin_server uppercase', (e) => (e.origin_server = 'A.test')],
    ['origin_ts negative', (e) => (e.origin_ts = -1)],
    ['origin_ts a float', (e) => (e.origin_ts = 1.5)],
    ['depth unsafe', (e) => (e.depth = 2 ** 53)],
    ['depth a string', (e) => (e.depth = '5')],
    ['state_key a number', (e) => (e.state_key = 3)],
    ['state_key too long', (e) => (e.state_key = 'x'.repeat(256))],
    ['content an array', (e) => (e.content = [1])],
    ['content null', (e) => (e.content = null)],
    ['content a string', (e) => (e.content = 'x')],
    ['content with a constructor key', (e) => (e.content = { constructor: 'x', body: 'hi' })],
    ['content with a __proto__ key', (e) => (e.content = JSON.parse('{"__proto__": {"x": 1}, "body": "hi"}'))],
    ['signatures an array', (e) => (e.signatures = [])],
    ['signatures by a bad server name', (e) => (e.signatures = { 'bad server': { 'ed25519:k': 'ab'.repeat(64) } })],
    ['signature key id malformed', (e) => (e.signatures = { 'a.test': { k1: 'ab'.repeat(64) } })],
    ['signature too short', (e) => (e.signatures = { 'a.test': { 'ed25519:k': 'ab' } })],
    ['signature uppercase hex', (e) => (e.signatures = { 'a.test': { 'ed25519:k': 'AB'.repeat(64) } })],
    ['signature a number', (e) => (e.signatures = { 'a.test': { 'ed25519:k': 5 } })],
    ['signatures of a server not an object', (e) => (e.signatures = { 'a.test': 'x' })],
    // Bounded (issue #37 item 5): at most MAX_SIGNATURE_SERVERS servers, MAX_SIGNATURE_KEYS keys each.
    ['signatures of 5 servers', (e) => (e.signatures = Object.fromEntries([1, 2, 3, 4, 5].map((i) => [`s${i}.test`, { 'ed25519:k': 'ab'.repeat(64) }])))],
    ['5 signatures of one server', (e) => (e.signatures = { 'a.test': Object.fromEntries([1, 2, 3, 4, 5].map((i) => [`ed25519:k${i}`, 'ab'.repeat(64)])) })],
  ];

  it('accepts well-formed envelopes, as the schema does', () => {
    for (const content of contents) {
      const fullest = Object.fromEntries([1, 2, 3, 4].map((i) => [`s${i}.test`, Object.fromEntries([1, 2, 3, 4].map((k) => [`ed25519:k${k}`, 'ab'.repeat(64)]))]));
      for (const candidate of [good, { ...good, content }, { ...good, state_key: '@u:a.test' }, { ...good, signatures: {} }, { ...good, signatures: fullest }]) {
        const raw = fromJson(candidate);
        expect(envelopeSchema.safeParse(raw).success).toBe(true);
        expect(isWellFormedEnvelope(raw)).toBe(true);
        expect(parseEnvelope(raw)).toEqual({ success: true, data: raw });
      }
    }
  });

  it.each(bad)('never accepts what the schema refuses: %s', (_name, change) => {
    const raw = fromJson(good) as Record<string, unknown>;
    change(raw);
    const schema = envelopeSchema.safeParse(raw).success;
    // The fast path may defer to the schema (false) but never say yes where the schema says no.
    if (!schema) expect(isWellFormedEnvelope(raw)).toBe(false);
    expect(parseEnvelope(raw).success).toBe(schema);
  });

  it('refuses what is not an object at all', () => {
    for (const raw of [null, 'x', 5, [], [good]]) expect(isWellFormedEnvelope(raw)).toBe(false);
  });
});
