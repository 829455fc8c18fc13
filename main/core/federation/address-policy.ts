/**
 * The ONE outbound address policy (docs/SECURITY.md §8). Every federation connection goes through
 * `guardedConnect` (the undici connector of HttpClient): the host name is resolved here, every
 * resolved address is classified with ipaddr.js `range()`, and the socket is opened to the address
 * that was checked (SNI and Host stay the name), so a DNS answer that changes between check and
 * connect (DNS rebinding) cannot move the connection.
 *
 * Rules (trusted by address, not by name):
 *  - public unicast addresses: allowed;
 *  - unspecified, broadcast, multicast, reserved/documentation ranges, IPv6 transition ranges
 *    that embed another address, and the cloud metadata addresses: never;
 *  - loopback, RFC 1918 private, link-local, CGNAT, IPv6 unique-local ("non-public"): only when
 *      - the owner gave this endpoint explicitly (admin `POST /peers` / CLI `peer add` with
 *        `endpoint`), and this address is one the owner vouched for: the literal address the owner
 *        typed, or an address the owner's host name resolved to when the peer was added (stored
 *        with the peer, trust-store.ts) — vouch `owner`. A name that was public when added never
 *        moves to loopback or the LAN by changing its DNS;
 *      - a peer named the endpoint (an invite link, `POST /peering`: vouch `peering`) as a literal
 *        address, and the connection is certificate-pinned (it can only reach the holder of that
 *        certificate's key) or it is loopback in `--insecure-http` test mode. A *name* a peer gave
 *        that resolves to a non-public address is refused: its DNS is the peer's to change;
 *      - `allowPrivateAddresses` (LAN setups) — for every non-public range except loopback.
 *    Names learnt from peers (server names, discovery documents, relayed origins) get no vouch.
 */
import { isIP } from 'node:net';
import { lookup as dnsLookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import type { AlternateEndpoint, EndpointFailover } from './endpoint-failover.ts';
import { CertificatePinError } from './pinned-tls.ts';
import { METADATA_ADDRESSES } from './metadata-addresses.ts';
import type { HomeAddressCheck } from './home-addresses.ts';

/**
 * Who named an endpoint: nobody we trust, a token-holding friend (`peering`), the owner, or a
 * server's discovery listing its other endpoints (`listed`: public addresses only, whatever the
 * store says of that origin elsewhere; alternateRefusal).
 */
export type Vouch = 'none' | 'peering' | 'owner' | 'listed';

/**
 * What the store says about who named an endpoint (TrustStore.endpointVouch): the owner (with the
 * non-public addresses vouched for, or `any` for the node's own URL), or a peer.
 */
export type EndpointVouch = { vouch: 'owner'; addresses: ReadonlySet<string> | 'any' } | { vouch: 'peering' };

export type ResolvedAddress = { address: string; family: 4 | 6 };
/** Resolves a host name to all its addresses (injectable for tests: not a mock of ours). */
export type LookupFn = (hostname: string) => Promise<ResolvedAddress[]>;

/**
 * `lookup` for any name but those under `.invalid`, which RFC 6761 §6.4 reserves as never existing
 * and asks resolvers to answer at once: not found (ENOTFOUND, as getaddrinfo says it), without a
 * query that a machine with no working resolver would answer as a lookup failure instead.
 */
export function withInvalidNamesRefused(lookup: LookupFn): LookupFn {
  return async (hostname) => {
    const name = hostname.toLowerCase().replace(/\.$/, '');
    if (name === 'invalid' || name.endsWith('.invalid')) {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname });
    }
    return lookup(hostname);
  };
}

export const defaultLookup: LookupFn = withInvalidNamesRefused(async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 })),
);


const NON_PUBLIC = new Set(['loopback', 'private', 'linkLocal', 'carrierGradeNat', 'uniqueLocal']);

export type AddressClass = 'public' | 'metadata' | 'forbidden' | 'loopback' | 'private' | 'linkLocal' | 'carrierGradeNat' | 'uniqueLocal';

