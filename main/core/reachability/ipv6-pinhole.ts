/**
 * An IPv6 firewall pinhole (issue #32 item 4): a node with a global IPv6 address needs no NAT,
 * but home routers drop incoming IPv6 connections unless told otherwise. UPnP IGDv2 routers
 * (miniupnpd, most that say "IGD2") offer the WANIPv6FirewallControl:1 service for that: the
 * node asks it, as it asks for a port mapping (port-mapping.ts), to let TCP in to its own global
 * IPv6 address and federation port (AddPinhole), renews the lease before it ends
 * (UpdatePinhole), and closes it on a clean stop (DeletePinhole).
 *
 * The router is found with @achingbrain/nat-port-mapper (SSDP over IPv6, or a description URL
 * given) in the gateway worker thread (gateway-thread.ts: a datagram the libraries cannot parse
 * ends that thread, not the node), but the three SOAP calls are our own, made here, because the
 * library's pinhole code (upnp/internet-gateway-service-6.js, 4.0.5) cannot serve us:
 *  - it sends AddPinhole to the WANIPConnection:2 service, which has no such action in the IGD2
 *    specification (miniupnpd happens to dispatch on the action name alone; a router following
 *    the specification answers 401 Invalid Action);
 *  - it sends the wanted external port as RemotePort, the port the *remote* side connects FROM:
 *    against miniupnpd 2.3.1 the rule it opens is `th dport 7447 th sport 7447`, so a friend
 *    connecting from an ordinary ephemeral port is still dropped (tried in namespaces: only a
 *    connection bound to source port 7447 got through);
 *  - it lets the kernel choose the request's source address, and the router accepts a pinhole
 *    only for the address the request comes from (miniupnpd's PinholeVerification answers
 *    606 Action not authorized otherwise): a machine with several IPv6 addresses (temporary
 *    privacy addresses are preferred for outgoing connections) would be refused. We send from the
 *    address the pinhole is for.
 *
 * Like port mapping, this talks to the router on our own link, not to a peer, and does not go
 * through the peer address policy (address-policy.ts). PCP's IPv6 firewall control is not asked:
 * the library speaks NAT-PMP only, which has no IPv6.
 */
import { request } from '../http/node-http.ts';
import { settlesWithin } from '../util/settles-within.ts';
import { plain, type GatewayThread } from './gateway-thread.ts';
import { REMOVAL_MS } from './port-mapping.ts';

export const PINHOLE_TTL_MS = 3600_000;
const REQUEST_TIMEOUT_MS = 5_000;
/** The least time DeletePinhole is given after a wait for a renewal took the rest of REMOVAL_MS. */
const LEAST_DELETE_MS = 1_000;
const MAX_ANSWER_BYTES = 64 * 1024;
const FIREWALL_SERVICE = 'urn:schemas-upnp-org:service:WANIPv6FirewallControl:1';
/** IANA protocol number of TCP, as the service wants it. */
const TCP = 6;

export interface PinholeInfo {
  protocol: 'upnp-igd';
  /** Our global IPv6 address the router lets TCP in to. */
  address: string;
  port: number;
  expires_at: number;
}

export interface PinholeOptions {
  /** Skip SSDP and use this UPnP device description URL, at an IPv6 address (tests, or an owner who knows it). */
  upnpDescriptionUrl?: string;
  /** Lease asked for (default one hour); renewed a minute before it ends. */
  ttlMs?: number;
  log?: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void };
}

/** A pinhole the router opened: where to renew and close it, and its id there. */
type HeldPinhole = PinholeInfo & { controlUrl: string; uniqueId: string };

export class Ipv6Pinhole {
  /** Where the router is found (the node's gateway worker); the SOAP calls are made here. */
  private readonly thread: GatewayThread;
  private readonly options: PinholeOptions;
  private current: HeldPinhole | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  /** The renewal under way, if any: a removal waits for it (remove()). */
  private renewing: Promise<void> | null = null;

  constructor(thread: GatewayThread, options: PinholeOptions = {}) {
    this.thread = thread;
    this.options = options;
  }

  private get ttl(): number {
    return this.options.ttlMs ?? PINHOLE_TTL_MS;
  }

  get pinhole(): PinholeInfo | null {
    const c = this.current;
    return c ? { protocol: c.protocol, address: c.address, port: c.port, expires_at: c.expires_at } : null;
  }

  /** Asks the router to let TCP in to `address`:`port`; the error in plain words when it does not. */
  async open(address: string, port: number): Promise<{ ok: true; pinhole: PinholeInfo } | { ok: false; error: string }> {
    if (this.current) return { ok: true, pinhole: this.pinhole! };
    try {
      const controlUrl = await this.findFirewallControl();
      const answer = await soap(controlUrl, 'AddPinhole', [
        // Any remote host and port: friends connect from wherever they are.
        ['RemoteHost', ''], ['RemotePort', 0], ['InternalClient', address], ['InternalPort', port], ['Protocol', TCP], ['LeaseTime', this.leaseSeconds()],
      ], address);
      const uniqueId = /<UniqueID>\s*(\d+)\s*<\/UniqueID>/.exec(answer)?.[1];
      if (uniqueId === undefined) throw new Error('the router accepted AddPinhole but named no UniqueID');
      this.current = { protocol: 'upnp-igd', address, port, expires_at: Date.now() + this.ttl, controlUrl, uniqueId };
      this.scheduleRenewal();
      this.options.log?.info({ event: 'ipv6_pinhole_opened', ...this.pinhole, unique_id: uniqueId }, 'the router\'s IPv6 firewall lets friends in to the federation port');
      return { ok: true, pinhole: this.pinhole! };
    } catch (error) {
      return { ok: false, error: `the router did not open an IPv6 pinhole (UPnP-IGD: ${plain(error)})` };
    }
  }

