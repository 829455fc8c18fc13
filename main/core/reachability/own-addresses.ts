/**
 * The machine's own addresses as the self-test sees them: whether the node sits behind a router
 * (then it asks for a port mapping at start, mapping-keeper.ts), and a fingerprint of them, to
 * notice a network change (a laptop moving, a new DHCP lease) and test again.
 */
import { networkInterfaces } from 'node:os';
import { classifyAddress } from '../federation/address-policy.ts';

/**
 * Every address this node listens on is private (RFC 1918, CGNAT, unique-local, link-local):
 * nobody outside can reach it without the router's help. A wildcard listener counts every
 * non-loopback interface address; a node with one public address is not behind a router.
 */
export function ownAddressesArePrivate(listenHost: string, interfaces = networkInterfaces()): boolean {
  const host = listenHost.replace(/^\[|\]$/g, '');
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const addresses = wildcard ? Object.values(interfaces).flatMap((list) => (list ?? []).filter((a) => !a.internal).map((a) => a.address)) : [host];
  const classes = addresses.map((a) => classifyAddress(a.replace(/%.*$/, '')).class);
  const PRIVATE = new Set(['private', 'carrierGradeNat', 'uniqueLocal', 'linkLocal']);
  return classes.some((c) => c === 'private' || c === 'carrierGradeNat' || c === 'uniqueLocal') && classes.every((c) => PRIVATE.has(c));
}

/** The machine's addresses, to notice a network change (a laptop moving, a new DHCP lease). */
export function addressFingerprint(): string {
  const all: string[] = [];
  for (const [name, list] of Object.entries(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal) all.push(`${name} ${a.address}`);
  }
  return all.sort().join(',');
}
