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

/**
 * Whether an SSDP answer's `location` may be followed: an http(s) URL at an IP address that is
 * `sender`'s (the answer's source), or one of our default `gateways` (where we would ask anyway),
 * or, when the answer comes from a default gateway, an address of the home's ranges (a router
 * whose answer leaves from one of its addresses while its description names another: a second
 * LAN address, a ULA against a link-local source). A host name is not followed (it could resolve
 * anywhere, and again differently at the fetch). A datagram's source can be forged on the link,
 * so this keeps the node's requests at the router and at whoever answered, not at a third host.
 */
export function locationAllowed(location: unknown, sender: string, gateways: ReadonlySet<string>): boolean {
  if (typeof location !== 'string' || !URL.canParse(location)) return false;
  const url = new URL(location);
  if (!['http:', 'https:'].includes(url.protocol)) return false;
  const host = canonicalIp(url.hostname.replace(/^\[|\]$/g, ''));
  const from = canonicalIp(sender.replace(/%.*$/, ''));
  if (host === null || from === null) return false;
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