export function classifyAddress(ip: string): { class: AddressClass; range: string; canonical: string } {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // process(): an IPv4-mapped IPv6 address (::ffff:127.0.0.1) is judged as the IPv4 it is.
    parsed = ipaddr.process(ip);
  } catch {
    return { class: 'forbidden', range: 'invalid', canonical: ip };
  }
  const canonical = parsed.toString();
  const range = parsed.range();
  if (METADATA_ADDRESSES.has(canonical)) return { class: 'metadata', range, canonical };
  // IPv4-compatible IPv6 (::/96, deprecated; ipaddr.js calls it unicast): an IPv4 address in another spelling.
  if (parsed.kind() === 'ipv6' && range === 'unicast' && (parsed as ipaddr.IPv6).parts.slice(0, 6).every((part) => part === 0)) return { class: 'forbidden', range: 'ipv4Compatible', canonical };
  if (range === 'unicast') return { class: 'public', range, canonical };
  if (NON_PUBLIC.has(range)) return { class: range as AddressClass, range, canonical };
  return { class: 'forbidden', range, canonical };
}

/**
 * Whether a listen address is this machine's loopback only (a node listening there cannot be
 * reached through the router: no port mapping is asked for). Any spelling: 127.0.0.0/8, ::1 and
 * its long forms, bracketed or not, ::ffff:127.0.0.1, localhost and its kin, in any case (a regex
 * of three spellings took `[0:0:0:0:0:0:0:1]` and `LOCALHOST` for addresses the router can reach:
 * a red team, 2026-12-01).
 */
export function isLoopbackHost(host: string): boolean {
  const name = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (isIP(name)) return classifyAddress(name).class === 'loopback';
  return name === 'localhost' || name.endsWith('.localhost') || name === 'ip6-localhost' || name === 'ip6-loopback';
}

export class AddressRefusedError extends Error {
  /** Refused by the policy (an address we never connect to), not for want of an address (DNS answered none). */
  readonly byPolicy: boolean;
  constructor(message: string, options: { byPolicy?: boolean } = {}) {
    super(message);
    this.name = 'AddressRefusedError';
    this.byPolicy = options.byPolicy ?? true;
  }
}

export interface AddressPolicyOptions {
  /** `--insecure-http` test mode: loopback for endpoints a peering friend named. */
  insecureHttp: boolean;
  /** NodeConfig.allowPrivateAddresses: private/link-local/CGNAT/unique-local for any peer (LAN). */
  allowPrivateAddresses: boolean;
  /** Who named an origin (`scheme://host[:port]`) stored for a peer, if anybody did. */
  endpointVouch?: (origin: string) => EndpointVouch | undefined;
  lookup?: LookupFn;
  /**
   * Whether a public-looking address is this machine's own, or its router's public one
   * (home-addresses.ts): then it is judged as a private one (the owner's vouch, allowPrivateAddresses), never as public.
   */
  isHomeAddress?: HomeAddressCheck;
}

export interface ConnectContext {
  vouch: Vouch;
  /** The connection is certificate-pinned (it can only reach the holder of that key). */
  pinned: boolean;
  /**
   * With vouch `owner`: the non-public addresses the owner vouched for. Absent (or `any`): the
   * owner is giving this endpoint right now (admin `POST /peers`), whatever it resolves to.
   */
  addresses?: ReadonlySet<string> | 'any';
}

/** The context a connection gets: the caller's, raised by what the store says of the origin. */
function withStoredVouch(context: ConnectContext, stored: EndpointVouch | undefined): ConnectContext {
  if (context.vouch === 'owner' || context.vouch === 'listed' || !stored) return context;
  if (stored.vouch === 'owner') return { ...context, vouch: 'owner', addresses: stored.addresses };
  return { ...context, vouch: 'peering' };
}

export class AddressPolicy {
  readonly options: AddressPolicyOptions;

  constructor(options: AddressPolicyOptions) {
    this.options = options;
  }

