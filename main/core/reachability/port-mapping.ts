/**
 * Automatic port mapping (issue #15) with @achingbrain/nat-port-mapper: UPnP-IGD first (SSDP
 * discovery on the LAN), then NAT-PMP (which PCP routers also answer) at the default gateway.
 * The mapping forwards the router's external TCP port to our federation port; the library
 * renews it before it expires (`autoRefresh`), and `remove()` deletes it on a clean shutdown.
 *
 * These requests go to the ROUTER on the local network (SSDP multicast, the gateway's control
 * URL, the NAT-PMP port of the default gateway): they are not federation traffic to a peer and
 * do not go through the peer address policy (address-policy.ts), which exists to keep peers
 * from steering us at private addresses. Nothing here comes from a peer: the gateway is found on
 * our own link, and the port is our own.
 */
import { createSocket } from 'node:dgram';

/** The lease asked for; renewed one minute before it ends. */
export const MAPPING_TTL_MS = 3600_000;
const DISCOVERY_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 5_000;

export interface MappingInfo {
  protocol: 'upnp-igd' | 'nat-pmp';
  external_address: string;
  external_port: number;
  internal_address: string;
  internal_port: number;
  expires_at: number;
}

type Library = typeof import('@achingbrain/nat-port-mapper');
type Gateway = Awaited<ReturnType<ReturnType<Library['upnpNat']>['getGateway']>>;

export interface PortMapperOptions {
  /** NAT-PMP gateway; by default the default route's gateway. */
  gatewayAddress?: string;
  /** Skip SSDP and use this UPnP device description URL (tests, or an owner who knows it). */
  upnpDescriptionUrl?: string;
  description?: string;
  /** Which protocols to try, in order (default both: UPnP-IGD, then NAT-PMP/PCP). */
  methods?: ReadonlyArray<'upnp' | 'pmp'>;
  /** Lease asked for (default one hour); renewed a minute before it ends. */
  ttlMs?: number;
  log?: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void };
  /** A renewal moved the mapping's end: the dashboard's "renewed before it ends in …" is told (it stood at "now"). */
  onRenewed?: () => void;
}

export class PortMapper {
  private readonly options: PortMapperOptions;
  private gateway: Gateway | null = null;
  private current: MappingInfo | null = null;
  private renewTimer: NodeJS.Timeout | null = null;

  constructor(options: PortMapperOptions = {}) {
    this.options = options;
  }

  private get ttl(): number {
    return this.options.ttlMs ?? MAPPING_TTL_MS;
  }

  get mapping(): MappingInfo | null {
    return this.current;
  }

