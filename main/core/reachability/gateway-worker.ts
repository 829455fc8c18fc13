/**
 * Worker thread of port mapping and the IPv6 pinhole (gateway-thread.ts says why it is a thread):
 * finds the router with @achingbrain/nat-port-mapper (SSDP, or a description URL given, or the
 * default gateway for NAT-PMP) and asks it for a mapping, a renewal or a removal, or names the
 * control URL of its IPv6 firewall. Messages `{id, op, request}`, answered `{id, result}`.
 *
 * What a hostile host on the link can still do here ends here: a datagram the libraries throw on
 * ends this thread (the main thread answers in words), and in this thread `fetch` (which the
 * library uses for the device description and its SOAP answers) reads at most 64 KiB within 5 s
 * and follows no redirect (one would take the request past every check of its URL below); the
 * SSDP library never fetches anything itself (discoverGateways).
 * A UPnP router is used only when the control URL its description names is on the host that
 * served the description: a description cannot send our SOAP requests to another machine; an
 * SSDP answer's LOCATION is followed only when it is at the address the answer came from, at our
 * default gateway, or, in an answer from our default gateway, at an address of the home's own
 * ranges (discoverGateways): an answer cannot send our description request to another machine of
 * the internet, nor a host of the home to any but the router, nor at one of our own addresses. A
 * NAT-PMP answer is taken only from the gateway asked, at its NAT-PMP port (pmpAt). What a router
 * answers is checked before it is kept: an external address must be an IPv4 address, a port 1-65535.
 */
import { createSocket, type RemoteInfo } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import type { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { parentPort } from 'node:worker_threads';
import type { NetworkAddress, SSDPSocketOptions } from '@achingbrain/ssdp';
import ipaddr from 'ipaddr.js';
import { canonicalIp, locationAllowed } from './ssdp-location.ts';
import { plain, type GatewayMessage, type GatewayOps, type GatewayRef, type GatewayReply, type MadeMapping } from './gateway-thread.ts';

const DISCOVERY_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 5_000;
const MAX_ANSWER_BYTES = 64 * 1024;
const WAN_IP_CONNECTION = 'urn:schemas-upnp-org:service:WANIPConnection:2';
const FIREWALL_SERVICE = 'urn:schemas-upnp-org:service:WANIPv6FirewallControl:1';
/** What an SSDP search asks for, as the library's discovery does. */
const IGD2 = 'urn:schemas-upnp-org:device:InternetGatewayDevice:2';
/** The port a NAT-PMP gateway listens and answers at (RFC 6886 §3). */
const NAT_PMP_PORT = 5351;

type Library = typeof import('@achingbrain/nat-port-mapper');
type Gateway = Awaited<ReturnType<ReturnType<Library['upnpNat']>['getGateway']>>;

/** What the library's UPnP gateway keeps of its device (a private field; checked before use). */
interface UpnpDevice {
  service: { location: URL };
  getService(type: string): { controlURL: string };
  run(service: string, action: string, args: Array<[string, string | number]>, options: { signal: AbortSignal }): Promise<unknown>;
}

const originalFetch = globalThis.fetch;
/** `fetch` of this thread: every answer read within 5 s and up to 64 KiB (the library's description and SOAP reads), no redirect followed. */
globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const signal = init?.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]) : AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  const response = await originalFetch(input, { ...init, signal, redirect: 'manual' });
  if (response.status >= 300 && response.status < 400) {
    await response.body?.cancel().catch(() => undefined);
    throw new Error(`the router answered with a redirect (${response.status}), which is not followed`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body) {
    for await (const chunk of response.body) {
      size += chunk.byteLength;
      if (size > MAX_ANSWER_BYTES) {
        await response.body.cancel().catch(() => undefined);
        throw new Error('the router\'s answer is too large');
      }
      chunks.push(chunk);
    }
  }
  const empty = size === 0 || [204, 205, 304].includes(response.status);
  return new Response(empty ? null : Buffer.concat(chunks), { status: response.status, statusText: response.statusText, headers: response.headers });
};

let library: Promise<Library> | null = null;
const lib = () => (library ??= import('@achingbrain/nat-port-mapper'));

