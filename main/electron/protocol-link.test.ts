import { join } from 'node:path';
import { describe, expect, it } from '../../test/helpers/fixtures.ts';
import { canonicalJson } from '../core/crypto/canonical-json.ts';
import { Identity } from '../core/identity/identity.ts';
import { encodeLink } from '../core/peering/invite-link.ts';
import { tempDir } from '../../test/helpers/temp-dir.ts';
import { linkFromArgv, parseAppLink } from './protocol-link.ts';

function link(overrides: Record<string, unknown> = {}): string {
  const identity = Identity.create(join(tempDir(), 'identity.json'), 'alpha.test');
  const unsigned = {
    v: 1 as const, server_name: 'alpha.test', endpoint: 'https://alpha.test:7447', key_id: identity.keyId, public_key: identity.publicKeyHex,
    tls_fingerprint: null, token: 'A'.repeat(43), expires_at: Date.now() + 60_000, ...overrides,
  };
  return encodeLink({ ...unsigned, sig: identity.signHex(Buffer.from(canonicalJson(unsigned))) } as Parameters<typeof encodeLink>[0]).link;
}

describe('paracord:// links', () => {
  it('parses a peer invite link', () => {
    const url = link();
    expect(parseAppLink(url)).toMatchObject({ kind: 'peer-invite', link: url, server_name: 'alpha.test' });
  });

  it('refuses other schemes, damaged and altered links', () => {
    expect(parseAppLink('https://alpha.test/')).toMatchObject({ kind: 'invalid' });
    expect(parseAppLink('paracord://peer/%%%')).toMatchObject({ kind: 'invalid' });
    const url = link();
    const tampered = url.slice(0, -4) + (url.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect(parseAppLink(tampered).kind).toBe('invalid');
  });

  it("finds the link in a second instance's command line", () => {
    expect(linkFromArgv(['/usr/bin/paracord', '--hidden', 'paracord://peer/abc'])).toBe('paracord://peer/abc');
    expect(linkFromArgv(['/usr/bin/paracord'])).toBeUndefined();
  });
});
