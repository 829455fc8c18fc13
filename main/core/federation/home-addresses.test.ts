import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { AddressPolicy, classifyAddress, isLoopbackHost } from './address-policy.ts';
import { RouterAddresses, homeAddressCheck } from './home-addresses.ts';

const iface = (address: string, cidr: string, internal = false): NetworkInterfaceInfo =>
  (address.includes(':')
    ? { address, cidr, internal, family: 'IPv6', netmask: '', mac: '00:00:00:00:00:00', scopeid: 0 }
    : { address, cidr, internal, family: 'IPv4', netmask: '', mac: '00:00:00:00:00:00' });

/** A home node (a private IPv4, a global IPv6 /64) that also has a public IPv4 on a server's shared /24. */
const interfaces = {
  lo: [iface('127.0.0.1', '127.0.0.1/8', true), iface('::1', '::1/128', true)],
  eth0: [iface('192.168.1.20', '192.168.1.20/24'), iface('2a01:4f8:1:2::20', '2a01:4f8:1:2::20/64'), iface('fe80::20', 'fe80::20/64')],
  eth1: [iface('95.216.1.5', '95.216.1.5/24')],
};

describe('this machine, as the address policy sees it', () => {
  it('our own addresses, in any spelling; not our links\' neighbours (a friend\'s node in the same home, a server\'s neighbours)', () => {
    const isHome = homeAddressCheck(() => interfaces);
    for (const ours of ['95.216.1.5', '2a01:4f8:1:2::20', '192.168.1.20']) expect(isHome(ours), ours).toBe(true);
    for (const theirs of ['95.216.1.6', '2a01:4f8:1:2::1', '2a01:4f8:1:2:a:b:c:d', '2a01:4f8:1:3::1', '198.51.100.7', '2a01:4f8::1']) expect(isHome(theirs), theirs).toBe(false);
  });

  it('the public addresses our router said it has count as ours, in any spelling: the latest four (an ISP that renumbers)', () => {
    const router = new RouterAddresses();
    const isHome = homeAddressCheck(() => interfaces, () => 0, router);
    expect(isHome('198.51.7.1')).toBe(false);
    router.note('198.51.7.1');
    router.note('not an address');
    expect(isHome('198.51.7.1')).toBe(true);
    // (A mapped IPv4 spelling is the same address.)
    router.note('::ffff:203.0.114.9');
    expect(isHome('203.0.114.9')).toBe(true);
    for (const next of ['5.5.5.1', '5.5.5.2', '5.5.5.3']) router.note(next);
    expect(isHome('198.51.7.1')).toBe(false);
    for (const kept of ['203.0.114.9', '5.5.5.1', '5.5.5.2', '5.5.5.3']) expect(isHome(kept), kept).toBe(true);
    // Noted again, an address is the latest: it stays when another comes.
    router.note('203.0.114.9');
    router.note('5.5.5.4');
    expect(isHome('203.0.114.9')).toBe(true);
    expect(isHome('5.5.5.1')).toBe(false);
    // The policy judges it as a private address: a peer's word and a discovery are refused, in words that say why.
    const policy = new AddressPolicy({ insecureHttp: false, allowPrivateAddresses: false, isHomeAddress: isHome });
    expect(policy.refusal('5.5.5.4', { vouch: 'none', pinned: false })).toContain('its router');
    expect(policy.refusal('5.5.5.4', { vouch: 'owner', pinned: false, addresses: new Set(['5.5.5.4']) })).toBeNull();
    expect(policy.refusal('5.5.5.9', { vouch: 'none', pinned: false })).toBeNull();
  });

  it("renewals' addresses are kept apart: however many a renewal names, a mapping's stay", () => {
    const router = new RouterAddresses();
    const isHome = homeAddressCheck(() => interfaces, () => 0, router);
    router.note('198.51.7.1', 'mapping');
    for (let i = 1; i <= 10; i++) router.note(`6.6.6.${i}`, 'renewal');
    expect(isHome('198.51.7.1')).toBe(true);
    for (const kept of ['6.6.6.7', '6.6.6.8', '6.6.6.9', '6.6.6.10']) expect(isHome(kept), kept).toBe(true);
    expect(isHome('6.6.6.6')).toBe(false);
  });

  it('a platform that cannot list its interfaces: nothing is judged ours, and connections go on', () => {
    const isHome = homeAddressCheck(() => {
      throw new Error('uv_interface_addresses failed');
    });
    expect(isHome('95.216.1.5')).toBe(false);
  });

  it('reads the interfaces again after 10 s: a new network is noticed', () => {
    let now = 0;
    let current: typeof interfaces | { eth0: NetworkInterfaceInfo[] } = interfaces;
    const isHome = homeAddressCheck(() => current, () => now);
    expect(isHome('2a01:4f8:1:2::20')).toBe(true);
    current = { eth0: [iface('2a01:4f8:9:9::20', '2a01:4f8:9:9::20/64')] };
    now = 9_999;
    expect(isHome('2a01:4f8:9:9::20')).toBe(false);
    now = 10_000;
    expect(isHome('2a01:4f8:9:9::20')).toBe(true);
    expect(isHome('2a01:4f8:1:2::20')).toBe(false);
  });

  it('the policy judges them as private: refused to a peer\'s word and as another endpoint; the owner\'s vouch and a LAN setup allow them', async () => {
    const isHomeAddress = homeAddressCheck(() => interfaces);
    const policy = new AddressPolicy({ insecureHttp: false, allowPrivateAddresses: false, isHomeAddress });
    // (A peer's endpoint, or a discovery's, naming this machine by its global address.)
    expect(policy.refusal('2a01:4f8:1:2::20', { vouch: 'peering', pinned: false })).toContain('this machine\'s');
    expect(policy.refusal('95.216.1.5', { vouch: 'none', pinned: false })).toContain('this machine\'s');
    expect(policy.alternateRefusal('2a01:4f8:1:2::20')).not.toBeNull();
    // Other public addresses, our links' neighbours included, as before.
    expect(policy.refusal('95.216.1.6', { vouch: 'none', pinned: false })).toBeNull();
    expect(policy.refusal('2a01:4f8:1:2::7', { vouch: 'peering', pinned: false })).toBeNull();
    // The owner vouching for this machine's address (a second node on it), as for a private address.
    expect(await policy.vouchableAddresses('[2a01:4f8:1:2::20]')).toEqual(['2a01:4f8:1:2::20']);
    expect(policy.refusal('2a01:4f8:1:2::20', { vouch: 'owner', pinned: false, addresses: new Set(['2a01:4f8:1:2::20']) })).toBeNull();
    expect(new AddressPolicy({ insecureHttp: false, allowPrivateAddresses: true, isHomeAddress }).refusal('2a01:4f8:1:2::20', { vouch: 'none', pinned: false })).toBeNull();
  });

  it('IPv4-compatible IPv6 (::/96) is no public address, and GCP\'s IPv6 metadata service is a metadata address', () => {
    expect(classifyAddress('::7f00:1').class).toBe('forbidden');
    expect(classifyAddress('::a9fe:a9fe').class).toBe('forbidden');
    expect(classifyAddress('fd20:ce::254').class).toBe('metadata');
    expect(classifyAddress('::ffff:127.0.0.1').class).toBe('loopback');
    expect(classifyAddress('2a01:4f8::1').class).not.toBe('forbidden');
  });
});

describe('a listen address on loopback only, in any spelling', () => {
  it('is loopback: no port mapping is asked for it', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '0:0:0:0:0:0:0:1', '[0:0:0:0:0:0:0:1]', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST', 'localhost.', 'ip6-localhost', 'node.localhost']) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of ['0.0.0.0', '::', '[::]', '10.0.0.2', '192.168.1.5', 'fe80::1', 'example.test', 'localhost.example']) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });
});