/** The device of a UPnP gateway, checked to be what this code knows. */
function deviceOf(gateway: Gateway): UpnpDevice {
  const device = (gateway as unknown as { gateway?: Partial<UpnpDevice> }).gateway;
  if (typeof device?.getService !== 'function' || typeof device.run !== 'function' || !(device.service?.location instanceof URL)) {
    throw new Error('this version of @achingbrain/nat-port-mapper does not expose the UPnP device');
  }
  return device as UpnpDevice;
}

/** The control URL of `service` on the device, refused unless it is on the host that served the description. */
function controlUrlOn(device: UpnpDevice, service: string): string {
  const { controlURL } = device.getService(service);
  const control = new URL(controlURL);
  if (control.hostname !== device.service.location.hostname) {
    throw new Error(`its control URL is not on the router that described it (${control.host}, described by ${device.service.location.host})`);
  }
  return controlURL;
}

/** A UPnP router whose WANIPConnection:2 control URL is on its own host. */
function checkedUpnp(gateway: Gateway): Gateway {
  controlUrlOn(deviceOf(gateway), WAN_IP_CONNECTION);
  return gateway;
}

/** The UPnP router described at `location`, read within 5 s (and within `within`, a discovery's time, when given). */
async function upnpAt(location: string, options: { ttl?: number; description?: string } = {}, within?: AbortSignal): Promise<Gateway> {
  const client = (await lib()).upnpNat({ ...options, autoRefresh: false });
  const timeout = AbortSignal.timeout(DISCOVERY_TIMEOUT_MS);
  return client.getGateway(new URL(location), { signal: within ? AbortSignal.any([timeout, within]) : timeout });
}

/**
 * The library's NAT-PMP client of the gateway at `address` (an IPv4 address), taking answers only
 * from that address and port 5351: RFC 6886 §3.1 has a client check that an answer comes from
 * the gateway it asked. The library takes whatever datagram reaches its port 5350 while a request
 * waits, from any sender, so any host on the link (or beyond, without a firewall) could answer
 * for the router: another external address or port, a refusal. Those are dropped here, as the
 * library drops a datagram nobody waits for; the request waits on for the gateway's own answer.
 */
async function pmpAt(address: string, options: { ttl?: number; description?: string } = {}): Promise<Gateway> {
  const gateway = (await lib()).pmpNat(address, { ...options, autoRefresh: false });
  // (The library's socket calls its `onMessage` for each datagram: wrapped before the socket listens.)
  const client = gateway as unknown as { onMessage?: (message: Buffer, from: RemoteInfo) => void };
  const take = client.onMessage;
  if (typeof take !== 'function') {
    await gateway.stop().catch(() => undefined);
    throw new Error('this version of @achingbrain/nat-port-mapper does not expose its NAT-PMP answers');
  }
  client.onMessage = (message, from) => {
    if (from.address !== address || from.port !== NAT_PMP_PORT) return;
    // A mapping's answer (RFC 6886 §3.3: op 129 or 130, result 0) says the lease the router granted,
    // which may be shorter than asked: the renewal is timed by it (port-mapping.ts).
    if (message.length >= 16 && message.readUInt8(0) === 0 && message.readUInt8(1) === 130 && message.readUInt16BE(2) === 0) {
      const byPort = grantedSeconds.get(gateway) ?? new Map<number, number>();
      byPort.set(message.readUInt16BE(8), message.readUInt32BE(12));
      grantedSeconds.set(gateway, byPort);
    }
    take.call(gateway, message, from);
  };
  return gateway;
}

/** The lease (seconds) a NAT-PMP gateway granted in its latest TCP mapping answer, by internal port (pmpAt). */
const grantedSeconds = new WeakMap<Gateway, Map<number, number>>();

/** The lease granted for `port`'s mapping, in ms; a lease of nothing is no mapping (RFC 6886 §3.4). */
function grantedLease(gateway: Gateway, port: number): number | undefined {
  const seconds = grantedSeconds.get(gateway)?.get(port);
  if (seconds === 0) throw new Error('the router granted the mapping no time');
  return seconds === undefined ? undefined : seconds * 1000;
}

/** The IPv4 address of a NAT-PMP gateway named by the owner (an address, or a name looked up once). */
async function ipv4Of(host: string): Promise<string> {
  return isIP(host) === 4 ? host : (await lookup(host, { family: 4 })).address;
}

