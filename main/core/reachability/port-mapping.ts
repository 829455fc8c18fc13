/**
 * Automatic port mapping (issue #15) with @achingbrain/nat-port-mapper: UPnP-IGD first (SSDP
 * discovery on the LAN), then NAT-PMP (which PCP routers also answer) at the default gateway.
 * The mapping forwards the router's external TCP port to our federation port; PortMapper renews
 * it before its lease ends (the router's answer, its external address and port, is the mapping's
 * from then on), and `remove()` deletes it on a clean shutdown.
 *
 * These requests go to the ROUTER on the local network (SSDP multicast, the gateway's control
 * URL, the NAT-PMP port of the default gateway): they are not federation traffic to a peer and
 * do not go through the peer address policy (address-policy.ts), which exists to keep peers
 * from steering us at private addresses. Nothing here comes from a peer: the gateway is found on
 * our own link, and the port is our own.
 */
import { settlesWithin } from '../util/settles-within.ts';
import { UNREADABLE_ANSWER, type GatewayRef, type GatewayResult, type GatewayThread } from './gateway-thread.ts';

/** The lease asked for by default: an hour. */
const DEFAULT_MAPPING_TTL_MS = 3600_000;
/**
 * The lease asked for; renewed one minute before it ends. PARACORD_TEST_MAPPING_TTL_MS (tests
 * only: 65,000 to 3,599,999) makes it shorter, never longer, so a test of a node's renewal waits
 * seconds (65 s: renewed after 5 s), not an hour.
 */
export const MAPPING_TTL_MS = mappingTtl(process.env.PARACORD_TEST_MAPPING_TTL_MS);

/** The lease from its test setting (an hour unless a shorter one in range is set). */
export function mappingTtl(setting: string | undefined): number {
  const ms = /^[0-9]{5,7}$/.test(setting ?? '') ? Number(setting) : NaN;
  return ms >= 65_000 && ms < DEFAULT_MAPPING_TTL_MS ? ms : DEFAULT_MAPPING_TTL_MS;
}
/**
 * How long a removal may take, its wait for a renewal under way included, before it is given up
 * (the lease lapses by itself): a node's stop waits for it. As before the gateway worker.
 */
export const REMOVAL_MS = 5_000;
/** The least time the removal's own request is given after a wait for a renewal took the rest. */
const LEAST_UNMAP_MS = 1_000;

export interface MappingInfo {
  protocol: 'upnp-igd' | 'nat-pmp';
  external_address: string;
  external_port: number;
  internal_address: string;
  internal_port: number;
  expires_at: number;
}

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
  /**
   * A renewal moved the mapping's end, and maybe its external address or port (the router's
   * answer): the dashboard's "renewed before it ends in …" and the mapping it shows are told.
   */
  onRenewed?: () => void;
}

export class PortMapper {
  /** Where the router is asked (the node's gateway worker). */
  private readonly thread: GatewayThread;
  private readonly options: PortMapperOptions;
  private gateway: GatewayRef | null = null;
  /** The mapping was made at our default gateway: its renewals tell the router's address too (gateway-thread.ts). */
  private atDefaultGateway = false;
  private current: MappingInfo | null = null;
  /** A map() under way: an overtaken renewal's take-back must not remove the port it is making. */
  private mappingUnderWay = 0;
  /** Counts removals: a request that started before the last one is given up. */
  private generation = 0;
  /** The mapping request under way, shared by every caller meanwhile. */
  private asking: Promise<{ ok: true; mapping: MappingInfo } | { ok: false; error: string }> | null = null;
  /** A late renewal's take-back put off while a map() was under way: done once it settles, unless it holds that very port. */
  private putOffTakeBack: { gateway: GatewayRef; mapping: MappingInfo } | null = null;
  /** A late renewal's take-back under way: a map() waits for it (it could remove the port being mapped). */
  private takingBack: Promise<void> | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  /** The renewal under way, if any: a removal waits for it (remove()). */
  private renewing: { asked: Promise<GatewayResult<'renew'>>; of: MappingInfo } | null = null;
  /** A renewal a removal stopped waiting for: answered after all, it is taken back (renew()). */
  private overtaken: Promise<unknown> | null = null;

