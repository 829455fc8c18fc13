import { describe, expect, it } from 'vitest';
import { passkeysAvailable } from './passkeys.ts';

describe('passkeys are offered (issue #34)', () => {
  it('only in a secure context with WebAuthn, at a host name', () => {
    const PublicKeyCredential = function PublicKeyCredential() {};
    const at = (hostname: string, isSecureContext = true) => passkeysAvailable({ isSecureContext, PublicKeyCredential, location: { hostname } });
    expect(at('home.example')).toBe(true);
    expect(at('localhost')).toBe(true);
    expect(at('home.example', false)).toBe(false);
    expect(at('127.0.0.1')).toBe(false);
    expect(at('[::1]')).toBe(false);
    expect(passkeysAvailable({ isSecureContext: true, location: { hostname: 'home.example' } })).toBe(false);
  });
});
