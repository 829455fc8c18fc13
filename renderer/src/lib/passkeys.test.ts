import { describe, expect, it } from 'vitest';
import { passkeysAvailable, passkeysUnavailableWhy } from './passkeys.ts';

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

  it('says the true reason they cannot be used', () => {
    const PublicKeyCredential = function PublicKeyCredential() {};
    const why = (hostname: string, isSecureContext = true) => passkeysUnavailableWhy({ isSecureContext, PublicKeyCredential, location: { hostname } });
    expect(why('home.example')).toBe('');
    expect(why('127.0.0.1')).toBe('they need the server to be opened by its name, not an IP address like 127.0.0.1.');
    expect(why('192.168.1.20', false)).toBe('they need the server to be opened by its name, not an IP address like 192.168.1.20.');
    expect(why('[::1]')).toBe('they need the server to be opened by its name, not an IP address like [::1].');
    expect(why('home.example', false)).toBe('browsers allow them only over a private connection (an https:// address).');
    expect(passkeysUnavailableWhy({ isSecureContext: true, location: { hostname: 'home.example' } })).toBe('this browser does not offer them.');
    // As browsers are: no WebAuthn at all on a page that is not secure; the reason is the connection.
    expect(passkeysUnavailableWhy({ isSecureContext: false, location: { hostname: 'home.example' } })).toBe('browsers allow them only over a private connection (an https:// address).');
    expect(passkeysUnavailableWhy({ isSecureContext: false, location: { hostname: '192.168.1.20' } })).toBe('they need the server to be opened by its name, not an IP address like 192.168.1.20.');
  });
});