  constructor(thread: GatewayThread, options: PortMapperOptions = {}) {
    this.thread = thread;
    this.options = options;
  }

  private get ttl(): number {
    return this.options.ttlMs ?? MAPPING_TTL_MS;
  }

  private get description(): string {
    return this.options.description ?? 'Paracord node federation';
  }

  get mapping(): MappingInfo | null {
    return this.current;
  }

  /**
   * Maps `port` (TCP) on the first gateway that agrees; the error in plain words when none does.
   * The external port is the same number when the router allows it.
   */
  map(port: number): Promise<{ ok: true; mapping: MappingInfo } | { ok: false; error: string }> {
    if (this.current) return Promise.resolve({ ok: true, mapping: this.current });
    // One request at a time: a second caller meanwhile (a test asked for during a network change's
    // removal, beside the start's request) shares its answer. Two made two mappings, and the
    // second's renewal timer replaced the first's, whose mapping stayed on the router for its
    // lease (a red team, 2026-12-01).
    if (this.asking) return this.asking;
    const asking = this.mapFresh(port).finally(() => {
      if (this.asking === asking) this.asking = null;
    });
    this.asking = asking;
    return asking;
  }

  private async mapFresh(port: number): Promise<{ ok: true; mapping: MappingInfo } | { ok: false; error: string }> {
    this.mappingUnderWay++;
    let result: Awaited<ReturnType<PortMapper['mapOnce']>> = { ok: false, error: 'not asked' };
    try {
      if (this.takingBack) await this.takingBack;
      result = await this.mapOnce(port);
      return result;
    } finally {
      this.mappingUnderWay--;
      const putOff = this.putOffTakeBack;
      if (putOff && this.mappingUnderWay === 0) {
        this.putOffTakeBack = null;
        // (Not awaited: the mapping's answer does not wait for it; a later map() does, through takingBack.)
        if (takeBackBeside(result.ok ? result.mapping : null, putOff.mapping, putOff.gateway)) void this.takeBack(putOff.gateway, putOff.mapping);
      }
    }
  }

  /** Removes what a late renewal made again after its removal (the port it answered). */
  private async takeBack(gateway: GatewayRef, mapping: MappingInfo): Promise<void> {
    const taking = this.unmap(gateway, mapping);
    this.takingBack = taking;
    try {
      await taking;
    } finally {
      if (this.takingBack === taking) this.takingBack = null;
    }
  }

