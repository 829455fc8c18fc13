/**
 * This machine and its home, as the address policy sees them (address-policy.ts): an address of
 * one of our interfaces, or an IPv6 address inside one of our links' global prefixes (a /64 is
 * one link: the home's other devices, its router). ipaddr.js calls them `unicast`, so they looked
 * public: a peer's endpoint, a discovery document or a link could point our requests (and their
 * answers) at a service of this machine or of the home behind the router's firewall (a helper's
 * review, 2026-11-30). A public IPv4 subnet counts by our own address only: on a server it is
 * shared with other customers, who may be friends.
 */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import ipaddr from 'ipaddr.js';

/** How long the interfaces read stay (a laptop moving, a new lease: noticed within that). */
const REREAD_MS = 10_000;

export type HomeAddressCheck = (canonical: string) => boolean;

/** Whether an address (canonical spelling) is ours or on one of our IPv6 links, read from `interfaces`. */
export function homeAddressCheck(interfaces: () => NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces, now: () => number = Date.now): HomeAddressCheck {
  let readAt = -Infinity;
  let own = new Set<string>();
  let prefixes: Array<[ipaddr.IPv6, number]> = [];
  const read = () => {
    own = new Set();
    prefixes = [];
    for (const info of Object.values(interfaces()).flatMap((list) => list ?? [])) {
      if (info.internal) continue;
      let ip: ipaddr.IPv4 | ipaddr.IPv6;
      try {
        ip = ipaddr.process(info.address.replace(/%.*$/, ''));
      } catch {
        continue;
      }
      own.add(ip.toString());
      if (ip.kind() === 'ipv6' && ip.range() === 'unicast' && info.cidr) {
        try {
          const [network, bits] = ipaddr.parseCIDR(info.cidr.replace(/%[^/]*/, ''));
          if (network.kind() === 'ipv6') prefixes.push([network as ipaddr.IPv6, Math.max(bits, 48)]);
        } catch {
          // an interface without a usable prefix: its own address counts
        }
      }
    }
  };
  return (canonical) => {
    if (now() - readAt >= REREAD_MS) {
      read();
      readAt = now();
    }
    if (own.has(canonical)) return true;
    let ip: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      ip = ipaddr.process(canonical);
    } catch {
      return false;
    }
    return ip.kind() === 'ipv6' && prefixes.some((prefix) => (ip as ipaddr.IPv6).match(prefix));
  };
}
