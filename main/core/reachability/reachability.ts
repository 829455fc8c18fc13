/**
 * Reachability (issue #15): can our peers reach us, and if not, what do we do about it. This
 * file runs the self-test and composes its parts, each built here through its constructor:
 *
 *  - Self-test: we ask a peer to call us back where it knows us; its answer (reachable, or in
 *    plain words why not) is our status, believed on one peer's word only with proof
 *    (reach-proof.ts). Run at start, when the machine's network addresses change
 *    (own-addresses.ts), on demand (admin `POST /reachability/check`, CLI `reach-test`), when the
 *    first peer is added, every half hour while reachable, and when a peer reports that its
 *    deliveries to us fail (peer-reports.ts).
 *  - Port mapping (mapping-keeper.ts): not reachable (and not `--no-port-mapping`) → ask the
 *    router for a mapping and test again through it; a node behind a router asks at start.
 *  - IPv6 pinhole (issue #32 item 4; pinhole-keeper.ts): asked for at start and on a new network,
 *    kept only if the first self-test that tried IPv6 reached us, closed on stop.
 *  - Pull mode: `--pull`, or unreachable with no working mapping → the Puller pulls our events
 *    from our peers, and our discovery advertises the `pull` capability; one failed test does
 *    not switch to it before a second confirms it (the hysteresis, pull-switch.ts).
 *  - What `GET /reachability` answers of it: reachability-status.ts.
 */
import type { Logger } from 'pino';
import type { Identity } from '../identity/identity.ts';
import type { HttpClient } from '../federation/http-client.ts';
import type { Discovery } from '../federation/discovery.ts';
import type { TrustStore } from '../trust/trust-store.ts';
import type { GatewayThread } from './gateway-thread.ts';
import { PinholeKeeper } from './pinhole-keeper.ts';
import { MappingKeeper } from './mapping-keeper.ts';
import { PeerReports } from './peer-reports.ts';
import { PullSwitch } from './pull-switch.ts';
import { ReachProof } from './reach-proof.ts';
import { addressFingerprint } from './own-addresses.ts';
import { NO_PEER, noPeerNow, statusView, type CheckResult, type PeerCounts, type ReachabilityState } from './reachability-status.ts';
import { reachabilitySummary } from '../../../shared/reachability-words.ts';
import { PULL_CAPABILITY } from '../federation/paths.ts';
import { guarded } from '../util/guarded.ts';

export type { CheckResult, ReachabilityState } from './reachability-status.ts';

export interface ReachabilityDeps {
  trust: TrustStore;
  http: HttpClient;
  discovery: Discovery;
  identity: () => Identity | null;
  federationUrl: () => string | null;
  federationPort: () => number | null;
  /** How this node receives while nobody can reach it (the Puller, and the mailbox fetcher). */
  puller: { start(): void; stop(): Promise<void> };
  log: Logger;
  forcePull: boolean;
  portMapping: boolean;
  watchSeconds?: number;
  recheckSeconds?: number;
  /** A peer's report that its deliveries fail starts a test at most this often (default 300). */
  reportGapSeconds?: number;
  /** The friends whose mailboxes we fetched from lately (issue #32): said in the summary while in pull mode. */
  mailboxSources?: () => string[];
  /** A peer that redeemed our link from where we could not call it back (pull-queue.ts): not asked to test us. */
  neverReached?: (server: string) => boolean;
  /** Seconds between a failed self-test and the test that confirms it (default 31). */
  confirmSeconds?: number;
  /** Where port mapping and the IPv6 pinhole ask the router (the node's gateway worker; its stop is the node's). */
  gateway: GatewayThread;
  gatewayAddress?: string;
  /** The federation listener's host: its own address, or a wildcard (every interface's). */
  listenHost?: string;
  onChange: () => void;
}

/** A conclusive result this young answers the owner when every peer refused a new probe with 429. */
const RECENT_RESULT_MS = 30_000;

export class Reachability {
  private readonly deps: ReachabilityDeps;
  private readonly proof: ReachProof;
  private readonly mapping: MappingKeeper;
  private readonly pinholes: PinholeKeeper;
  private readonly pullSwitch: PullSwitch;
  private readonly reports: PeerReports;
  private readonly peers: PeerCounts;
  private state: CheckResult;
  private running: Promise<CheckResult> | null = null;
  private watchTimer: NodeJS.Timeout | null = null;
  private unsubscribePeers: (() => void) | null = null;
  /** How many peers could be asked when the last test began: none, and a peer added tests at once. */
  private askableAtLastCheck: number | null = null;
  private lastAddresses = '';
  private lastCheckAt = 0;
  private stopped = false;