  private async mapOnce(port: number): Promise<{ ok: true; mapping: MappingInfo } | { ok: false; error: string }> {
    const generation = this.generation;
    const problems: string[] = [];
    const common = { port, ttlMs: this.ttl, description: this.description };
    const methods = this.options.methods ?? ['upnp', 'pmp'];
    // 1. UPnP-IGD, 2. NAT-PMP / PCP at the default gateway (each in a worker of its own: one that
    // ended on a hostile answer leaves the other method its chance).
    const ask = async (method: 'upnp' | 'pmp') => {
      const made = await this.thread.ask('map', {
        ...common,
        method,
        ...(method === 'upnp' && this.options.upnpDescriptionUrl ? { upnpDescriptionUrl: this.options.upnpDescriptionUrl } : {}),
        ...(method === 'pmp' && this.options.gatewayAddress ? { gatewayAddress: this.options.gatewayAddress } : {}),
      });
      if (!made.ok) {
        problems.push(`${method === 'upnp' ? 'UPnP-IGD' : 'NAT-PMP'}: ${made.error}`);
        if (made.error === UNREADABLE_ANSWER) this.options.log?.warn({ event: 'port_mapping_answer_unreadable', method }, 'an answer to the port-mapping request could not be read (its thread ended; the node is not affected)');
      }
      return made;
    };
    for (const method of methods) {
      let made = await ask(method);
      if (!made.ok) continue;
      // A UPnP device that is not our default gateway (another device of the home answered, a mesh
      // node, a second router, a hostile host): NAT-PMP at the gateway is asked too, and the
      // gateway's mapping preferred; the other device's is taken back. Before, any device answering
      // UPnP kept NAT-PMP from ever being asked (a red team, 2026-12-01).
      if (method === 'upnp' && !made.value.at_default_gateway && methods.includes('pmp')) {
        const atGateway = await ask('pmp');
        if (atGateway.ok) {
          const { gateway: other, lease_ms: _lease, at_default_gateway: _at, ...elsewhere } = made.value;
          // (The router itself, by another of its names: one rule table answers both; nothing to take back.)
          const same = elsewhere.external_address === atGateway.value.external_address && elsewhere.external_port === atGateway.value.external_port;
          if (!same) await this.unmap(other, { ...elsewhere, expires_at: 0 });
          made = atGateway;
        }
      }
      const { gateway, lease_ms: granted, at_default_gateway: atDefaultGateway, ...mapping } = made.value;
      // Given up meanwhile (the network changed, the node stops): what it made is taken back, not kept.
      if (this.generation !== generation) {
        // (Not when a later request holds that very forward now: it is that one's.)
        const holdsIt = this.current?.external_port === mapping.external_port && JSON.stringify(this.gateway) === JSON.stringify(gateway);
        const made = { ...mapping, expires_at: 0 };
        // A later request still being made may claim that very forward: taken back once it settles, beside it (takeBackBeside).
        if (!holdsIt && this.mappingUnderWay > 1) this.putOffTakeBack = { gateway, mapping: made };
        else if (!holdsIt && takeBackBeside(this.current, made, gateway)) await this.takeBack(gateway, made);
        return { ok: false, error: 'the mapping was given up while it was being made' };
      }
      this.gateway = gateway;
      this.atDefaultGateway = atDefaultGateway;
      const lease = this.leaseOf(granted);
      this.current = { ...mapping, expires_at: Date.now() + lease };
      this.scheduleRenewal(port, lease);
      this.options.log?.info({ event: 'port_mapped', ...this.current }, 'the router forwards the federation port');
      if (this.options.ttlMs === undefined && MAPPING_TTL_MS !== DEFAULT_MAPPING_TTL_MS) {
        this.options.log?.warn({ event: 'test_setting', setting: 'PARACORD_TEST_MAPPING_TTL_MS', value: MAPPING_TTL_MS }, 'a test setting is in effect: the port mapping asks for a lease of this many ms, not an hour, and is renewed as often');
      }
      return { ok: true, mapping: this.current };
    }
    return { ok: false, error: `the router did not accept a port mapping (${problems.join('; ')})` };
  }

  /** The lease a mapping holds: the one asked for, or the shorter one the router granted (NAT-PMP may). */
  private leaseOf(granted: number | undefined): number {
    return granted !== undefined && Number.isFinite(granted) && granted >= 0 ? Math.min(this.ttl, granted) : this.ttl;
  }

  /**
   * Renews one minute before the lease ends (a router that forgot it gets it again). A shorter
   * lease than asked (the router's word): halfway through it, and not within 30 s (a gateway that
   * grants seconds cannot make us ask it, with a thread each time, every few seconds).
   */
  private scheduleRenewal(port: number, lease: number): void {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    const after = lease < this.ttl ? Math.max(30_000, Math.min(lease - 60_000, lease / 2)) : Math.max(5_000, lease - 60_000);
    this.renewTimer = setTimeout(() => void this.renew(port), after);
    this.renewTimer.unref();
  }