  /**
   * Why an address may not be used for this connection, or null when it may. `literal`: the
   * endpoint names this address itself (no DNS between what was said and where we connect).
   */
  /** classifyAddress, with this machine's own public addresses (and its router's) judged as private ones. */
  private classify(ip: string): { class: AddressClass; range: string; canonical: string } {
    const classified = classifyAddress(ip);
    if (classified.class === 'public' && this.options.isHomeAddress?.(classified.canonical)) return { ...classified, class: 'private', range: 'this machine\'s own, or its router\'s' };
    return classified;
  }

  refusal(ip: string, context: ConnectContext, literal = false): string | null {
    const { class: kind, range, canonical } = this.classify(ip);
    if (kind === 'public') return null;
    if (kind === 'metadata') return `${canonical} is a cloud metadata address`;
    if (kind === 'forbidden') return `${canonical} is not a unicast address (${range})`;
    if (context.vouch === 'owner') {
      const vouched = context.addresses ?? 'any';
      if (vouched === 'any' || vouched.has(canonical)) return null;
    }
    if (context.vouch === 'peering' && literal && (context.pinned || (this.options.insecureHttp && kind === 'loopback'))) return null;
    if (this.options.allowPrivateAddresses && kind !== 'loopback') return null;
    const why =
      context.vouch === 'owner' ? 'the owner did not vouch for this address when adding the peer (add the peer again to vouch for it)'
      : context.vouch === 'peering' ? 'a peer named this endpoint by a host name, and a peer\'s DNS may point anywhere'
      : 'this endpoint was not given by the owner';
    return `${canonical} is a ${range} address, and ${why}${kind === 'loopback' ? '' : ' (set allowPrivateAddresses for a LAN setup)'}`;
  }

  /**
   * Another endpoint a server's discovery lists (endpoint-failover.ts), tried when its own origin
   * fails: a public address only. The document is the peer's word, read without the owner asking,
   * so it vouches for nothing: a private, link-local or loopback address there is never connected
   * to (with `allowPrivateAddresses`, the LAN ranges are; loopback only in --insecure-http test mode).
   */
  alternateRefusal(ip: string): string | null {
    const { class: kind, range, canonical } = this.classify(ip);
    if (kind === 'public') return null;
    if (kind === 'loopback' && this.options.insecureHttp) return null;
    if (kind !== 'metadata' && kind !== 'forbidden' && kind !== 'loopback' && this.options.allowPrivateAddresses) return null;
    return `${canonical} is a ${range} address, and another endpoint a server's discovery lists is tried at a public address only`;
  }

  /**
   * The non-public addresses `hostname` resolves to now (canonical), for the owner's vouch when
   * the owner adds a peer by this endpoint; none when it does not resolve.
   */
  async vouchableAddresses(hostname: string): Promise<string[]> {
    const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
    const family = isIP(bare);
    let addresses: ResolvedAddress[];
    try {
      addresses = family !== 0 ? [{ address: bare, family: family as 4 | 6 }] : await (this.options.lookup ?? defaultLookup)(bare);
    } catch {
      return [];
    }
    const found = new Set<string>();
    for (const a of addresses) {
      const classified = this.classify(a.address);
      if (NON_PUBLIC.has(classified.class)) found.add(classified.canonical);
    }
    return [...found].sort();
  }

  /**
   * Resolves `hostname` and checks every address; returns the one to connect to. Refuses the name
   * when any of its addresses is refused (an attacker's name must not be half-internal).
   */
  async resolve(hostname: string, origin: string, context: ConnectContext): Promise<ResolvedAddress> {
    return (await this.resolveAll(hostname, origin, context))[0]!;
  }

