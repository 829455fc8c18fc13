import { describe, expect, it } from 'vitest';
import { normalizeEndpoint } from './endpoint.ts';

describe('normalizeEndpoint', () => {
  it('shows an authority it cannot read quoted, cut and with every character outside printable ASCII written out (it is someone else\'s text: a link, a peer\'s request)', () => {
    const bidi = normalizeEndpoint('https://evil\u202Egro.elpmaxe:443');
    expect(bidi.ok).toBe(false);
    const reason = bidi.ok ? '' : bidi.reason;
    expect(reason).not.toMatch(/\u202E/);
    expect(reason).toContain('"evil\\u{202e}gro.elpmaxe:443" is not a host name');
    const long = normalizeEndpoint(`https://${'a_'.repeat(120)}`);
    expect(long.ok ? '' : long.reason).toMatch(/^"(a_){50}"… is not a host name/);
    // A quote written out too (the refusal's own quotes stay the only ones), and whole code points.
    const quoted = normalizeEndpoint('https://a"b😀c');
    expect(quoted.ok ? '' : quoted.reason).toContain('"a\\u{22}b\\u{1f600}c" is not a host name');
    const many = normalizeEndpoint(`https://${'é'.repeat(200)}`);
    // Cut after writing out: what is shown of it stays short (200 é were 1,600 characters written out).
    expect((many.ok ? '' : many.reason).split(' is not a host name')[0]!.length).toBeLessThanOrEqual(103);
    expect(normalizeEndpoint('https://friend.example:8448')).toMatchObject({ ok: true });
  });
});