  constructor(deps: ReachabilityDeps) {
    this.deps = deps;
    const candidates = () => this.candidates();
    const allowed = () => !deps.forcePull && deps.portMapping;
    this.peers = { askable: () => this.candidates().length, peers: () => deps.trust.list().length };
    this.pullSwitch = new PullSwitch({
      forcePull: deps.forcePull,
      candidates,
      ...(deps.confirmSeconds !== undefined ? { confirmSeconds: deps.confirmSeconds } : {}),
      confirm: () => {
        if (!this.stopped) void this.check().catch(() => undefined);
      },
    });
    this.pinholes = new PinholeKeeper({ log: deps.log, gateway: deps.gateway, ...(deps.listenHost ? { listenHost: deps.listenHost } : {}), federationPort: deps.federationPort, allowed, onChange: deps.onChange });
    this.proof = new ReachProof({
      http: deps.http, discovery: deps.discovery, identity: deps.identity, log: deps.log, candidates,
      nobodyToAsk: () => noPeerNow(null, this.peers).error ?? NO_PEER,
      context: () => ({ endpoint: deps.federationUrl(), mode: this.mode, mapping: this.mapping.view(), pinhole: this.pinholes.pinhole }),
    });
    this.mapping = new MappingKeeper({
      log: deps.log, gateway: deps.gateway, ...(deps.gatewayAddress ? { gatewayAddress: deps.gatewayAddress } : {}), ...(deps.listenHost ? { listenHost: deps.listenHost } : {}),
      federationPort: deps.federationPort, allowed, proof: this.proof, candidates, onChange: deps.onChange,
    });
    this.reports = new PeerReports({
      log: deps.log, candidates, running: () => this.running, latest: () => this.state, check: (via) => this.check(via),
      ...(deps.reportGapSeconds !== undefined ? { gapSeconds: deps.reportGapSeconds } : {}),
    });
    this.state = { reachable: null, checked_at: null, via: null, endpoint: null, mode: deps.forcePull ? 'pull' : 'push', mapping: null, error: null, status: null, latency_ms: null };
  }

  get mode(): 'push' | 'pull' {
    return this.pullSwitch.mode;
  }

  /** Capabilities to add to discovery (`pull` while we receive by pull). */
  capabilities(): string[] {
    return this.mode === 'pull' ? [PULL_CAPABILITY] : [];
  }

  status(): ReachabilityState {
    return statusView(this.state, this.peers, {
      mode: this.mode, mapping: this.mapping.view(), pinhole: this.pinholes.pinhole,
      mailboxes: () => this.deps.mailboxSources?.() ?? [], nextTestAt: this.pullSwitch.nextTestAt(),
    });
  }

  /** Short words for the tray and the dashboard. */
  summary(): string {
    return reachabilitySummary(this.status(), this.deps.federationPort());
  }

