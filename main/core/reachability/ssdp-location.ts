/**
 * Which SSDP answers' LOCATION the gateway worker follows (gateway-worker.ts discoverGateways): a
 * pure function of the answer, its source and our default gateways, in a module of its own so
 * that it is tested without the worker's thread.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { METADATA_ADDRESSES } from '../federation/metadata-addresses.ts';

/** The home's own address ranges: where a router names another of its addresses (not link-local: a URL cannot name an IPv6 one without a zone, and IPv4's holds cloud metadata services). */
const HOME_RANGES: ReadonlySet<string> = new Set(['private', 'uniqueLocal']);

/** One of our links: an interface's address and prefix length (os.networkInterfaces' `cidr`). */
export type OwnLink = string;

/**
 * Whether an SSDP answer's `location` may be followed. Its sender (the answer's source) must be on
 * one of our `links` (inside an interface's subnet, or IPv6 link-local): the sockets listen on
 * every address, public ones too, and a router is a neighbour, so an answer from beyond (the
 * internet, to a public address's port 1900) is never followed. Then `location` must be an
 * http(s) URL at an IP address that is the sender's, or one of our default `gateways` (where we
 * would ask anyway), or, when the answer comes from a default gateway, an address of the home's
 * ranges (a router whose answer leaves from one of its addresses while its description names
 * another: a second LAN address, a ULA against a link-local source). A host name is not followed
 * (it could resolve anywhere, and again differently at the fetch). A datagram's source can be
 * forged on the link, so this keeps the node's requests at the router and at whoever answered on
 * the link, not at a third host; and never at one of our own addresses (a link's address) or
 * loopback, whoever answered: a forged answer "from the router" could otherwise send our requests
 * to a service of this machine listening on every address.
 */
export function locationAllowed(location: unknown, sender: string, gateways: ReadonlySet<string>, links: readonly OwnLink[]): boolean {
  if (typeof location !== 'string' || !URL.canParse(location)) return false;
  const url = new URL(location);
  if (!['http:', 'https:'].includes(url.protocol)) return false;
  const host = canonicalIp(url.hostname.replace(/^\[|\]$/g, ''));
  const from = canonicalIp(sender.replace(/%.*$/, ''));
  if (host === null || from === null || !onLink(from, links)) return false;
  if (ipaddr.process(host).range() === 'loopback' || ownAddresses(links).has(host)) return false;
  if (host === from || gateways.has(host)) return true;
  return gateways.has(from) && HOME_RANGES.has(ipaddr.process(host).range()) && !METADATA_ADDRESSES.has(host);
}

/** An IP address in one spelling (IPv6 shortened and lower case, an IPv4-mapped one as IPv4); null for anything else. */
export function canonicalIp(address: string): string | null {
  if (isIP(address) === 0) return null;
  try {
    return ipaddr.process(address).toString();
  } catch {
    return null;
  }
}

/** Our own addresses: each link's (canonicalIp's spelling). */
function ownAddresses(links: readonly OwnLink[]): Set<string> {
  return new Set(links.flatMap((link) => {
    const ip = canonicalIp(link.split('/')[0] ?? '');
    return ip === null ? [] : [ip];
  }));
}

/** Whether `address` (canonicalIp's spelling) is inside one of `links`' subnets, or IPv6 link-local. */
function onLink(address: string, links: readonly OwnLink[]): boolean {
  const ip = ipaddr.process(address);
  if (ip.kind() === 'ipv6' && ip.range() === 'linkLocal') return true;
  return links.some((link) => {
    try {
      const [network, bits] = ipaddr.parseCIDR(link);
      return network.kind() === ip.kind() && ip.match([network, bits]);
    } catch {
      return false;
    }
  });
}
