import { describe, expect, it } from 'vitest';
import { canonicalBytes, canonicalJson } from '../crypto/canonical-json.ts';
import { envelopeSigningParts, unsignedPart, type Envelope, type UnsignedEnvelope } from './envelope.ts';

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