/**
 * LOCATIONs one discovery reads at most: from a default gateway, and from others, then per sender. A host that floods answers fills only its own share, and a slow or
 * silent one holds up nobody: every LOCATION is read as soon as it is allowed, all at once.
 */
const MAX_GATEWAY_LOCATIONS = 8;
const MAX_OTHER_LOCATIONS = 8;
const MAX_LOCATIONS_PER_SENDER = 2;

/** A router found by discovery, and whether its description is at one of our default gateways. */
interface Found {
  gateway: Gateway;
  atDefaultGateway: boolean;
}

/** A description that could not be used: why, and whether it was at a default gateway. */
export interface DiscoveryFailure {
  message: string;
  atDefaultGateway: boolean;
}

/**
 * The UPnP IGDv2 routers that answer an SSDP search on our links, each read from its description
 * (upnpAt, through this thread's fetch), as each read ends. @achingbrain/ssdp sends the search and
 * parses the answers, but its own handlers of answers and announcements are removed: they fetched
 * every LOCATION with a client of their own (no time limit, no size limit, one request per
 * datagram). Here an answer's LOCATION is read only when locationAllowed says so (the library
 * believes any: a host on the link answering first could point our description request, then our
 * SOAP calls, at any other machine), once each, within the budgets above, and no read outlasts
 * the discovery (`signal`).
 */
async function* discoverGateways(signal: AbortSignal, options: { ttl?: number; description?: string } = {}, failures: DiscoveryFailure[] = []): AsyncGenerator<Found> {
  let bus: Awaited<ReturnType<typeof import('@achingbrain/ssdp')['default']>> | undefined;
  const found: Found[] = [];
  let wake: (() => void) | null = null;
  const woken = () => new Promise<void>((resolve) => (wake = resolve));
  try {
    const gateways = await defaultGateways();
    bus = await (await import('@achingbrain/ssdp')).default({ cache: false, sockets: ssdpSockets() });
    bus.on('error', () => undefined);
    answersFollowed(bus as unknown as EventEmitter, gateways, ownLinks(), ({ location, atDefaultGateway }) => {
      void upnpAt(location, options, signal).then(
        (gateway) => found.push({ gateway, atDefaultGateway }),
        (error: unknown) => failures.push({ message: plain(error), atDefaultGateway }),
      ).finally(() => wake?.());
    });
    // The search the library's discover() sends (one M-SEARCH for IGDv2), without its resolution.
    (bus as unknown as EventEmitter).emit('ssdp:send-message', 'M-SEARCH * HTTP/1.1', { ST: IGD2, MAN: '"ssdp:discover"', MX: 1 });
    const ended = new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    while (!signal.aborted) {
      const next = found.shift();
      if (next) yield next;
      else await Promise.race([ended, woken()]);
    }
  } catch {
    // The search ended (its time is up), or no socket could be opened: what was found is all.
  } finally {
    await bus?.stop();
  }
}

/**
 * Replaces the SSDP library's handlers of search answers and announcements (which fetched every
 * LOCATION themselves): `follow` is called instead for each answer for IGDv2 whose LOCATION is
 * allowed, once a LOCATION, within the budgets (a default gateway's, the others', each sender's).
 */
