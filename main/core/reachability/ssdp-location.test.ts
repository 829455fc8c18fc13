import { describe, expect, it } from 'vitest';
import { canonicalIp, locationAllowed } from './ssdp-location.ts';

const gateways = new Set(['192.168.1.1', 'fe80::1']);
const links = ['192.168.1.20/24', '2001:db8::7/64', 'fd12:3456::7/64'];

/** One answer: its LOCATION, the address it came from, whether it is followed, and our links when not `links`. */
type Case = [location: unknown, sender: string, followed: boolean, ownLinks?: string[]];

/** Each rule, and the answers that show it. */
const rules: Array<[rule: string, cases: Case[]]> = [
  ['at the answer\'s sender, in any spelling of its address', [
    ['http://192.168.1.30:5000/rootDesc.xml', '192.168.1.30', true],
    ['http://[2001:DB8:0:0::8]:5000/d.xml', '2001:db8::8', true],
    ['http://192.168.1.30:5000/d.xml', '::ffff:192.168.1.30', true],
  ]],
  ['never at one of our own addresses or loopback, whoever answered (a forged answer from the router, to a service of ours listening on every address)', [
    ['http://192.168.1.20:7447/rootDesc.xml', '192.168.1.1', false],
    ['http://[fd12:3456::7]:7447/d.xml', 'fe80::1%eth0', false],
    ['http://[2001:db8::7]:7447/d.xml', '2001:db8::7', false],
    ['http://192.168.1.20:7447/d.xml', '::ffff:192.168.1.20', false],
    ['http://127.0.0.1:7448/', '127.0.0.1', false, ['127.0.0.1/8', ...links]],
    ['http://[::1]:7448/', 'fe80::1%eth0', false],
  ]],
  ['at a default gateway, whoever answered', [
    ['http://192.168.1.1:49000/igd.xml', '192.168.1.77', true],
  ]],
  ['from a default gateway, at another address of the home (its second LAN address, a ULA for a link-local source)', [
    ['http://192.168.2.1:5000/d.xml', '192.168.1.1', true],
    ['http://[fd12:3456::1]:5000/d.xml', 'fe80::1%eth0', true],
  ]],
  ['not at a third host: another machine of the home named by a host that is not the router, or any public address', [
    ['http://192.168.1.30:80/', '192.168.1.77', false],
    ['http://203.0.113.9/d.xml', '192.168.1.1', false],
    ['http://127.0.0.1:8080/', '192.168.1.1', false],
    ['http://169.254.169.254/latest/', '192.168.1.77', false],
    // nor, from the gateway itself, a cloud metadata service or a link-local address
    ['http://169.254.169.254/latest/', '192.168.1.1', false],
    ['http://[fd00:ec2::254]/latest/', 'fe80::1', false],
    ['http://169.254.1.1/d.xml', '192.168.1.1', false],
  ]],
  ['not a host name, another scheme, a zone id or anything but a URL', [
    ['http://router.lan:5000/d.xml', '192.168.1.1', false],
    ['ftp://192.168.1.1/d.xml', '192.168.1.1', false],
    ['file:///etc/passwd', '192.168.1.1', false],
    ['http://[fe80::1%25eth0]:5000/d.xml', 'fe80::1', false],
    [undefined, '192.168.1.1', false],
    [['http://192.168.1.1/'], '192.168.1.1', false],
    ['http://192.168.1.1/', 'not an address', false],
  ]],
  ['never from beyond our links: an answer from the internet to a public address is not followed, even at the gateway', [
    ['http://192.168.1.1:80/', '203.0.113.50', false],
    ['http://203.0.113.50:5000/d.xml', '203.0.113.50', false],
    ['http://[2001:db8:1::9]/d.xml', '2001:db8:1::9', false],
    // (a neighbour on a link: its subnet, or IPv6 link-local)
    ['http://192.168.1.1:80/', '192.168.1.5', true],
    ['http://192.168.1.1:80/', 'fe80::99%eth0', true],
    // (with no link of ours, nobody is a neighbour)
    ['http://192.168.1.1:80/', '192.168.1.5', false, []],
  ]],
];

describe('which SSDP LOCATION the gateway worker follows', () => {
  describe.each(rules)('%s', (_rule, cases) => {
    it.each(cases)('%j from %s: followed %s', (location, sender, followed, ownLinks = links) => {
      expect(locationAllowed(location, sender, gateways, ownLinks)).toBe(followed);
    });
  });

  it('spells addresses one way', () => {
    expect(canonicalIp('2001:DB8::0:1')).toBe('2001:db8::1');
    expect(canonicalIp('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(canonicalIp('host')).toBeNull();
  });
});