  private async renew(port: number): Promise<void> {
    const gateway = this.gateway;
    const current = this.current;
    if (!gateway || !current) return;
    const asked = this.thread.ask('renew', {
      gateway, port, internalAddress: current.internal_address, externalPort: current.external_port, ttlMs: this.ttl, description: this.description, atDefaultGateway: this.atDefaultGateway,
    });
    this.renewing = { asked, of: current };
    const renewed = await asked;
    if (this.renewing?.asked === asked) this.renewing = null;
    if (this.current !== current) {
      // Removed (or replaced) meanwhile. The removal waited for this answer before it asked, unless
      // it waited its whole time in vain: then the router may have taken this renewal after the
      // removal, and it is taken back, beside whatever mapping stands (takeBackBeside); one being
      // made meanwhile is waited for.
      if (this.overtaken === asked) {
        this.overtaken = null;
        if (renewed.ok) {
          const late = { ...current, external_port: renewed.value.external_port };
          if (this.current === null && this.mappingUnderWay > 0) this.putOffTakeBack = { gateway, mapping: late };
          else if (takeBackBeside(this.current, late, gateway)) await this.takeBack(gateway, late);
        }
      }
      return;
    }
    if (!renewed.ok) {
      this.options.log?.warn({ event: 'port_mapping_renewal_failed', error: renewed.error }, 'could not renew the port mapping; trying again in a minute');
      this.renewTimer = setTimeout(() => void this.renew(port), 60_000);
      this.renewTimer.unref();
      return;
    }
    // The router's answer is the mapping from now on: its external address (an ISP that renumbered
    // the router) and port (one the router reserved instead: the port asked for was another
    // device's by then, or the router chose). The old port is not asked to be removed: when the
    // router reserved another, the old one may be another device's forward now.
    // (An answer naming no usable address: the port is still the router's word, the address kept.)
    const { external_address: address = current.external_address, external_port: externalPort, lease_ms: granted } = renewed.value;
    if (address !== current.external_address || externalPort !== current.external_port) {
      this.options.log?.info({ event: 'port_mapping_moved', from: `${current.external_address}:${current.external_port}`, to: `${address}:${externalPort}` }, 'the router renewed the port mapping at another external address or port');
    }
    const lease = this.leaseOf(granted);
    current.external_address = address;
    current.external_port = externalPort;
    current.expires_at = Date.now() + lease;
    this.options.log?.info({ event: 'port_mapping_renewed', external: `${address}:${externalPort}`, expires_at: current.expires_at }, 'port mapping renewed');
    this.options.onRenewed?.();
    this.scheduleRenewal(port, lease);
  }

  /**
   * Removes the mapping from the router (clean shutdown, or the mapping did not help). A renewal
   * under way is let finish first: the two go through separate requests (to the router's SOAP
   * server, or as NAT-PMP datagrams), so a removal sent meanwhile could reach the router before
   * the renewal, which would then make the mapping again for a whole lease (an hour). All of it
   * within REMOVAL_MS (the node's stop waits for it); the worker is ended once nothing else is
   * asked of it.
   */
  async remove(): Promise<void> {
    // A request under way is given up: it takes back what it makes, and is not shared with a later map().
    this.generation++;
    this.asking = null;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = null;
    const gateway = this.gateway;
    const current = this.current;
    this.gateway = null;
    this.atDefaultGateway = false;
    this.current = null;
    if (!gateway || !current) return;
    const deadline = Date.now() + REMOVAL_MS;
    // Only a renewal of this very mapping (one of an older mapping, overtaken, is taken back by itself).
    const renewing = this.renewing?.of === current ? this.renewing.asked : null;
    this.renewing = null;
    let external = current.external_port;
    if (renewing) {
      // The renewal's answer names the port the router holds now (it may have reserved another).
      if (!(await settlesWithin(renewing, REMOVAL_MS))) this.overtaken = renewing;
      else {
        const renewed = await renewing;
        if (renewed.ok) external = renewed.value.external_port;
      }
    }
    await this.unmap(gateway, { ...current, external_port: external }, Math.max(LEAST_UNMAP_MS, deadline - Date.now()));
  }

  private async unmap(gateway: GatewayRef, current: MappingInfo, deadlineMs = REMOVAL_MS): Promise<void> {
    const removed = await this.thread.ask('unmap', { gateway, externalPort: current.external_port, internalPort: current.internal_port }, deadlineMs);
    if (removed.ok) this.options.log?.info({ event: 'port_unmapped', protocol: current.protocol }, 'port mapping removed from the router');
    else this.options.log?.warn({ event: 'port_unmap_failed', error: removed.error }, 'could not remove the port mapping (it lapses by itself)');
  }
}

/**
 * Whether a late renewal's forward (`late`, at `gateway`) is taken back beside the mapping that
 * stands (null: none). Not when that mapping holds the very port (the router's forward is its own
 * now), nor over NAT-PMP while one stands: its removal names only our internal port (RFC 6886),
 * the standing mapping's too, where UPnP's DeletePortMapping names the external port.
 */
function takeBackBeside(standing: MappingInfo | null, late: MappingInfo, gateway: GatewayRef): boolean {
  return standing === null || (standing.external_port !== late.external_port && gateway.protocol === 'upnp-igd');
}
