/**
 * Where this node can be reached (issue #32 item 4): its global IPv6 addresses, and the list of
 * endpoints its discovery publishes (`federation_endpoints`, docs/PROTOCOL.md "Discovery").
 * Only addresses the outbound address policy calls public (address-policy.ts classifyAddress)
 * are published: as for IPv4, a private, unique-local or link-local address never is.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { normalizeEndpoint } from '../../../shared/endpoint.ts';
import { classifyAddress } from '../federation/address-policy.ts';

/** At most this many endpoints are published (and read from a peer's discovery). */
export const MAX_FEDERATION_ENDPOINTS = 8;

const bare = (host: string) => host.replace(/^\[|\]$/g, '');

/**
 * The global IPv6 addresses a listener on `listenHost` accepts connections at: every public IPv6
 * address of the host for the dual-stack wildcard `::`, the address itself when it is one, none
 * for an IPv4 listener.
 */
export function globalIpv6Addresses(listenHost: string, interfaces = networkInterfaces()): string[] {
  const host = bare(listenHost);
  const candidates = host === '::' || host === ''
    ? Object.values(interfaces).flatMap((list) => (list ?? []).filter((a) => !a.internal && a.family === 'IPv6').map((a) => a.address))
    : isIP(host) === 6 ? [host] : [];
  const found: string[] = [];
  for (const address of candidates) {
    const classified = classifyAddress(address.replace(/%.*$/, ''));
    if (classified.class === 'public' && !classified.canonical.includes('.') && !found.includes(classified.canonical)) found.push(classified.canonical);
  }
  return found;
}

/** `scheme://[address]:port`, in the endpoint normaliser's form. */
export function ipv6Endpoint(scheme: 'http' | 'https', address: string, port: number): string {
  const checked = normalizeEndpoint(`${scheme}://[${address}]:${port}`);
  if (!checked.ok) throw new Error(checked.reason);
  return checked.endpoint;
}

/**
 * Whether a server name resolves to any address (the default endpoint `https://<name>:<port>`
 * can work); false when it does not within `timeoutMs`.
 */
export async function nameResolves(name: string, timeoutMs = 2_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([lookup(name, { all: true }).then((a) => a.length > 0, () => false), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Every endpoint this node can be reached at, best first: its federation URL, then one endpoint
 * for each global IPv6 address of the listener (unless the owner's public URL is itself an IPv6
 * address: then that is where the owner says the node lives). No duplicates, at most
 * MAX_FEDERATION_ENDPOINTS.
 */
/** Where the federation listener listens, and the URL it is known by. */
export interface FederationWhere {
  federationUrl: string;
  /** Whether the owner gave the URL (else it was derived from the listener's address). */
  ownerGaveUrl: boolean;
  scheme: 'http' | 'https';
  port: number;
  listenHost: string;
}

export function ownEndpoints(options: FederationWhere & { interfaces?: ReturnType<typeof networkInterfaces> }): string[] {
  const first = normalizeEndpoint(options.federationUrl);
  const list = [first.ok ? first.endpoint : options.federationUrl];
  const firstHost = first.ok ? first.url.hostname : '';
  if (options.ownerGaveUrl && firstHost.startsWith('[')) return list;
  for (const address of globalIpv6Addresses(options.listenHost, options.interfaces)) {
    const endpoint = ipv6Endpoint(options.scheme, address, options.port);
    if (!list.includes(endpoint)) list.push(endpoint);
    if (list.length >= MAX_FEDERATION_ENDPOINTS) break;
  }
  return list;
}