  /**
   * Maps `port` (TCP) on the first gateway that agrees; the error in plain words when none does.
   * The external port is the same number when the router allows it.
   */
  async map(port: number): Promise<{ ok: true; mapping: MappingInfo } | { ok: false; error: string }> {
    if (this.current) return { ok: true, mapping: this.current };
    const lib = await import('@achingbrain/nat-port-mapper');
    const problems: string[] = [];
    const common = { ttl: this.ttl, autoRefresh: false, description: this.options.description ?? 'Paracord node federation' };
    const methods = this.options.methods ?? ['upnp', 'pmp'];
    // 1. UPnP-IGD
    if (methods.includes('upnp')) try {
      const client = lib.upnpNat(common);
      let gateway: Gateway | undefined;
      if (this.options.upnpDescriptionUrl) {
        gateway = await client.getGateway(new URL(this.options.upnpDescriptionUrl), { signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS) });
      } else {
        for await (const found of client.findGateways({ signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS) })) {
          if (found.family === 'IPv4') {
            gateway = found;
            break;
          }
        }
      }
      if (!gateway) throw new Error('no UPnP router answered on the local network');
      const mapping = await this.mapOn(gateway, 'upnp-igd', port);
      return { ok: true, mapping };
    } catch (error) {
      problems.push(`UPnP-IGD: ${plain(error)}`);
    }
    // 2. NAT-PMP / PCP at the default gateway
    const gatewayAddress = methods.includes('pmp') ? this.options.gatewayAddress ?? await defaultGateway() : undefined;
    if (!methods.includes('pmp')) {
      // not asked for
    } else if (gatewayAddress) {
      try {
        const gateway = lib.pmpNat(gatewayAddress, common);
        const mapping = await this.mapOn(gateway, 'nat-pmp', port);
        return { ok: true, mapping };
      } catch (error) {
        problems.push(`NAT-PMP: ${plain(error)}`);
      }
    } else {
      problems.push('NAT-PMP: no default gateway');
    }
    return { ok: false, error: `the router did not accept a port mapping (${problems.join('; ')})` };
  }

  private async mapOn(gateway: Gateway, protocol: MappingInfo['protocol'], port: number): Promise<MappingInfo> {
    const internal = await localAddressTowards(gateway.host);
    try {
      const result = await gateway.map(port, internal, { externalPort: port, protocol: 'tcp', ttl: this.ttl, autoRefresh: false, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      const externalIp = await gateway.externalIp({ signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }).catch(() => result.externalHost);
      this.gateway = gateway;
      this.current = {
        protocol,
        external_address: externalIp || result.externalHost,
        external_port: result.externalPort,
        internal_address: internal,
        internal_port: port,
        expires_at: Date.now() + this.ttl,
      };
      this.scheduleRenewal(port);
      this.options.log?.info({ event: 'port_mapped', ...this.current }, 'the router forwards the federation port');
      return this.current;
    } catch (error) {
      await gateway.stop().catch(() => undefined);
      throw error;
    }
  }

  /** Renews one minute before the lease ends (a router that forgot it gets it again). */
  private scheduleRenewal(port: number): void {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => void this.renew(port), Math.max(5_000, this.ttl - 60_000));
    this.renewTimer.unref();
  }

  private async renew(port: number): Promise<void> {
    const gateway = this.gateway;
    const current = this.current;
    if (!gateway || !current) return;
    try {
      await gateway.map(port, current.internal_address, { externalPort: current.external_port, protocol: 'tcp', ttl: this.ttl, autoRefresh: false, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      current.expires_at = Date.now() + this.ttl;
      this.options.log?.info({ event: 'port_mapping_renewed', expires_at: current.expires_at }, 'port mapping renewed');
      this.options.onRenewed?.();
    } catch (error) {
      this.options.log?.warn({ event: 'port_mapping_renewal_failed', error: plain(error) }, 'could not renew the port mapping; trying again in a minute');
      this.renewTimer = setTimeout(() => void this.renew(port), 60_000);
      this.renewTimer.unref();
      return;
    }
    this.scheduleRenewal(port);
  }

  /** Removes the mapping from the router (clean shutdown, or the mapping did not help). */
  async remove(): Promise<void> {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = null;
    const gateway = this.gateway;
    const current = this.current;
    this.gateway = null;
    this.current = null;
    if (!gateway || !current) return;
    try {
      await gateway.unmap(current.internal_port, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      this.options.log?.info({ event: 'port_unmapped', protocol: current.protocol }, 'port mapping removed from the router');
    } catch (error) {
      this.options.log?.warn({ event: 'port_unmap_failed', error: plain(error) }, 'could not remove the port mapping (it lapses by itself)');
    } finally {
      await gateway.stop().catch(() => undefined);
    }
  }
}

/** The local address the kernel would use to reach `host` (a connected UDP socket sends nothing). */
export function localAddressTowards(host: string): Promise<string> {
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
 * is missing. Loaded on first use: a node that never maps a port never loads it.
 */
export async function defaultGateway(): Promise<string | undefined> {
  try {
    const { gateway4async } = await import('default-gateway');
    return (await gateway4async()).gateway;
  } catch {
    return undefined;
  }
}

function plain(error: unknown): string {
  const e = error as Error & { code?: string };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'no answer in time';
  return (e?.message ?? String(error)).slice(0, 200);
}