function answersFollowed(bus: EventEmitter, gateways: ReadonlySet<string>, links: readonly string[], follow: (next: { location: string; atDefaultGateway: boolean }) => void): void {
  const seen = new Set<string>();
  let atGateways = 0;
  let others = 0;
  const bySender = new Map<string, number>();
  const answer = (type: unknown, message: { LOCATION?: unknown; NTS?: unknown }, from: NetworkAddress): void => {
    if (type !== IGD2 || message.NTS === 'ssdp:byebye') return;
    if (!locationAllowed(message.LOCATION, from.address, gateways, links)) return;
    const location = new URL(message.LOCATION as string).toString();
    if (seen.has(location)) return;
    const atDefaultGateway = gateways.has(canonicalIp(new URL(location).hostname.replace(/^\[|\]$/g, '')) ?? '');
    // The gateways' own budget for answers from a default gateway (its LOCATION may be at another of
    // its addresses); anybody else's, at the gateway's address too, is that sender's share.
    const sender = canonicalIp(from.address.replace(/%.*$/, '')) ?? from.address;
    if (gateways.has(sender)) {
      if (atGateways >= MAX_GATEWAY_LOCATIONS) return;
      atGateways++;
    } else {
      const fromSender = bySender.get(sender) ?? 0;
      if (others >= MAX_OTHER_LOCATIONS || fromSender >= MAX_LOCATIONS_PER_SENDER) return;
      others++;
      bySender.set(sender, fromSender + 1);
    }
    seen.add(location);
    follow({ location, atDefaultGateway });
  };
  bus.removeAllListeners('ssdp:search-response');
  bus.removeAllListeners('ssdp:notify');
  bus.on('ssdp:search-response', (message: { ST?: unknown; LOCATION?: unknown }, from: NetworkAddress) => answer(message.ST, message, from));
  bus.on('ssdp:notify', (message: { NT?: unknown; NTS?: unknown; LOCATION?: unknown }, from: NetworkAddress) => answer(message.NT, message, from));
}

/** Our links' subnets (`cidr` of every address but loopback): where a router's answer comes from. */
function ownLinks(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((addresses) => addresses ?? [])
    .flatMap((i) => (i.internal || i.cidr === null ? [] : [i.cidr.replace(/%[^/]*/, '')]));
}

/** The sockets of the library's discovery: port 1900 on every address but loopback and link-local ones. */
function ssdpSockets(): SSDPSocketOptions[] {
  return Object.values(networkInterfaces())
    .flatMap((addresses) => addresses ?? [])
    .filter((i) => !i.internal && !i.address.startsWith('169.254.') && !i.address.startsWith('fe80'))
    .map((i) => ({ type: i.family === 'IPv4' ? 'udp4' : 'udp6', bind: { address: i.address, port: 1900 } }));
}

async function gatewayOf(ref: GatewayRef, options: { ttl?: number; description?: string } = {}): Promise<Gateway> {
  if (ref.protocol === 'upnp-igd') return checkedUpnp(await upnpAt(ref.location, options));
  return pmpAt(await ipv4Of(ref.host), options);
}

/**
 * A lease as the library takes it for `protocol`: its UPnP code takes milliseconds (and sends
 * seconds), its NAT-PMP code sends the number as it is, in the protocol's seconds: 3,600,000 "ms"
 * asked a NAT-PMP router for 42 days (a helper's review, 2026-11-30).
 */
function libraryTtl(protocol: GatewayRef['protocol'], ttlMs: number): number {
  return protocol === 'nat-pmp' ? Math.max(1, Math.ceil(ttlMs / 1000)) : ttlMs;
}

async function map(request: GatewayOps['map']['request']): Promise<MadeMapping> {
  if (request.method === 'upnp') {
    const common = { ttl: libraryTtl('upnp-igd', request.ttlMs), autoRefresh: false, description: request.description };
    let gateway: Gateway | undefined;
    // The owner's description URL, or the router found at our default gateway (not another device that answered).
    let atDefaultGateway = false;
    const failures: DiscoveryFailure[] = [];
    if (request.upnpDescriptionUrl) {
      gateway = await upnpAt(request.upnpDescriptionUrl, common);
      atDefaultGateway = true;
    } else {
      // The router at our default gateway as soon as it is read, else (once the search is over)
      // the first other one: another device answering first does not become the router.
      for await (const found of discoverGateways(AbortSignal.timeout(DISCOVERY_TIMEOUT_MS), common, failures)) {
        if (found.gateway.family !== 'IPv4') continue;
        gateway ??= found.gateway;
        if (found.atDefaultGateway) {
          gateway = found.gateway;
          atDefaultGateway = true;
          break;
        }
      }
    }
    // (One that answered but whose description could not be used says why: the default gateway's first.)
    const why = failures.find((f) => f.atDefaultGateway) ?? failures[0];
    if (!gateway) throw new Error(`no UPnP router answered on the local network${why ? ` that could be used (${why.message})` : ''}`);
    const location = deviceOf(gateway).service.location.toString();
    return { ...(await mapOn(checkedUpnp(gateway), { protocol: 'upnp-igd', location }, request.port, request.ttlMs, request.description)), at_default_gateway: atDefaultGateway };
  }
  const named = request.gatewayAddress ?? await defaultGateway();
  if (!named) throw new Error('no default gateway');
  const host = await ipv4Of(named);
  const common = { ttl: libraryTtl('nat-pmp', request.ttlMs), autoRefresh: false, description: request.description };
  // (The default gateway's, or the one the owner named: pmpAt takes answers from it alone.)
  return { ...(await mapOn(await pmpAt(host, common), { protocol: 'nat-pmp', host }, request.port, request.ttlMs, request.description)), at_default_gateway: true };
}

