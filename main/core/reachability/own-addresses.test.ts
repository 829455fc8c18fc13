import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ownAddressesArePrivate } from './own-addresses.ts';

const nic = (address: string, internal = false): NetworkInterfaceInfo =>
  ({ address, internal, family: address.includes(':') ? 'IPv6' : 'IPv4', netmask: '', mac: '', cidr: null }) as NetworkInterfaceInfo;

describe('ownAddressesArePrivate (map the port at start only behind a router)', () => {
  it('a wildcard listener behind a home router: RFC 1918, CGNAT, unique-local with link-local beside them', () => {
    expect(ownAddressesArePrivate('0.0.0.0', { lo: [nic('127.0.0.1', true)], eth0: [nic('192.168.1.20'), nic('fe80::1%eth0')] })).toBe(true);
    expect(ownAddressesArePrivate('::', { wwan0: [nic('100.72.3.4')] })).toBe(true);
    expect(ownAddressesArePrivate('0.0.0.0', { eth0: [nic('fd12:3456::7')] })).toBe(true);
  });
  it('one public address, or only loopback / link-local, is not behind a router', () => {
    expect(ownAddressesArePrivate('0.0.0.0', { eth0: [nic('10.0.0.5')], eth1: [nic('203.0.114.9')] })).toBe(false);
    expect(ownAddressesArePrivate('0.0.0.0', { eth0: [nic('10.0.0.5'), nic('2a01:4f8::1')] })).toBe(false);
    expect(ownAddressesArePrivate('0.0.0.0', { lo: [nic('127.0.0.1', true)] })).toBe(false);
    expect(ownAddressesArePrivate('0.0.0.0', { eth0: [nic('fe80::1')] })).toBe(false);
  });
  it('a listener bound to one address judges that address alone', () => {
    const interfaces = { eth0: [nic('203.0.114.9')] };
    expect(ownAddressesArePrivate('10.77.0.2', interfaces)).toBe(true);
    expect(ownAddressesArePrivate('[fd00::2]', interfaces)).toBe(true);
    expect(ownAddressesArePrivate('203.0.114.9', { eth0: [nic('10.0.0.1')] })).toBe(false);
  });
});