  /** LeaseTime in seconds: the service takes 1 to 86400. */
  private leaseSeconds(): number {
    return Math.min(86_400, Math.max(1, Math.round(this.ttl / 1000)));
  }

  /** The WANIPv6FirewallControl:1 control URL of the first IGDv2 router that answers over IPv6 (found in the gateway worker). */
  private async findFirewallControl(): Promise<string> {
    const found = await this.thread.ask('firewallControl', this.options.upnpDescriptionUrl ? { upnpDescriptionUrl: this.options.upnpDescriptionUrl } : {});
    if (!found.ok) throw new Error(found.error);
    return found.value.controlUrl;
  }

  private scheduleRenewal(): void {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => void this.renew(), Math.max(5_000, this.ttl - 60_000));
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    const c = this.current;
    if (!c) return;
    const renewing = this.renewLease(c);
    this.renewing = renewing;
    await renewing;
    if (this.renewing === renewing) this.renewing = null;
  }

  /** UpdatePinhole one minute before the lease ends; a router that forgot it (restarted) gets AddPinhole again. */
  private async renewLease(c: HeldPinhole): Promise<void> {
    try {
      try {
        await soap(c.controlUrl, 'UpdatePinhole', [['UniqueID', c.uniqueId], ['NewLeaseTime', this.leaseSeconds()]], c.address);
      } catch (error) {
        // (Not when a removal began meanwhile: it waits for this renewal to close the pinhole.)
        if (!(error instanceof UpnpFault) || this.current !== c) throw error;
        const answer = await soap(c.controlUrl, 'AddPinhole', [
          ['RemoteHost', ''], ['RemotePort', 0], ['InternalClient', c.address], ['InternalPort', c.port], ['Protocol', TCP], ['LeaseTime', this.leaseSeconds()],
        ], c.address);
        c.uniqueId = /<UniqueID>\s*(\d+)\s*<\/UniqueID>/.exec(answer)?.[1] ?? c.uniqueId;
      }
      if (this.current !== c) return;
      c.expires_at = Date.now() + this.ttl;
      this.options.log?.info({ event: 'ipv6_pinhole_renewed', expires_at: c.expires_at }, 'IPv6 pinhole renewed');
    } catch (error) {
      if (this.current !== c) return;
      this.options.log?.warn({ event: 'ipv6_pinhole_renewal_failed', error: plain(error) }, 'could not renew the IPv6 pinhole; trying again in a minute');
      this.renewTimer = setTimeout(() => void this.renew(), 60_000);
      this.renewTimer.unref();
      return;
    }
    this.scheduleRenewal();
  }

  /**
   * Closes the pinhole (clean shutdown, a new network, or it did not help). A renewal under way is
   * let finish first: a DeletePinhole that reached the router before its UpdatePinhole would make
   * that fail, and the renewal open the pinhole again (AddPinhole) for a whole lease. All of it
   * within REMOVAL_MS, as a port mapping's removal (the node's stop waits for it): the renewal's
   * call under way ends within its own 5 s, and it opens nothing once a removal began.
   */
  async remove(): Promise<void> {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = null;
    const c = this.current;
    this.current = null;
    if (!c) return;
    const deadline = Date.now() + REMOVAL_MS;
    if (this.renewing) await settlesWithin(this.renewing, REMOVAL_MS);
    try {
      await soap(c.controlUrl, 'DeletePinhole', [['UniqueID', c.uniqueId]], c.address, Math.max(LEAST_DELETE_MS, deadline - Date.now()));
      this.options.log?.info({ event: 'ipv6_pinhole_closed', address: c.address, port: c.port }, 'IPv6 pinhole closed on the router');
    } catch (error) {
      this.options.log?.warn({ event: 'ipv6_pinhole_close_failed', error: plain(error) }, 'could not close the IPv6 pinhole (it lapses by itself)');
    }
  }
}

/** A UPnP error the router answered (SOAP fault with errorCode). */
class UpnpFault extends Error {}

/**
 * One SOAP action of WANIPv6FirewallControl:1, sent from `from` (the router checks that the
 * request comes from the pinhole's address), given up after `timeoutMs`. The answer's body, or a
 * thrown error naming the router's UPnP error code.
 */
function soap(controlUrl: string, action: string, args: Array<[string, string | number]>, from: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<string> {
  const body = `<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:${action} xmlns:u="${FIREWALL_SERVICE}">${args.map(([k, v]) => `<${k}>${escapeXml(String(v))}</${k}>`).join('')}</u:${action}></s:Body></s:Envelope>`;
  const url = new URL(controlUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: decodeURIComponent(bare(url.hostname)), port: url.port || 80, path: `${url.pathname}${url.search}`, method: 'POST', family: 6, localAddress: from,
        headers: { 'content-type': 'text/xml; charset="utf-8"', 'content-length': Buffer.byteLength(body), soapaction: `"${FIREWALL_SERVICE}#${action}"` },
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) return void req.destroy(new Error('the router\'s answer is too large'));
          chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 200) return resolve(text);
          const code = /<errorCode>\s*(\d+)\s*<\/errorCode>/.exec(text)?.[1];
          const words = /<errorDescription>([^<]{0,100})<\/errorDescription>/.exec(text)?.[1];
          reject(code ? new UpnpFault(`${action} refused: UPnP error ${code}${words ? ` ${words}` : ''}`) : new Error(`${action}: HTTP ${res.statusCode}`));
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const bare = (host: string) => host.replace(/^\[|\]$/g, '');