/** Address ranges no router's external address is in (private and 100.64/10 are: behind another NAT). */
const NOT_EXTERNAL: ReadonlySet<string> = new Set(['unspecified', 'broadcast', 'multicast', 'loopback', 'linkLocal', 'reserved']);

/** The first of `candidates` that can be a router's external address (an IPv4 address, canonicalIp's spelling). */
function externalAddressOf(candidates: readonly unknown[]): string | undefined {
  return candidates.flatMap((a) => {
    const ip = typeof a === 'string' ? canonicalIp(a) : null;
    return ip !== null && isIP(ip) === 4 && !NOT_EXTERNAL.has(ipaddr.parse(ip).range()) ? [ip] : [];
  })[0];
}

const validPort = (port: unknown): port is number => typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65_535;

/**
 * The external address and port the router granted, by its answer to a mapping or a renewal (the
 * library's `map`, from our `internal` address), checked: a port 1-65535, else thrown, and an IPv4
 * address outside NOT_EXTERNAL, else undefined. The router's own words, shown on the dashboard and
 * in the tray, and its address told to RouterAddresses (gateway-thread.ts).
 */
async function grantedExternal(gateway: Gateway, answer: { externalHost: unknown; externalPort: unknown }, internal: string): Promise<{ external_address: string | undefined; external_port: number }> {
  const externalPort = answer.externalPort;
  if (!validPort(externalPort)) throw new Error('the router named no valid external port');
  // The library asked the router for its external address when ours is private (it names ours
  // otherwise): asked again only then, not twice per request.
  const externalIp: unknown = answer.externalHost !== internal ? answer.externalHost : await gateway.externalIp({ signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }).catch(() => answer.externalHost);
  return { external_address: externalAddressOf([externalIp, answer.externalHost]), external_port: externalPort };
}

