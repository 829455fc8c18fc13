import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { globalIpv6Addresses, nameResolves, ownEndpoints } from './own-endpoints.ts';

const nic = (address: string, internal = false): NetworkInterfaceInfo =>
  ({ address, internal, family: address.includes(':') ? 'IPv6' : 'IPv4', netmask: '', mac: '', cidr: null, ...(address.includes(':') ? { scopeid: 0 } : {}) }) as NetworkInterfaceInfo;

const home = {
  lo: [nic('127.0.0.1', true), nic('::1', true)],
  eth0: [nic('192.168.1.20'), nic('fe80::1'), nic('fd12:3456::7'), nic('2001:db9:7447:1::2'), nic('2001:db8::9'), nic('::ffff:203.0.114.9')],
  wwan0: [nic('2A01:4F8::1')],
};

describe('where a node can be reached over IPv6 (issue #32 item 4)', () => {
  it('publishes only global IPv6 addresses: never loopback, link-local, unique-local, documentation or IPv4-mapped ones (as IPv4 never publishes a private address)', () => {
    expect(globalIpv6Addresses('::', home)).toEqual(['2001:db9:7447:1::2', '2a01:4f8::1']);
    expect(globalIpv6Addresses('[::]', home)).toEqual(['2001:db9:7447:1::2', '2a01:4f8::1']);
  });
  it('an IPv4 listener has none; a listener on one address has that one if it is global', () => {
    expect(globalIpv6Addresses('0.0.0.0', home)).toEqual([]);
    expect(globalIpv6Addresses('192.168.1.20', home)).toEqual([]);
    expect(globalIpv6Addresses('2a01:4f8::1', home)).toEqual(['2a01:4f8::1']);
    expect(globalIpv6Addresses('fd12:3456::7', home)).toEqual([]);
  });
  it('lists the federation URL first, then each global IPv6 address of the listener; an owner-given IPv6 URL stands alone', () => {
    expect(ownEndpoints({ federationUrl: 'https://home.example:7447', ownerGaveUrl: true, scheme: 'https', port: 7447, listenHost: '::', interfaces: home })).toEqual([
      'https://home.example:7447', 'https://[2001:db9:7447:1::2]:7447', 'https://[2a01:4f8::1]:7447',
    ]);
    // The default endpoint is already the first global address: listed once.
    expect(ownEndpoints({ federationUrl: 'https://[2001:db9:7447:1::2]:7447', ownerGaveUrl: false, scheme: 'https', port: 7447, listenHost: '::', interfaces: home })).toEqual([
      'https://[2001:db9:7447:1::2]:7447', 'https://[2a01:4f8::1]:7447',
    ]);
    expect(ownEndpoints({ federationUrl: 'https://[2a01:4f8::1]:443', ownerGaveUrl: true, scheme: 'https', port: 7447, listenHost: '::', interfaces: home })).toEqual(['https://[2a01:4f8::1]']);
    expect(ownEndpoints({ federationUrl: 'https://home.example', ownerGaveUrl: true, scheme: 'https', port: 7447, listenHost: '0.0.0.0', interfaces: home })).toEqual(['https://home.example']);
  });
  it('a server name that resolves keeps naming the node; one that resolves nowhere (or not in time) does not', async () => {
    expect(await nameResolves('localhost')).toBe(true);
    expect(await nameResolves('paracord-test.invalid', 2_000)).toBe(false);
  });
});