  /** resolve(), every address in the resolver's order (a name with IPv4 and IPv6 addresses: each is tried). */
  async resolveAll(hostname: string, origin: string, context: ConnectContext): Promise<ResolvedAddress[]> {
    const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
    const vouched = withStoredVouch(context, this.options.endpointVouch?.(origin));
    const family = isIP(bare);
    const addresses = family !== 0 ? [{ address: bare, family: family as 4 | 6 }] : await (this.options.lookup ?? defaultLookup)(bare);
    if (addresses.length === 0) throw new AddressRefusedError(`${hostname} has no address`, { byPolicy: false });
    for (const candidate of addresses) {
      // Another endpoint a discovery lists: public or nothing, every address of a name too.
      const why = vouched.vouch === 'listed' ? this.alternateRefusal(candidate.address) : this.refusal(candidate.address, vouched, family !== 0);
      if (why) throw new AddressRefusedError(`refusing to connect to ${origin}: ${why}`);
    }
    return addresses;
  }
}

/**
 * A connection failure that says nothing about who is at the address (the next address or
 * endpoint of the same server may be tried): refused, no route, timed out, name not found.
 */
export function isNetworkFailure(error: unknown): boolean {
  for (const e of causes(error)) {
    if (e instanceof AddressRefusedError) return false;
    if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  }
  return false;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EADDRNOTAVAIL', 'EAFNOSUPPORT', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'ECONNRESET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET']);
/** Failures before a request could be written: no connection, or a TLS handshake that failed on the certificate. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EAFNOSUPPORT', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'UND_ERR_CONNECT_TIMEOUT',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/**
 * A request that failed before it was sent (refused, no route, name not found, connect timeout,
 * an address refused here, a certificate refused): the peer never saw it. Anything else (a reset,
 * a timeout while waiting for the answer) may have reached it.
 */
export function failedBeforeSending(error: unknown): boolean {
  for (const e of causes(error)) {
    if (e instanceof AddressRefusedError || e instanceof CertificatePinError) return true;
    if (typeof e.code === 'string' && (NOT_SENT_CODES.has(e.code) || e.code.startsWith('ERR_TLS_') || e.code.startsWith('ERR_SSL_'))) return true;
  }
  return false;
}

/** An error and its causes, four deep at most. */
function* causes(error: unknown): Generator<Error & { code?: string }> {
  for (let e = error as (Error & { code?: string; cause?: unknown }) | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) yield e;
}

/** Where a connection went: the address and its family (for the self-test's per-family answer). */
export interface ConnectedTo {
  endpoint: string;
  address: string;
  family: 4 | 6;
}

/** Told where each new connection to an origin went (null: nowhere) and which addresses failed before. */
export interface ConnectObserver {
  connected(origin: string, to: ConnectedTo | null, failed: ConnectedTo[]): void;
}

/** Tries one connection may make at the origin's addresses, and as many at its alternates'; addresses of one alternate tried. */
export const MAX_CONNECT_ATTEMPTS = 8;
const MAX_ADDRESSES_PER_ALTERNATE = 2;

type UndiciConnector = (options: { hostname: string; host?: string; protocol: string; port: string; servername?: string | null; [k: string]: unknown }, callback: (error: Error | null, socket: unknown) => void) => void;

/**
 * Wraps an undici connector: resolve and check with the policy, then connect to the checked
 * address with SNI set to the original name. `afterConnect` may inspect the socket (pinning).
 * A name's addresses are tried in order; when every one fails at the network level, the other
 * endpoints the server's discovery lists (endpoint-failover.ts) are tried as the same origin
 * (https only: plain http would not know who answers), each checked as a literal the peer named.
 */
export function guardedConnect(
  policy: AddressPolicy,
  base: UndiciConnector,
  context: ConnectContext,
  afterConnect?: (socket: unknown, hostname: string) => Error | null,
  failover?: { alternates: EndpointFailover; observer?: ConnectObserver },
): UndiciConnector {
  return (options, callback) => {
    const hostname = options.hostname;
    const defaultPort = options.protocol === 'https:' ? '443' : '80';
    const origin = `${options.protocol}//${hostname}${options.port && options.port !== defaultPort ? `:${options.port}` : ''}`;
    const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
    const servername = options.servername ?? (isIP(bare) === 0 ? bare : undefined);
    const failed: ConnectedTo[] = [];
    // One connection asked: at most MAX_CONNECT_ATTEMPTS tries at the origin's addresses and as many
    // at its alternates', whatever the names resolve to (a discovery listing eight alternates with
    // many addresses each made dozens of connection attempts to whoever it named: a helper's
    // review, 2026-11-30). Two budgets: dead alternates tried first (one worked before) must not
    // leave the origin itself untried, or a peer that came back would never be reached again.
    const tries = { origin: 0, alternates: 0 };
    const attempt = (endpoint: string, address: ResolvedAddress, port: string, phase: keyof typeof tries = 'origin') =>
      new Promise<unknown>((resolve, reject) => {
        if (++tries[phase] > MAX_CONNECT_ATTEMPTS) {
          return reject(Object.assign(new Error(`${origin}: no connection after ${MAX_CONNECT_ATTEMPTS} tries`), { code: 'ECONNREFUSED' }));
        }
        base({ ...options, hostname: address.address, port, ...(servername ? { servername } : {}) }, (error, socket) => {
          if (error || !socket) {
            failed.push({ endpoint, address: address.address, family: address.family });
            return reject(error ?? new Error('connection failed'));
          }
          const refused = afterConnect?.(socket, hostname) ?? null;
          if (refused) {
            (socket as { destroy(): void }).destroy();
            return reject(refused);
          }
          failover?.observer?.connected(origin, { endpoint, address: address.address, family: address.family }, failed);
          resolve(socket);
        });
      });
    const primary = async (): Promise<unknown> => {
      const addresses = await policy.resolveAll(hostname, origin, context);
      let last: unknown;
      for (const address of addresses) {
        try {
          return await attempt(origin, address, options.port);
        } catch (error) {
          if (!isNetworkFailure(error)) throw error;
          last = error;
        }
      }
      throw last;
    };
    // Another endpoint of the server: its discovery's word, read unasked: public addresses only.
    const alternate = async (a: AlternateEndpoint): Promise<unknown> => {
      // Every address, a name's too: whatever the store says of that name elsewhere (an owner's
      // vouch for a peer, our own URL), another endpoint a discovery lists is public or nothing.
      const addresses = await policy.resolveAll(a.host, a.endpoint, { vouch: 'listed', pinned: context.pinned });
      let last: unknown;
      for (const address of addresses.slice(0, MAX_ADDRESSES_PER_ALTERNATE)) {
        try {
          return await attempt(a.endpoint, address, a.port, 'alternates');
        } catch (error) {
          // As for the origin itself: only the network may fail over (a refusal, a certificate that is not the one, stands).
          if (!isNetworkFailure(error)) throw error;
          last = error;
        }
      }
      throw last;
    };
    // Over https only: the certificate (pinned, or valid for the origin's name) proves the same server answers there.
    const alternates = failover && options.protocol === 'https:' ? failover.alternates.alternatesOf(origin) : [];
    void (async () => {
      const preferAlternate = alternates.length > 0 && failover!.alternates.prefersAlternate(origin);
      let primaryError: unknown = null;
      if (!preferAlternate) {
        try {
          const socket = await primary();
          failover?.alternates.worked(origin, origin);
          return callback(null, socket);
        } catch (error) {
          // A refusal or a certificate that is not the pinned one stands: only the network may fail over.
          if (alternates.length === 0 || !isNetworkFailure(error)) {
            if (failed.length > 0) failover?.observer?.connected(origin, null, failed);
            return callback(error as Error, null);
          }
          primaryError = error;
        }
      }
      for (const a of alternates) {
        try {
          const socket = await alternate(a);
          failover!.alternates.worked(origin, a.endpoint);
          return callback(null, socket);
        } catch {
          // the next one
        }
      }
      if (preferAlternate) {
        try {
          const socket = await primary();
          failover!.alternates.worked(origin, origin);
          return callback(null, socket);
        } catch (error) {
          primaryError = error;
        }
      }
      if (failed.length > 0) failover?.observer?.connected(origin, null, failed);
      callback(primaryError as Error, null);
    })().catch((error: Error) => callback(error, null));
  };
}
