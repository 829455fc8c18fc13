/**
 * The main thread's side of the gateway worker (gateway-worker.ts): every conversation with the
 * router through @achingbrain/nat-port-mapper and @achingbrain/ssdp — SSDP discovery, the device
 * description, UPnP-IGD's SOAP calls, NAT-PMP — runs in a worker thread, never here.
 *
 * Why: those libraries parse what any host on the link (and, on a machine whose interfaces have
 * public addresses and no UDP firewall, any host on the internet) sends to the sockets they open
 * while they look for the router, and they throw synchronously from their UDP message callbacks
 * on datagrams they do not expect (an SSDP answer without CACHE-CONTROL, an unknown SSDP start
 * line, a NAT-PMP datagram shorter than its header). On the main thread that throw is an uncaught
 * exception and ends the node. In the worker it ends only the worker: the request under way is
 * answered "the router's answer could not be read", and the next request starts a fresh worker.
 *
 * The worker runs only while a request is under way: it starts with the first one and is ended
 * as soon as none is left (a mapping is held by the main thread as a plain description of the
 * router, `GatewayRef`, not as a library object, so the hourly renewal and the removal at stop
 * each start a worker of their own). An idle node has no thread and no timer for this.
 *
 * One `GatewayThread` a node, built by the composition root (node/services.ts) and given to port
 * mapping and the IPv6 pinhole through their constructors; the node's stop stops it
 * (node/create-node.ts), after reachability has removed what it holds on the router.
 */
import { Worker } from 'node:worker_threads';
import { cleanText } from '../util/untrusted-text.ts';

/** How the router of a mapping is asked again (renewal, removal) from a fresh worker. */
export type GatewayRef = { protocol: 'upnp-igd'; location: string } | { protocol: 'nat-pmp'; host: string };

/** A mapping as the worker made it (the main thread adds when it ends). */
export interface MadeMapping {
  protocol: 'upnp-igd' | 'nat-pmp';
  external_address: string;
  external_port: number;
  internal_address: string;
  internal_port: number;
  gateway: GatewayRef;
  /** The lease the router granted, when it says (NAT-PMP); UPnP's is the one asked for or longer. */
  lease_ms?: number;
  /**
   * Made by the router at our default gateway (or the one the owner named): only then is its
   * external address taken as our router's (home-addresses.ts RouterAddresses). Another device on
   * the link that answered as a router could name anybody's address.
   */
  at_default_gateway: boolean;
}

/** What the worker can be asked, and what each request is answered. */
export interface GatewayOps {
  /** Finds a router with one method and maps `port` (TCP) on it, to the same external port when it agrees. */
  map: {
    request: { method: 'upnp' | 'pmp'; port: number; ttlMs: number; description: string; gatewayAddress?: string; upnpDescriptionUrl?: string };
    answer: MadeMapping;
  };
  /**
   * Asks the router of a mapping for it again (the lease starts over); answered with the external
   * address and port the router holds it at now (checked as `map`'s), which may not be the ones
   * it had. `atDefaultGateway`: the mapping's `at_default_gateway` (whether its router's address
   * is told, as for `map`).
   */
  renew: {
    request: { gateway: GatewayRef; port: number; internalAddress: string; externalPort: number; ttlMs: number; description: string; atDefaultGateway: boolean };
    answer: { renewed: true; external_address?: string } & Pick<MadeMapping, 'external_port' | 'lease_ms'>;
  };
  /** Deletes a mapping from its router. */
  unmap: {
    request: { gateway: GatewayRef; externalPort: number; internalPort: number };
    answer: { removed: true };
  };
  /** The WANIPv6FirewallControl:1 control URL of the first UPnP IGDv2 router found over IPv6 (ipv6-pinhole.ts). */
  firewallControl: {
    request: { upnpDescriptionUrl?: string };
    answer: { controlUrl: string };
  };
}

export type GatewayOp = keyof GatewayOps;
export type GatewayResult<K extends GatewayOp> = { ok: true; value: GatewayOps[K]['answer'] } | { ok: false; error: string };
/** What is asked: an op and its request. */
type GatewayAsked = { [K in GatewayOp]: { op: K; request: GatewayOps[K]['request'] } }[GatewayOp];
/** One message to the worker; answered by `{id, result}`. */
export type GatewayMessage = GatewayAsked & { id: number };
export type GatewayReply = { id: number; result: GatewayResult<GatewayOp> };

/** A request that takes longer than this (discovery, description, mapping, address together) is given up, unless its caller says less. */
const REQUEST_DEADLINE_MS = 30_000;
/**
 * The worker's heap: the libraries and a few answers need a few MB; a router (or a host that
 * answered discovery) sending a huge description ends the worker, not the node.
 */
const WORKER_HEAP_MB = 48;

/** The words for a worker that ended under a request: the answer it was reading broke the libraries. */
export const UNREADABLE_ANSWER = 'the router\'s answer could not be read';

interface Pending {
  resolve: (result: GatewayResult<GatewayOp>) => void;
  timer: NodeJS.Timeout;
}

/** The words for a request made after the node's stop (or under way at it). */
export const STOPPED = 'the node is stopping';

