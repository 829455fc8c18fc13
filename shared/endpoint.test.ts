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
    expect(long.ok ? '' : long.reason).toMatch(/^"(a_){50}…" is not a host name/);
    expect(normalizeEndpoint('https://friend.example:8448')).toMatchObject({ ok: true });
  });
});