async function mapOn(gateway: Gateway, ref: GatewayRef, port: number, ttlMs: number, description: string): Promise<Omit<MadeMapping, 'at_default_gateway'>> {
  let made: { externalPort: unknown } | null = null;
  let internal: string | undefined;
  try {
    internal = await localAddressTowards(gateway.host);
    const result = await gateway.map(port, internal, { externalPort: port, protocol: 'tcp', ttl: libraryTtl(ref.protocol, ttlMs), autoRefresh: false, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    made = result;
    const { external_address: external, external_port: externalPort } = await grantedExternal(gateway, result, internal);
    if (external === undefined) throw new Error('the router named no usable IPv4 address as its external one');
    const granted = grantedLease(gateway, port);
    return {
      protocol: ref.protocol, external_address: external, external_port: externalPort, internal_address: internal, internal_port: port, gateway: ref,
      ...(granted !== undefined ? { lease_ms: granted } : {}),
    };
  } catch (error) {
    const reserved = made !== null && validPort(made.externalPort) ? made.externalPort : null;
    if (ref.protocol === 'upnp-igd') {
      // Its answer lost (a timeout, an answer the library could not read, or the address query
      // the library makes after it failing): looked for among the router's mappings, as ours, on
      // the device already read. A router that refused asks nothing more of the search than a fault.
      if (internal !== undefined && reserved === null) await removeLostUpnpMapping(gateway, ref, internal, port, description).catch(() => undefined);
      // The library's stop() is not called: it would delete what it recorded by our internal port
      // taken as the external one, with no protocol (another device's forward, had the router
      // reserved us another port), and it holds nothing else (the thread ends after the answer).
    } else {
      await gateway.stop().catch(() => undefined);
    }
    // A mapping the router made but that is not kept is taken back, through a client of its own
    // (an aborted NAT-PMP request blocks its client's queue): NAT-PMP's by our internal port;
    // UPnP's by the external port the router said it reserved.
    if (internal !== undefined && (ref.protocol === 'nat-pmp' || reserved !== null)) {
      await gatewayOf(ref).then((fresh) => removeMapping(fresh, ref, port, reserved ?? port).finally(() => fresh.stop().catch(() => undefined))).catch(() => undefined);
    }
    throw error;
  }
}

/** How many of the router's mappings are read, at most, to find ours whose answer was lost. */
const LOST_MAPPING_SEARCH = 16;

/** The arguments of a SOAP answer (its body's one element), if it has them. */
function soapAnswer(body: unknown): Record<string, unknown> | undefined {
  const first: unknown = body !== null && typeof body === 'object' ? Object.values(body)[0] : undefined;
  return first !== null && typeof first === 'object' ? (first as Record<string, unknown>) : undefined;
}

/**
 * A UPnP mapping the router may have made while its answer to us was lost (the library threw: a
 * timeout, an answer it could not read), so the external port it reserved is unknown. It is looked
 * for at the port asked for, then among the first LOST_MAPPING_SEARCH of the router's mappings, by
 * what only ours has: our internal address and port, and our description. Another device's
 * forward never matches (its internal address is its own), so it is never removed.
 */
async function removeLostUpnpMapping(gateway: Gateway, ref: GatewayRef, internal: string, port: number, description: string): Promise<void> {
  const device = deviceOf(gateway);
  const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  const ours = (entry: Record<string, unknown> | undefined): boolean =>
    entry !== undefined && String(entry.NewInternalClient) === internal && Number(entry.NewInternalPort) === port &&
    String(entry.NewPortMappingDescription ?? '') === description && String(entry.NewProtocol ?? 'TCP').toUpperCase() === 'TCP';
  const asked = await device.run(WAN_IP_CONNECTION, 'GetSpecificPortMappingEntry', [['NewRemoteHost', ''], ['NewExternalPort', port], ['NewProtocol', 'TCP']], { signal }).catch(() => undefined);
  let external = ours(soapAnswer(asked)) ? port : undefined;
  for (let index = 0; external === undefined && index < LOST_MAPPING_SEARCH; index++) {
    const entry = soapAnswer(await device.run(WAN_IP_CONNECTION, 'GetGenericPortMappingEntry', [['NewPortMappingIndex', index]], { signal }).catch(() => undefined));
    // (Past the router's last mapping: an error, or a fault instead of an entry.)
    if (entry === undefined || entry.NewExternalPort === undefined) break;
    const entryPort = Number(entry.NewExternalPort);
    if (ours(entry) && validPort(entryPort)) external = entryPort;
  }
  if (external !== undefined) await removeMapping(gateway, ref, port, external);
}

/** Asks the router of `gateway` to remove the mapping of TCP `externalPort` (NAT-PMP: of our `internalPort`). */
async function removeMapping(gateway: Gateway, ref: GatewayRef, internalPort: number, externalPort: number): Promise<void> {
  const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  if (ref.protocol === 'nat-pmp') {
    await gateway.unmap(internalPort, { signal });
  } else {
    // The library deletes only what the same object mapped with autoRefresh: asked directly.
    await deviceOf(gateway).run(WAN_IP_CONNECTION, 'DeletePortMapping', [['NewRemoteHost', ''], ['NewExternalPort', externalPort], ['NewProtocol', 'TCP']], { signal });
  }
}

/**
 * Asks the router for the mapping again: the external address and port of its answer are the
 * mapping's from now on (an ISP that renumbered the router's WAN side; a router that reserved
 * another external port, UPnP's AddAnyPortMapping or NAT-PMP), checked as a mapping's are. An
 * answer naming no usable address (a router whose WAN is down says 0.0.0.0) still names the port
 * it holds now: the mapping keeps its address and takes the port, which a failed renewal would
 * leave forwarded and unknown (and the next try could reserve yet another).
 */
async function renew(request: GatewayOps['renew']['request']): Promise<GatewayOps['renew']['answer']> {
  const ttl = libraryTtl(request.gateway.protocol, request.ttlMs);
  const gateway = await gatewayOf(request.gateway, { ttl, description: request.description });
  const result = await gateway.map(request.port, request.internalAddress, { externalPort: request.externalPort, protocol: 'tcp', ttl, autoRefresh: false, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const external = await grantedExternal(gateway, result, request.internalAddress);
  const granted = grantedLease(gateway, request.port);
  return {
    renewed: true, external_port: external.external_port,
    ...(external.external_address !== undefined ? { external_address: external.external_address } : {}),
    ...(granted !== undefined ? { lease_ms: granted } : {}),
  };
}

async function unmap(request: GatewayOps['unmap']['request']): Promise<{ removed: true }> {
  await removeMapping(await gatewayOf(request.gateway), request.gateway, request.internalPort, request.externalPort);
  return { removed: true };
}

/** The WANIPv6FirewallControl:1 control URL of the first IGDv2 router that answers over IPv6. */
async function firewallControl(request: GatewayOps['firewallControl']['request']): Promise<{ controlUrl: string }> {
  const candidates: Gateway[] = [];
  if (request.upnpDescriptionUrl) {
    candidates.push(await upnpAt(request.upnpDescriptionUrl));
  } else {
    // The router answers SSDP over IPv4 and IPv6 alike; only one found over IPv6 has a control URL we can send from our IPv6 address to.
    for await (const { gateway } of discoverGateways(AbortSignal.timeout(DISCOVERY_TIMEOUT_MS))) {
      candidates.push(gateway);
      if (gateway.family === 'IPv6') break;
    }
  }
  const problems: string[] = [];
  for (const gateway of candidates) {
    if (gateway.family !== 'IPv6') continue;
    const device = deviceOf(gateway);
    try {
      const controlUrl = controlUrlOn(device, FIREWALL_SERVICE);
      if (isIP(new URL(controlUrl).hostname.replace(/^\[|\]$/g, '')) !== 6) throw new Error(`its control URL is not at an IPv6 address (${controlUrl})`);
      return { controlUrl };
    } catch (error) {
      problems.push(`the router has no IPv6 firewall control (${plain(error)})`);
    }
  }
  throw new Error(problems[0] ?? 'no UPnP IGDv2 router answered over IPv6 on the local network');
}

/** The local address the kernel would use to reach `host` (a connected UDP socket sends nothing). */
function localAddressTowards(host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.once('error', (error) => {
      socket.close();
      reject(error);
    });
    socket.connect(9, host, () => {
      const { address } = socket.address();
      socket.close();
      resolve(address);
    });
  });
}

/**
 * The IPv4 default gateway, found the platform's way by `default-gateway` (`ip route` on Linux,
 * `netstat` on macOS and the BSDs, `wmic` on Windows); undefined when there is none or the tool
 * is missing.
 */
async function defaultGateway(family: 4 | 6 = 4): Promise<string | undefined> {
  try {
    const { gateway4async, gateway6async } = await import('default-gateway');
    return (await (family === 4 ? gateway4async : gateway6async)()).gateway;
  } catch {
    return undefined;
  }
}

/** Our default gateways (IPv4 and IPv6, those there are), each in canonicalIp's spelling. */
async function defaultGateways(): Promise<Set<string>> {
  const found = await Promise.all([defaultGateway(4), defaultGateway(6)]);
  return new Set(found.flatMap((address) => {
    const ip = address === undefined ? null : canonicalIp(address.replace(/%.*$/, ''));
    return ip === null ? [] : [ip];
  }));
}

const handlers: { [K in keyof GatewayOps]: (request: GatewayOps[K]['request']) => Promise<GatewayOps[K]['answer']> } = { map, renew, unmap, firewallControl };

parentPort!.on('message', (message: GatewayMessage) => {
  const handler = handlers[message.op] as (request: GatewayMessage['request']) => Promise<GatewayOps[keyof GatewayOps]['answer']>;
  void handler(message.request).then(
    (value) => parentPort!.postMessage({ id: message.id, result: { ok: true, value } } satisfies GatewayReply),
    (error: unknown) => parentPort!.postMessage({ id: message.id, result: { ok: false, error: plain(error) } } satisfies GatewayReply),
  );
});
