/**
 * This machine, as the address policy sees it (address-policy.ts): an address of one of our
 * interfaces. ipaddr.js calls a global one `unicast`, so it looked public: a peer's endpoint, a
 * discovery document or a link could point our requests (and their answers) at a service of this
 * machine listening on every address (a helper's review, 2026-11-30). Only our own addresses: the
 * rest of our IPv6 link (the home's router and devices) would be refused too by a check of our
 * prefixes, but so would a friend's node in the same home, a prefix an ISP renumbers, a /64 a
 * provider shares between customers (a second review): not done, written in SECURITY.md.
 */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import ipaddr from 'ipaddr.js';

/** How long the interfaces read stay (a laptop moving, a new lease: noticed within that). */
const REREAD_MS = 10_000;

export type HomeAddressCheck = (canonical: string) => boolean;

/** Whether an address (canonical spelling) is one of this machine's, read from `interfaces` (monotonic `now`). */
export function homeAddressCheck(interfaces: () => NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces, now: () => number = () => performance.now()): HomeAddressCheck {
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
    return own.has(canonical);
  };
}
