import { describe, expect, it } from 'vitest';
import { canonicalIp, locationAllowed } from './ssdp-location.ts';

const gateways = new Set(['192.168.1.1', 'fe80::1']);
const links = ['192.168.1.20/24', '2001:db8::7/64', 'fd12:3456::7/64'];

describe('which SSDP LOCATION the gateway worker follows', () => {
  it('at the answer\'s sender, in any spelling of its address', () => {
    expect(locationAllowed('http://192.168.1.20:5000/rootDesc.xml', '192.168.1.20', gateways, links)).toBe(true);
    expect(locationAllowed('http://[2001:DB8:0:0::7]:5000/d.xml', '2001:db8::7', gateways, links)).toBe(true);
    expect(locationAllowed('http://192.168.1.20:5000/d.xml', '::ffff:192.168.1.20', gateways, links)).toBe(true);
  });

  it('at a default gateway, whoever answered', () => {
    expect(locationAllowed('http://192.168.1.1:49000/igd.xml', '192.168.1.77', gateways, links)).toBe(true);
  });

  it('from a default gateway, at another address of the home (its second LAN address, a ULA for a link-local source)', () => {
    expect(locationAllowed('http://192.168.2.1:5000/d.xml', '192.168.1.1', gateways, links)).toBe(true);
    expect(locationAllowed('http://[fd12:3456::1]:5000/d.xml', 'fe80::1%eth0', gateways, links)).toBe(true);
  });

  it('not at a third host: another machine of the home named by a host that is not the router, or any public address', () => {
    expect(locationAllowed('http://192.168.1.30:80/', '192.168.1.77', gateways, links)).toBe(false);
    expect(locationAllowed('http://203.0.113.9/d.xml', '192.168.1.1', gateways, links)).toBe(false);
    expect(locationAllowed('http://127.0.0.1:8080/', '192.168.1.1', gateways, links)).toBe(false);
    expect(locationAllowed('http://169.254.169.254/latest/', '192.168.1.77', gateways, links)).toBe(false);
    // nor, from the gateway itself, a cloud metadata service or a link-local address
    expect(locationAllowed('http://169.254.169.254/latest/', '192.168.1.1', gateways, links)).toBe(false);
    expect(locationAllowed('http://[fd00:ec2::254]/latest/', 'fe80::1', gateways, links)).toBe(false);
    expect(locationAllowed('http://169.254.1.1/d.xml', '192.168.1.1', gateways, links)).toBe(false);
  });

  it('not a host name, another scheme, a zone id or anything but a URL', () => {
    expect(locationAllowed('http://router.lan:5000/d.xml', '192.168.1.1', gateways, links)).toBe(false);
    expect(locationAllowed('ftp://192.168.1.1/d.xml', '192.168.1.1', gateways, links)).toBe(false);
    expect(locationAllowed('file:///etc/passwd', '192.168.1.1', gateways, links)).toBe(false);
    expect(locationAllowed('http://[fe80::1%25eth0]:5000/d.xml', 'fe80::1', gateways, links)).toBe(false);
    expect(locationAllowed(undefined, '192.168.1.1', gateways, links)).toBe(false);
    expect(locationAllowed(['http://192.168.1.1/'], '192.168.1.1', gateways, links)).toBe(false);
    expect(locationAllowed('http://192.168.1.1/', 'not an address', gateways, links)).toBe(false);
  });

  it('never from beyond our links: an answer from the internet to a public address is not followed, even at the gateway', () => {
    expect(locationAllowed('http://192.168.1.1:80/', '203.0.113.50', gateways, links)).toBe(false);
    expect(locationAllowed('http://203.0.113.50:5000/d.xml', '203.0.113.50', gateways, links)).toBe(false);
    expect(locationAllowed('http://[2001:db8:1::9]/d.xml', '2001:db8:1::9', gateways, links)).toBe(false);
    // (a neighbour on a link: its subnet, or IPv6 link-local)
    expect(locationAllowed('http://192.168.1.1:80/', '192.168.1.5', gateways, links)).toBe(true);
    expect(locationAllowed('http://192.168.1.1:80/', 'fe80::99%eth0', gateways, links)).toBe(true);
    expect(locationAllowed('http://192.168.1.1:80/', '192.168.1.5', gateways, [])).toBe(false);
  });

  it('spells addresses one way', () => {
    expect(canonicalIp('2001:DB8::0:1')).toBe('2001:db8::1');
    expect(canonicalIp('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(canonicalIp('host')).toBeNull();
  });
});
