import { describe, expect, it } from 'vitest';
import { TrustedProxies, addressKey, canonicalAddress } from './client-address.ts';

describe('TrustedProxies', () => {
  const proxies = new TrustedProxies(['127.0.0.2', '10.0.0.0/8', 'fd00::/8']);

  it('ignores X-Forwarded-For from a peer that is not a listed proxy', () => {
    expect(proxies.clientAddress('127.0.0.1', '203.0.113.9')).toBe('127.0.0.1');
    expect(new TrustedProxies().clientAddress('::ffff:127.0.0.2', '203.0.113.9')).toBe('127.0.0.2');
  });

  it('takes the right-most address that is not a trusted proxy', () => {
    expect(proxies.clientAddress('127.0.0.2', '198.51.100.1, 203.0.113.9')).toBe('203.0.113.9');
    expect(proxies.clientAddress('::ffff:127.0.0.2', '198.51.100.1, 203.0.113.9, 10.1.2.3')).toBe('203.0.113.9');
    expect(proxies.clientAddress('127.0.0.2', ['198.51.100.1', '10.0.0.1'])).toBe('198.51.100.1');
    // All hops trusted: the left-most one is the client.
    expect(proxies.clientAddress('127.0.0.2', '10.0.0.7')).toBe('10.0.0.7');
  });

  it('stops at a hop that is not an address, and refuses sloppy spellings of addresses', () => {
    expect(proxies.clientAddress('127.0.0.2', '198.51.100.1, unknown')).toBe('127.0.0.2');
    expect(proxies.clientAddress('127.0.0.2', '2130706433')).toBe('127.0.0.2');
    expect(proxies.isTrusted('0x7f000002')).toBe(false);
    expect(() => new TrustedProxies(['10.0.0.0/33'])).toThrow(/prefix/);
    expect(() => new TrustedProxies(['proxy.example'])).toThrow(/not an IP address or CIDR/);
    expect(() => new TrustedProxies(['0177.0.0.1'])).toThrow(/not an IP address/);
  });

  it('keys IPv6 clients by their /64 and IPv4-mapped addresses as IPv4', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe(addressKey('2001:db8:1:2:bbbb::2'));
    expect(addressKey('2001:db8:1:3::1')).not.toBe(addressKey('2001:db8:1:2::1'));
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(canonicalAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
  });
});
