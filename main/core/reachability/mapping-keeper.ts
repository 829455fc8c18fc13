/**
 * When the node keeps a port mapping (issue #15), as pinhole-keeper.ts keeps an IPv6 pinhole;
 * the router calls themselves are port-mapping.ts.
 *  - Behind a home router (every address of ours private: RFC 1918, CGNAT, unique-local), a
 *    mapping is asked for at start, before there may be a peer to test through (issue #32); the
 *    first conclusive self-test keeps it only if it passes (`judge`).
 *  - A self-test that fails without a mapping asks the router for one and tests again through it
 *    (`mapAndTest`); the external address is published only once that test passes, and a mapping
 *    that does not help is removed.
 */
import type { Logger } from 'pino';
import type { GatewayThread } from './gateway-thread.ts';
import { KeptAtStart } from './kept-at-start.ts';
import { PortMapper, type MappingInfo } from './port-mapping.ts';
import { ownAddressesArePrivate } from './own-addresses.ts';
import type { ReachProof } from './reach-proof.ts';
import type { CheckResult, ReachabilityState } from './reachability-status.ts';

export interface MappingKeeperDeps {
  log: Logger;
  /** Where the router is asked (the node's gateway worker). */
  gateway: GatewayThread;
  /** NAT-PMP gateway; by default the default route's gateway. */
  gatewayAddress?: string;
  /** The federation listener's host (`::`, `0.0.0.0`, an address). */
  listenHost?: string;
  /** The federation listener's port; null before it listens. */
  federationPort: () => number | null;
  /** Whether asking the router is allowed at all (not --pull, not --no-port-mapping). */
  allowed: () => boolean;
  /** The self-test's question to peers: the test through a fresh mapping. */
  proof: ReachProof;
  /** The peers that may be asked, the most recently seen first. */
  candidates: () => string[];
  /** The node's reachability changed (the status shows the mapping). */
  onChange: () => void;
}

export class MappingKeeper {
  private readonly deps: MappingKeeperDeps;
  private readonly mapper: PortMapper;
  /** The mapping asked for at start, before any self-test: the first self-test waits for it, then judges it. */
  private readonly early: KeptAtStart;
  private stopped = false;

  constructor(deps: MappingKeeperDeps) {
    this.deps = deps;
    this.mapper = new PortMapper(deps.gateway, { ...(deps.gatewayAddress ? { gatewayAddress: deps.gatewayAddress } : {}), log: deps.log, onRenewed: deps.onChange });
    this.early = new KeptAtStart({ remove: () => this.mapper.remove(), stopped: () => this.stopped });
  }

  /** The mapping as `GET /reachability` shows it. */
  view(): ReachabilityState['mapping'] {
    const m = this.mapper.mapping;
    return m ? { protocol: m.protocol, external_address: m.external_address, external_port: m.external_port, expires_at: m.expires_at } : null;
  }

  start(): void {
    this.stopped = false;
    this.atStart();
  }

  /**
   * Behind a home router (every address of ours is private), ask for a mapping now, as Syncthing
   * does: there may be no peer yet to run the self-test that would otherwise ask for it, and a
   * friend redeeming our invite link must be able to call us back. Kept until a self-test says
   * it does not help.
   */
  atStart(): void {
    const port = this.deps.federationPort();
    if (!this.deps.allowed() || !port || this.mapper.mapping || this.early.asking) return;
    if (!ownAddressesArePrivate(this.deps.listenHost ?? '0.0.0.0')) return;
    this.early.ask(
      () => this.mapper.map(port),
      (mapped) => {
        if (mapped.ok) {
          this.deps.log.info({ event: 'port_mapped_at_start', external: describe(mapped.mapping) }, 'this node is behind a router: asked it to forward the federation port');
          this.deps.onChange();
        } else {
          this.deps.log.info({ event: 'port_mapping_at_start_failed', error: mapped.error }, 'this node is behind a router that did not forward the federation port');
        }
      },
    );
  }

  /** Waits for the mapping asked for at start, if it is under way (the self-test tests what it made). */
  async settled(): Promise<void> {
    await this.early.settled();
  }

