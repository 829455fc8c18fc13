/**
 * When the node keeps an IPv6 pinhole (issue #32 item 4), as Reachability keeps a port mapping:
 * asked for at start (and again on a new network) for the first global IPv6 address the listener
 * accepts connections at — the first IPv6 endpoint discovery publishes — and kept until a
 * self-test that tried IPv6 says it did not help. The router calls themselves are ipv6-pinhole.ts.
 */
import type { GatewayThread } from './gateway-thread.ts';
import { Ipv6Pinhole, type PinholeInfo } from './ipv6-pinhole.ts';
import { KeptAtStart } from './kept-at-start.ts';
import { globalIpv6Addresses } from './own-endpoints.ts';

export interface PinholeKeeperDeps {
  log: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void };
  /** Where the router is found (the node's gateway worker). */
  gateway: GatewayThread;
  /** The federation listener's host (`::`, `0.0.0.0`, an address). */
  listenHost?: string;
  /** The federation listener's port; null before it listens. */
  federationPort: () => number | null;
  /** Whether asking the router is allowed at all (not --pull, not --no-port-mapping). */
  allowed: () => boolean;
  /** The node's reachability changed (the status shows the pinhole). */
  onChange: () => void;
}

/** The IPv6 part of a self-test's result: `null` when IPv6 was not tried. */
export interface Ipv6Verdict {
  families?: { ipv6: boolean | null } | null;
  via?: string | null;
}

export class PinholeKeeper {
  private readonly deps: PinholeKeeperDeps;
  private readonly pinholer: Ipv6Pinhole;
  /** The pinhole asked for at start: the first self-test waits for it, the first that tried IPv6 judges it. */
  private readonly early: KeptAtStart;
  private stopped = false;

  constructor(deps: PinholeKeeperDeps) {
    this.deps = deps;
    this.pinholer = new Ipv6Pinhole(deps.gateway, { log: deps.log });
    this.early = new KeptAtStart({ remove: () => this.pinholer.remove(), stopped: () => this.stopped });
  }

  get pinhole(): PinholeInfo | null {
    return this.pinholer.pinhole;
  }

  /** Asks the router for a pinhole unless one is held or asked for. */
  atStart(): void {
    this.stopped = false;
    const port = this.deps.federationPort();
    if (!this.deps.allowed() || !port || this.pinholer.pinhole || this.early.asking) return;
    const address = globalIpv6Addresses(this.deps.listenHost ?? '0.0.0.0')[0];
    if (!address) return;
    this.early.ask(
      () => this.pinholer.open(address, port),
      (opened) => {
        if (opened.ok) this.deps.onChange();
        else this.deps.log.info({ event: 'ipv6_pinhole_at_start_failed', error: opened.error }, 'the router did not open its IPv6 firewall to the federation port');
      },
    );
  }

  /** Waits for the request made at start, if one is under way (a self-test tests what it opened). */
  async settled(): Promise<void> {
    await this.early.settled();
  }

  /**
   * Judges a pinhole opened at start by the IPv6 part of the first self-test that tried IPv6 (a
   * peer without IPv6 tries none: kept). Returns the words to add to the result's error when the
   * pinhole was closed for not helping, else null.
   */
  async judge(result: Ipv6Verdict): Promise<string | null> {
    const closed = await this.early.judge(result.families?.ipv6 ?? null, this.pinholer.pinhole);
    if (!closed) return null;
    const words = `An IPv6 pinhole was opened at start ([${closed.address}]:${closed.port}) but did not help, so it was closed.`;
    this.deps.log.info({ event: 'ipv6_pinhole_did_not_help', via: result.via ?? null }, words);
    return words;
  }

  /** Closes the pinhole (a clean stop, a new network). */
  async remove(): Promise<void> {
    await this.pinholer.remove();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.pinholer.remove();
  }
}
