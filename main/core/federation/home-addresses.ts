/**
 * This machine, as the address policy sees it (address-policy.ts): an address of one of our
 * interfaces. ipaddr.js calls a global one `unicast`, so it looked public: a peer's endpoint, a
 * discovery document or a link could point our requests (and their answers) at a service of this
 * machine listening on every address (a helper's review, 2026-11-30). Only our own addresses: the
 * rest of our IPv6 link (the home's router and devices) would be refused too by a check of our
 * prefixes, but so would a friend's node in the same home, a prefix an ISP renumbers, a /64 a
 * provider shares between customers (a second review): not done, written in SECURITY.md.
 *
 * The router's public address counts too (RouterAddresses, below): the address policy judges
 * both as private ones (the owner's vouch, a certificate-pinned literal, allowPrivateAddresses).
 */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import ipaddr from 'ipaddr.js';

/** How long the interfaces read stay (a laptop moving, a new lease: noticed within that). */
const REREAD_MS = 10_000;

export type HomeAddressCheck = (canonical: string) => boolean;

/** How many of the router's public addresses are remembered (an ISP that renumbers: the latest ones). */
const ROUTER_ADDRESSES_KEPT = 4;

/**
 * The public addresses our home router said it has (a port mapping's external address, UPnP's
 * GetExternalIPAddress or NAT-PMP's answer): from inside the home, a connection there reaches the
 * router itself, or, on a port it forwards, a device of the home (hairpin NAT). A peer's endpoint
 * or discovery naming it could point our requests at the router's own services as a LAN address
 * would: it counts as one of ours. Kept in memory only (a mapping is asked again at each start),
 * the latest ROUTER_ADDRESSES_KEPT of mappings and, apart, of renewals: a renewal can come every
 * 30 s (a lease the router shortens), so addresses its answers name (a device forging NAT-PMP
 * answers can) never push out what a mapping learnt.
 */
export class RouterAddresses {
  private readonly learnt = { mapping: [] as string[], renewal: [] as string[] };

  /** The router said this is its public address, answering a mapping or a renewal (any spelling; not an address: ignored). */
  note(address: string, by: 'mapping' | 'renewal' = 'mapping'): void {
    let canonical: string;
    try {
      canonical = ipaddr.process(address).toString();
    } catch {
      return;
    }
    const addresses = this.learnt[by];
    const at = addresses.indexOf(canonical);
    if (at >= 0) addresses.splice(at, 1);
    addresses.push(canonical);
    if (addresses.length > ROUTER_ADDRESSES_KEPT) addresses.shift();
  }

  has(canonical: string): boolean {
    return this.learnt.mapping.includes(canonical) || this.learnt.renewal.includes(canonical);
  }
}

/**
 * Whether an address (canonical spelling) is one of this machine's, read from `interfaces`
 * (monotonic `now`), or one its router said is its public address (`router`).
 */
export function homeAddressCheck(
  interfaces: () => NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces,
  now: () => number = () => performance.now(),
  router?: RouterAddresses,
): HomeAddressCheck {
  let readAt = -Infinity;
  let own = new Set<string>();
  const read = () => {
    const found = new Set<string>();
    for (const info of Object.values(interfaces()).flatMap((list) => list ?? [])) {
      if (info.internal) continue;
      try {
        found.add(ipaddr.process(info.address.replace(/%.*$/, '')).toString());
      } catch {
        // not an address ipaddr.js reads: nothing to compare with
      }
    }
    own = found;
  };
  return (canonical) => {
    if (now() - readAt >= REREAD_MS) {
      readAt = now();
      try {
        read();
      } catch {
        // the platform cannot list its interfaces: the addresses read before stand
      }
    }
    return own.has(canonical) || (router?.has(canonical) ?? false);
  };
}