  start(): void {
    this.stopped = false;
    this.reports.start();
    if (this.mode === 'pull') this.deps.puller.start();
    this.lastAddresses = addressFingerprint();
    this.mapping.start();
    this.pinholes.atStart();
    // The first peer added (the admin API, the CLI, a link redeemed) is asked to test us at once,
    // not at the watch's next tick (up to 30 s later). Called inside the adding transaction: the
    // test starts after it.
    this.unsubscribePeers?.();
    this.unsubscribePeers = this.deps.trust.onPeersChange(() => {
      if (this.state.status === 'no_peer') setImmediate(() => guarded(this.deps.log, 'reachability_first_peer_failed', () => this.firstPeerAdded()));
    });
    const watch = (this.deps.watchSeconds ?? 30) * 1000;
    if (watch > 0) {
      const first = setTimeout(() => void this.check().catch(() => undefined), 1_000);
      first.unref();
      this.watchTimer = setInterval(() => guarded(this.deps.log, 'reachability_tick_failed', () => this.tick()), watch);
      this.watchTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribePeers?.();
    this.unsubscribePeers = null;
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = null;
    this.pullSwitch.stop();
    this.reports.stop();
    // A self-test under way is not waited for (it may wait on a slow peer); a mapping it makes
    // after this point is removed by itself (mapping-keeper.ts).
    await Promise.all([this.deps.puller.stop(), this.mapping.stop(), this.pinholes.stop()]);
  }

  /**
   * A peer was added or its trust changed: the test runs now if the last one had nobody to ask and
   * somebody can be asked now. Not when peers were asked and none could answer (their probe
   * limit, down): that status is 'no_peer' too, and a stranger's auto-quarantine (a peer change)
   * must not send our peers probe after probe; the watch re-tests then.
   */
  private firstPeerAdded(): void {
    if (this.stopped || this.running || this.state.status !== 'no_peer' || this.askableAtLastCheck !== 0 || this.candidates().length === 0) return;
    void this.check().catch(() => undefined);
  }

  /** Periodic: network change, first peer added (one not reached when added), routine re-test. */
  private tick(): void {
    if (this.stopped || this.running) return;
    const addresses = addressFingerprint();
    const changed = addresses !== this.lastAddresses;
    // Read before the new addresses are kept: a failing read (the database) leaves the change for the next tick.
    const firstPeer = this.state.status === 'no_peer' && this.candidates().length > 0;
    this.lastAddresses = addresses;
    const recheck = Date.now() - this.lastCheckAt > (this.deps.recheckSeconds ?? 1800) * 1000;
    if (changed) this.deps.log.info({ event: 'network_changed' }, 'network addresses changed: testing reachability again');
    // A new network: a mapping and the links kept to peers (the persistent link) made on the old one may be dead.
    const ready = changed
      ? Promise.all([this.mapping.remove(), this.pinholes.remove(), this.deps.http.dropConnections()]).then(() => {
          this.mapping.atStart();
          this.pinholes.atStart();
        })
      : Promise.resolve();
    if (changed || firstPeer || recheck) void ready.then(() => this.check()).catch(() => undefined);
  }

  /** A peer said (response header) that its deliveries to us time out or are refused: test again through it (peer-reports.ts). */
  peerReportsFailing(peer: string): void {
    this.reports.failing(peer);
  }

  /**
   * `GET /reach-probe/echo/<nonce>` reached our listener: whether a probe of ours waits for that
   * nonce (reach-proof.ts).
   */
  echo(nonce: string): boolean {
    return this.proof.echo(nonce);
  }

  /**
   * A friend whose invite link we redeemed tried to call us back and could not (issue #32): that
   * was a reachability test through it, and we receive by pull at once rather than after a
   * routine test (which may be half an hour away). A later successful test ends pull mode as usual.
   */
  notReachedBy(peer: string, error: string): void {
    if (this.stopped) return;
    const wasPull = this.mode === 'pull';
    this.pullSwitch.pullNow();
    this.state = { reachable: false, checked_at: Date.now(), via: peer, endpoint: this.deps.federationUrl(), mode: this.mode, mapping: this.mapping.view(), error: `${peer} could not reach this node: ${error}`, status: 'unreachable', latency_ms: null };
    if (!wasPull) {
      this.deps.log.warn({ event: 'pull_mode_on', reason: this.state.error, via: peer }, 'a friend could not call this node back when peering: receiving through pull mode');
      this.deps.discovery.forget(this.deps.identity()?.serverName ?? '');
      this.deps.puller.start();
    }
    this.deps.onChange();
  }

  /** The owner asked, or something changed: test now. */
  check(via?: string): Promise<CheckResult> {
    if (this.running && via === undefined) return this.running;
    const run = this.run(via).finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }

  /**
   * The owner asked ("Test now", `reach-test`, `POST /reachability/check`): a fresh test. One
   * already under way began before the owner asked (before a fix of theirs, say): it is waited
   * for, and a new one runs after it; answering with its result would say how things were before
   * the fix. When every peer asked refused only because of its probe limit
   * (429: a peer answers one probe per 30 s by default, and the node tests itself a second after
   * start and when the first peer is added, often just before the owner asks), a conclusive
   * result younger than that window answers instead, with its own `checked_at`.
   */
  async requested(via?: string): Promise<CheckResult> {
    const matches = (r: { reachable: boolean | null; via: string | null }) => r.reachable !== null && (via === undefined || r.via === via);
    if (this.running) await this.running.catch(() => null);
    const before = this.state;
    const result = await this.check(via);
    if (result.reachable === null && this.proof.lastProbeOnlyRateLimited && matches(before) && before.checked_at !== null && Date.now() - before.checked_at < RECENT_RESULT_MS) {
      return { ...before, mode: this.mode, mapping: this.mapping.view(), pinhole: this.pinholes.pinhole };
    }
    return result;
  }

  private candidates(): string[] {
    return this.deps.trust
      .list()
      // A peer whose endpoint we never reached cannot be asked (issue #32): nothing is sent where it said it lives.
      .filter((s) => s.trust === 'allow' && !this.deps.neverReached?.(s.server_name))
      .sort((a, b) => (b.last_seen_at ?? 0) - (a.last_seen_at ?? 0))
      .map((s) => s.server_name);
  }

  private async run(via?: string): Promise<CheckResult> {
    this.lastCheckAt = Date.now();
    this.askableAtLastCheck = this.candidates().length;
    // The mapping and the pinhole asked for at start are part of what this test tests.
    await this.mapping.settled();
    await this.pinholes.settled();
    // Confirming an earlier failure: through the other peers first, the one that answered last.
    const confirming = this.pullSwitch.waiting;
    let result = await this.proof.probe(via, confirming ? this.pullSwitch.confirmationOrder(confirming.via) : undefined);
    // Made at start and the first real test through it failed: it does not help, and was removed.
    // A test through a fresh mapping that fails is the confirming test: the router is not asked again.
    const removed = await this.mapping.judge(result);
    /** Two tests in a row said "not reachable" (the second through a fresh port mapping). */
    // (A mapping removed while IPv6 reached the node: reachable all the same, no failure to confirm.)
    let failedTwice = removed !== null && result.reachable === false;
    if (removed) result = { ...result, error: result.error ? `${result.error} ${removed}` : removed };
    // The pinhole is judged by the IPv6 part of the test alone (pinhole-keeper.ts).
    const closed = await this.pinholes.judge(result);
    if (closed && result.error) result = { ...result, error: `${result.error} ${closed}` };
    // (The router was asked moments ago when this confirms an earlier failure.)
    if (result.reachable === false && !confirming && !failedTwice && this.mapping.mayMap()) {
      // Say so while the router is asked ("Not reachable: … trying automatic setup").
      this.state = { ...result, mode: 'push', mapping: null };
      this.deps.onChange();
      const tried = await this.mapping.mapAndTest(result, result.via ?? via);
      if (!tried) return { ...result, mode: this.mode, mapping: null };
      result = tried.result;
      failedTwice = tried.failedTwice;
    }
    if (this.stopped) return { ...result, mode: this.mode, mapping: this.mapping.view(), pinhole: this.pinholes.pinhole };
    const wasPull = this.mode === 'pull';
    result = this.pullSwitch.conclude(result, confirming !== null || failedTwice, via !== undefined);
    if (this.mode === 'pull' && !wasPull) {
      this.deps.log.warn({ event: 'pull_mode_on', reason: result.error }, 'nobody can reach this node: receiving through pull mode');
      this.deps.discovery.forget(this.deps.identity()?.serverName ?? '');
      this.deps.puller.start();
    } else if (this.mode === 'push' && wasPull) {
      this.deps.log.info({ event: 'pull_mode_off' }, 'reachable again: peers push to this node');
      void this.deps.puller.stop();
    }
    const answered = { ...result, mode: this.mode, mapping: this.mapping.view(), pinhole: this.pinholes.pinhole };
    // Peers exist but none could be asked (rate limit, a peer down): the last conclusion stands.
    const inconclusive = result.reachable === null && this.state.reachable !== null && this.candidates().length > 0;
    if (!inconclusive) this.state = answered;
    // Still waiting for a confirmation that found nobody to ask: say when it asks again.
    else if (this.pullSwitch.waiting) this.state = { ...this.state, error: this.pullSwitch.unconfirmedError() };
    this.deps.log.info({ event: 'reachability_checked', reachable: result.reachable, via: result.via, status: result.status, error: result.error, mode: this.mode }, 'reachability self-test done');
    this.deps.onChange();
    return answered;
  }
}