/** The gateway worker while requests are under way, none otherwise; asked with `ask` (never throws). */
export class GatewayThread {
  /** The worker's code: gateway-worker.ts beside this file (`script`: another, for tests). */
  private readonly script: URL;
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private stopped = false;
  /** Told the router's public address whenever a mapping is made or renewed at our default gateway (home-addresses.ts RouterAddresses). */
  private readonly onExternalAddress: ((address: string, by: 'mapping' | 'renewal') => void) | undefined;

  constructor(options: { script?: URL; onExternalAddress?: (address: string, by: 'mapping' | 'renewal') => void } = {}) {
    this.script = options.script ?? new URL(import.meta.url.endsWith('.ts') ? './gateway-worker.ts' : './gateway-worker.js', import.meta.url);
    this.onExternalAddress = options.onExternalAddress;
  }

  /**
   * Asks the gateway worker (started for it, ended once nothing is asked); never throws. Not
   * answered within `deadlineMs` (30 s unless said), the request is answered "no answer in time",
   * and the worker ended if nothing else is asked of it.
   */
  ask<K extends GatewayOp>(op: K, request: GatewayOps[K]['request'], deadlineMs = REQUEST_DEADLINE_MS): Promise<GatewayResult<K>> {
    return new Promise<GatewayResult<GatewayOp>>((settled) => {
      // Every mapping made or renewed at our default gateway, whoever asked, tells the router's public address.
      const resolve = (result: GatewayResult<GatewayOp>) => {
        settled(result);
        const address = routerAddressOf({ op, request } as GatewayAsked, result);
        if (address !== null) {
          try {
            this.onExternalAddress?.(address, op === 'map' ? 'mapping' : 'renewal');
          } catch {
            // a listener's failure is not the mapping's
          }
        }
      };
      if (this.stopped) return resolve({ ok: false, error: STOPPED });
      const worker = this.worker ?? this.start();
      if (!worker) return resolve({ ok: false, error: 'the port-mapping thread could not be started' });
      const id = ++this.nextId;
      const timer = setTimeout(() => this.settle(id, { ok: false, error: 'no answer in time' }), deadlineMs);
      timer.unref();
      this.pending.set(id, { resolve, timer });
      worker.postMessage({ id, op, request } as GatewayMessage);
    }) as Promise<GatewayResult<K>>;
  }

  /** The node stops: nothing more is asked, and a worker still running is ended (what it was asked is answered in words). */
  async stop(): Promise<void> {
    this.stopped = true;
    const worker = this.worker;
    if (!worker) return;
    this.ended(worker, STOPPED);
    await worker.terminate();
  }

  private start(): Worker | null {
    let worker: Worker;
    try {
      worker = new Worker(this.script, { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    } catch {
      return null;
    }
    this.worker = worker;
    worker.on('message', (reply: GatewayReply) => this.settle(reply.id, reply.result));
    // An uncaught throw in the libraries (a hostile datagram), or the heap limit: the worker is gone.
    // (A worker whose code is missing, a broken install, says so instead.)
    worker.on('error', (error: Error & { code?: string }) => this.ended(worker, error.code === 'ERR_MODULE_NOT_FOUND' ? `the port-mapping thread could not start (${plain(error)})` : UNREADABLE_ANSWER));
    worker.on('exit', () => this.ended(worker, UNREADABLE_ANSWER));
    return worker;
  }

  private settle(id: number, result: GatewayResult<GatewayOp>): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    pending.resolve(result);
    // Nothing left to ask: the thread ends (it holds no state a later request needs).
    if (this.pending.size === 0 && this.worker) {
      const worker = this.worker;
      this.worker = null;
      void worker.terminate();
    }
  }

  /** The worker ended (failed, or ended by us): every request it had is answered in words. */
  private ended(worker: Worker, error: string): void {
    if (this.worker !== worker) return;
    this.worker = null;
    for (const id of [...this.pending.keys()]) this.settle(id, { ok: false, error });
  }
}

/**
 * The router's public address an answer tells (RouterAddresses): a mapping's made at our default
 * gateway (the worker's word, `at_default_gateway`), or a renewal's of such a mapping (the
 * caller's word, `atDefaultGateway`: the same router); null for anything else.
 */
function routerAddressOf(asked: GatewayAsked, result: GatewayResult<GatewayOp>): string | null {
  if (!result.ok) return null;
  if (asked.op === 'map') {
    const made = result.value as MadeMapping;
    return made.at_default_gateway ? made.external_address : null;
  }
  if (asked.op === 'renew') return asked.request.atDefaultGateway ? ((result.value as GatewayOps['renew']['answer']).external_address ?? null) : null;
  return null;
}

/**
 * An error in plain words (a timeout as "no answer in time"), at most 200 characters, control
 * and bidi characters escaped: much of it is a router's or another LAN device's own text (a SOAP
 * fault, a content type, a device type), shown in the log and the UI (untrusted-text.ts).
 */
export function plain(error: unknown): string {
  const e = error as Error & { code?: string };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'no answer in time';
  return cleanText(String(e?.message ?? error), 200);
}
