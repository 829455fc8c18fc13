/**
 * Who is on the other end of a request (issue #14, item 13), decided once at the edge:
 *
 * - the socket's address, unless that address is a trusted reverse proxy (NodeConfig
 *   `trustedProxies`: addresses or CIDRs);
 * - behind trusted proxies, the right-most address of X-Forwarded-For that is not itself a
 *   trusted proxy (entries left of it were written by the client and prove nothing).
 *
 * A peer that is not a listed proxy cannot choose its address by sending the header.
 * Addresses are compared in a canonical form (IPv4-mapped IPv6 becomes IPv4), and
 * `addressKey` groups an IPv6 client by its /64, the block one home connection gets: keying
 * by the full address would give a single host 2^64 separate allowances.
 */
import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import type ipaddrModule from 'ipaddr.js';

const ipaddr = createRequire(import.meta.url)('ipaddr.js') as typeof ipaddrModule;
type Address = ipaddrModule.IPv4 | ipaddrModule.IPv6;

/** Parses a strictly written address (no octal, hex or shortened IPv4); null otherwise. */
function parseStrict(text: string): Address | null {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (isIP(bare) === 0) return null;
  return ipaddr.process(bare);
}

/** The canonical text of an address ("::ffff:10.0.0.1" → "10.0.0.1"); the input if it is not one. */
export function canonicalAddress(text: string): string {
  return parseStrict(text)?.toString() ?? text;
}

/** The key per-address limits count under: the address, or the /64 of an IPv6 address. */
export function addressKey(text: string): string {
  const address = parseStrict(text);
  if (!address) return text;
  if (address.kind() === 'ipv4') return address.toString();
  const parts = (address as ipaddrModule.IPv6).parts.slice(0, 4);
  return `${parts.map((p) => p.toString(16)).join(':')}::/64`;
}

/** Checks a configured proxy list; throws one clear line for the first entry that is not an address or CIDR. */
export function parseTrustedProxies(entries: readonly string[]): Array<[Address, number]> {
  return entries.map((raw) => {
    const entry = raw.trim();
    const [base, bits, extra] = entry.split('/');
    const address = base === undefined ? null : parseStrict(base);
    if (!address || extra !== undefined || (bits !== undefined && !/^[0-9]{1,3}$/.test(bits))) {
      throw new Error(`trusted proxy "${raw}" is not an IP address or CIDR (for example 10.0.0.0/8 or 127.0.0.1)`);
    }
    const max = address.kind() === 'ipv4' ? 32 : 128;
    const prefix = bits === undefined ? max : Number(bits);
    if (prefix > max) throw new Error(`trusted proxy "${raw}" has a prefix longer than ${max} bits`);
    return [address, prefix];
  });
}

export class TrustedProxies {
  private readonly ranges: Array<[Address, number]>;

  constructor(entries: readonly string[] = []) {
    this.ranges = parseTrustedProxies(entries);
  }

  get empty(): boolean {
    return this.ranges.length === 0;
  }

  isTrusted(text: string): boolean {
    if (this.ranges.length === 0) return false;
    const address = parseStrict(text);
    if (!address) return false;
    return this.ranges.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));
  }

  /**
   * The client's address for a request that arrived from `remote` with these X-Forwarded-For
   * header value(s). Only consulted when `remote` is trusted; walks right to left past trusted
   * proxies; an entry that is not an address stops the walk at the hop that wrote it.
   */
  clientAddress(remote: string, forwardedFor: string | string[] | undefined): string {
    let current = canonicalAddress(remote);
    if (!this.isTrusted(current) || forwardedFor === undefined) return current;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',').map((s) => s.trim()).filter(Boolean);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parseStrict(hops[i]!);
      if (!hop) return current;
      current = hop.toString();
      if (!this.isTrusted(current)) return current;
    }
    return current;
  }
}