  /**
   * Judges a mapping made at start by the first conclusive self-test: one that failed through it
   * removes it (it does not help), and that failure counts as confirmed (the router is not asked
   * again). Returns the words to add to the result's error when it was removed, else null.
   */
  async judge(result: CheckResult): Promise<string | null> {
    const removed = await this.early.judge(ipv4Verdict(result), this.mapper.mapping);
    return removed ? `A port mapping was made at start (${describe(removed)}) but did not help, so it was removed.` : null;
  }

  /** Whether a failed self-test may ask the router for a mapping (none held, asking allowed, a port to map). */
  mayMap(): boolean {
    return this.deps.allowed() && !this.mapper.mapping && Boolean(this.deps.federationPort());
  }

  /**
   * After a failed self-test (`failed`, answered by `first`): asks the router for a mapping and
   * tests again through it. Its result (the new test's when it passed; otherwise the failure,
   * with what the router did), and whether that was a second failure in a row (it confirms the
   * first); null when the node stopped meanwhile (the mapping is removed).
   */
  async mapAndTest(failed: CheckResult, first: string | undefined): Promise<{ result: CheckResult; failedTwice: boolean } | null> {
    const mapped = await this.mapper.map(this.deps.federationPort()!);
    if (this.stopped) {
      await this.mapper.remove();
      return null;
    }
    if (!mapped.ok) return { result: { ...failed, error: `${failed.error} Automatic setup failed: ${mapped.error}.` }, failedTwice: false };
    const again = await this.probeThroughMapping(first);
    if (again === null) {
      await this.mapper.remove();
      return null;
    }
    // Reached over IPv6 only: the mapping (IPv4) did not help, the node is reachable all the same.
    if (again.reachable && ipv4Verdict(again) === false) {
      await this.mapper.remove();
      return { result: again, failedTwice: false };
    }
    if (again.reachable) {
      this.deps.log.info({ event: 'reachable_through_mapping', external: `${mapped.mapping.external_address}:${mapped.mapping.external_port}` }, 'reachable through the router\'s port mapping');
      return { result: again, failedTwice: false };
    }
    // It did not help (carrier-grade NAT, or the peer knows us under another address): take it away again.
    await this.mapper.remove();
    return { result: { ...failed, error: `${failed.error} A port mapping was made (${describe(mapped.mapping)}) but did not help, so it was removed.` }, failedTwice: again.reachable === false };
  }

  /** Removes the mapping (a new network). */
  async remove(): Promise<void> {
    await this.mapper.remove();
  }

  /** Removes the mapping (a clean stop); one made after this is removed as it comes. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.mapper.remove();
  }

  /**
   * The test through a fresh mapping, asking no peer within its probe limit (one probe per 30 s
   * by default: asked sooner, it answers 429 and gives no verdict). `first` answered the failed
   * test a moment ago: the other peers that may be asked now are asked at once; when none may,
   * or none gave a verdict, the test waits until the first of these peers may be asked again
   * (`first`, as a rule) and asks those that may. Null when the node stopped before it asked.
   */
  private async probeThroughMapping(first: string | undefined): Promise<CheckResult | null> {
    const proof = this.deps.proof;
    const peers = [...(first === undefined ? [] : [first]), ...this.deps.candidates().filter((p) => p !== first).slice(0, first === undefined ? 3 : 2)];
    if (peers.length === 0) return proof.probe();
    const askable = () => peers.filter((p) => proof.askableAt(p) <= Date.now());
    let last: CheckResult | null = null;
    const ready = askable();
    if (ready.length > 0) {
      last = await proof.probe(undefined, ready);
      if (last.reachable !== null || this.stopped) return last;
    }
    const next = peers.reduce((a, b) => (proof.askableAt(b) < proof.askableAt(a) ? b : a));
    const wait = proof.askableAt(next) - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait).unref());
    if (this.stopped) return last;
    const then = askable();
    return proof.probe(undefined, then.includes(next) ? then : [next, ...then]);
  }
}

function describe(m: MappingInfo): string {
  return `${m.protocol} ${m.external_address}:${m.external_port}`;
}

/**
 * What a self-test says of the IPv4 mapping: the IPv4 part of it when the peer told which families
 * reached us (one that reached us over IPv6 alone says nothing good of it: a red team, 2026-12-01,
 * found such a mapping kept and named), else the whole verdict (older peers tell no families).
 */
function ipv4Verdict(result: CheckResult): boolean | null {
  return result.families ? result.families.ipv4 : result.reachable;
}
