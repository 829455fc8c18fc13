/**
 * Reachability (issue #15): can our peers reach us, and if not, what do we do about it.
 *
 *  - Self-test: we ask a peer (`POST /reach-probe`, signed) to call us back where it knows us;
 *    its answer (reachable, or in plain words why not) is our status. A "reachable" is believed
 *    on one peer's word only when our listener served that probe's nonce to it during the probe
 *    (`GET /reach-probe/echo/<nonce>`); otherwise (an older node, or a peer that says so without
 *    having reached us) a second, different peer must agree (probe(); docs/SECURITY.md
 *    §Reachability 1c). Run at start, when the
 *    machine's network addresses change, on demand (admin `POST /reachability/check`, CLI
 *    `reach-test`), when the first peer is added, and every half hour while reachable.
 *  - Port mapping: not reachable (and not `--no-port-mapping`) → ask the router for a mapping
 *    (port-mapping.ts) and test again through it; the external address is published only once
 *    that test passes; a mapping that does not help is removed. A node whose own addresses are
 *    all private (RFC 1918, CGNAT, unique-local) asks at start, before it has a peer to test
 *    through (issue #32): the first self-test with a peer keeps that mapping only if it passes.
 *  - IPv6 pinhole (issue #32 item 4; pinhole-keeper.ts): asked for at start and on a new network,
 *    kept only if the first self-test that tried IPv6 reached us, closed on stop.
 *  - Pull mode: `--pull`, or unreachable with no working mapping → the Puller pulls our events
 *    from our peers, and our discovery advertises the `pull` capability.
 *  - Hysteresis: one failed test does not switch to pull mode (a peer slow to answer, a network
 *    blip would). The failure must be confirmed by a second test `confirmSeconds` later (31 by
 *    default: past a peer's 30-s per-peer probe limit), through another peer first; a test
 *    through a fresh port mapping that still fails counts as that second test. Meanwhile the
 *    node keeps receiving by push and says "Not reachable: testing again". One successful test
 *    (proven, or agreed by two peers) switches pull mode off again.
 */
import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { classifyAddress } from '../federation/address-policy.ts';
import type { Logger } from 'pino';
import type { Identity } from '../identity/identity.ts';
import type { HttpClient } from '../federation/http-client.ts';
import type { Discovery } from '../federation/discovery.ts';
import type { TrustStore } from '../trust/trust-store.ts';
import type { ProbeStatus } from './probe-caller.ts';
import { PortMapper, type MappingInfo } from './port-mapping.ts';
import { PinholeKeeper } from './pinhole-keeper.ts';
import { cleanText } from '../util/untrusted-text.ts';
import { PEER_TEXT_MAX } from '../federation/peer-refusal.ts';
import { NOBODY_COULD_ASK, NO_PEER_CAN_TEST, NO_PEER_YET, reachabilitySummary, testingAgainNote } from '../../../shared/reachability-words.ts';
import type { Reachability as ReachabilityContract } from '../../../shared/contract/admin-operations.ts';
import { PULL_CAPABILITY, REACH_PROBE_PATH } from '../federation/paths.ts';

const PROBE_STATUSES = new Set<ProbeStatus>(['reachable', 'timeout', 'refused', 'tls_mismatch', 'wrong_server', 'name_not_found', 'address_refused', 'http_error', 'unreachable']);

/** What `GET /reachability` answers (the contract's type; docs/ARCHITECTURE.md §What outside tools rely on). */
export type ReachabilityState = ReachabilityContract;

export interface CheckResult extends ReachabilityState {
  status: ProbeStatus | 'no_peer' | null;
  latency_ms: number | null;
}

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
  gatewayAddress?: string;
  /** The federation listener's host: its own address, or a wildcard (every interface's). */
  listenHost?: string;
  onChange: () => void;
}

/** Default of `confirmSeconds`: just past a peer's default per-peer probe limit (30 s). */
export const DEFAULT_CONFIRM_SECONDS = 31;
/** An unconfirmed failure whose confirming test could not ask anybody is tested again, later each time, up to this. */
const MAX_CONFIRM_SECONDS = 600;

/** A report's test that reached no verdict is made once more this long after (a peer's default probe limit is one per 30 s). */
const REPORT_RETRY_MS = 31_000;

/** A conclusive result this young answers the owner when every peer refused a new probe with 429. */
const RECENT_RESULT_MS = 30_000;

const NO_PEER = `${NO_PEER_YET}: this node will test whether friends can reach it once the first peer is added`;
/** Peers, but none that may be asked: the owner's block or quarantine, or an endpoint never reached (issue #32). */
const NO_PEER_ASKABLE = `${NO_PEER_CAN_TEST}: every peer is blocked, in quarantine or not reached yet`;

export class Reachability {
  private readonly deps: ReachabilityDeps;
  private readonly mapper: PortMapper;
  private state: CheckResult;
  private running: Promise<CheckResult> | null = null;
  private watchTimer: NodeJS.Timeout | null = null;
  private lastAddresses = '';
  private lastCheckAt = 0;
  private lastReportAt = 0;
  /**
   * A peer's report that came while a test ran, or within the gap after the last one tested: it
   * is tested once those end (the latest reporter, with when it reported), never dropped.
   */
  private pendingReport: { peer: string; at: number; retry?: boolean } | null = null;
  /** When a report of each peer was last tested again for want of a verdict: once per gap each. */
  private readonly reportRetries = new Map<string, number>();
  private reportTimer: NodeJS.Timeout | null = null;
  private reportWaitsForRun = false;
  private stopped = false;
  /** The node concluded by itself that it must receive by pull. */
  private autoPull = false;
  /** A failed test waiting for the one that confirms it (hysteresis): who answered, and how often confirming found nobody to ask. */
  private unconfirmed: { via: string | null; error: string; inconclusive: number; nextInSeconds: number } | null = null;
  private confirmTimer: NodeJS.Timeout | null = null;
  /** When `confirmTimer` fires (Date.now()). */
  private confirmAt = 0;
  /** The last probe asked at least one peer, and every one refused with 429 (its probe limit). */
  private lastProbeOnlyRateLimited = false;
  /** The mapping asked for at start, before any self-test: the first self-test waits for it. */
  private earlyMapping: Promise<void> | null = null;
  /** The current mapping was made at start and no self-test through it has passed yet. */
  private mappingUntested = false;
  private readonly pinholes: PinholeKeeper;
  /** The nonces of our probes waiting for their answer, and whether our listener served each (echo()). */
  private readonly nonces = new Map<string, { served: boolean }>();

  constructor(deps: ReachabilityDeps) {
    this.deps = deps;
    this.mapper = new PortMapper({ ...(deps.gatewayAddress ? { gatewayAddress: deps.gatewayAddress } : {}), log: deps.log, onRenewed: deps.onChange });
    this.pinholes = new PinholeKeeper({
      log: deps.log,
      ...(deps.listenHost ? { listenHost: deps.listenHost } : {}),
      federationPort: deps.federationPort,
      allowed: () => !deps.forcePull && deps.portMapping,
      onChange: deps.onChange,
    });
    this.state = { reachable: null, checked_at: null, via: null, endpoint: null, mode: deps.forcePull ? 'pull' : 'push', mapping: null, error: null, status: null, latency_ms: null };
  }

  get mode(): 'push' | 'pull' {
    return this.deps.forcePull || this.autoPull ? 'pull' : 'push';
  }

  /** Capabilities to add to discovery (`pull` while we receive by pull). */
  capabilities(): string[] {
    return this.mode === 'pull' ? [PULL_CAPABILITY] : [];
  }

  status(): ReachabilityState {
    const { status: _s, latency_ms: _l, ...kept } = this.state;
    // A test that found no peer, or none to ask, says what holds now (peers added, blocked or
    // allowed since): not "will be tested once the first peer is added" beside a list of friends
    // (the UI checks of 2026-11-27 and 2026-11-28).
    // So does one that found peers but none that could run it, once none may be asked at all now
    // (its only friend blocked since: "none can run the test", not "none could just now").
    const nobodyCouldNorCan = kept.error?.startsWith(NOBODY_COULD_ASK) === true && this.candidates().length === 0;
    const state = kept.error === NO_PEER || kept.error === NO_PEER_ASKABLE || nobodyCouldNorCan ? { ...kept, ...this.noPeerNow(kept.checked_at) } : kept;
    const mailboxes = this.mode === 'pull' ? (this.deps.mailboxSources?.() ?? []) : [];
    const nextTest = this.unconfirmed && this.confirmTimer ? { next_test_at: this.confirmAt } : {};
    return { ...state, mode: this.mode, mapping: this.mappingView(), pinhole: this.pinholes.pinhole, ...(mailboxes.length > 0 ? { mailboxes } : {}), ...nextTest };
  }

  /** After a test that found nobody to ask: not tested yet when someone can be asked now; otherwise why not, as it stands now. */
  private noPeerNow(checkedAt: number | null): { checked_at: number | null; error: string | null } {
    if (this.candidates().length > 0) return { checked_at: null, error: null };
    return { checked_at: checkedAt, error: this.deps.trust.list().length > 0 ? NO_PEER_ASKABLE : NO_PEER };
  }

  /** Short words for the tray and the dashboard. */
  summary(): string {
    return reachabilitySummary(this.status(), this.deps.federationPort());
  }

  private mappingView(): ReachabilityState['mapping'] {
    const m = this.mapper.mapping;
    return m ? { protocol: m.protocol, external_address: m.external_address, external_port: m.external_port, expires_at: m.expires_at } : null;
  }

  start(): void {
    this.stopped = false;
    if (this.mode === 'pull') this.deps.puller.start();
    this.lastAddresses = addressFingerprint();
    this.mapAtStart();
    this.pinholes.atStart();
    const watch = (this.deps.watchSeconds ?? 30) * 1000;
    if (watch > 0) {
      const first = setTimeout(() => void this.check().catch(() => undefined), 1_000);
      first.unref();
      this.watchTimer = setInterval(() => this.tick(), watch);
      this.watchTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = null;
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
    this.confirmTimer = null;
    if (this.reportTimer) clearTimeout(this.reportTimer);
    this.reportTimer = null;
    // A self-test under way is not waited for (it may wait on a slow peer); a mapping it makes
    // after this point is removed by itself (see run()).
    await Promise.all([this.deps.puller.stop(), this.mapper.remove(), this.pinholes.stop()]);
  }

  /**
   * Behind a home router (every address of ours is private), ask for a mapping now, as Syncthing
   * does: there may be no peer yet to run the self-test that would otherwise ask for it, and a
   * friend redeeming our invite link must be able to call us back. Kept until a self-test says
   * it does not help.
   */
  private mapAtStart(): void {
    const port = this.deps.federationPort();
    if (this.deps.forcePull || !this.deps.portMapping || !port || this.mapper.mapping || this.earlyMapping) return;
    if (!ownAddressesArePrivate(this.deps.listenHost ?? '0.0.0.0')) return;
    this.earlyMapping = this.mapper
      .map(port)
      .then(async (mapped) => {
        if (this.stopped) return void (await this.mapper.remove());
        if (mapped.ok) {
          this.mappingUntested = true;
          this.deps.log.info({ event: 'port_mapped_at_start', external: describe(mapped.mapping) }, 'this node is behind a router: asked it to forward the federation port');
          this.deps.onChange();
        } else {
          this.deps.log.info({ event: 'port_mapping_at_start_failed', error: mapped.error }, 'this node is behind a router that did not forward the federation port');
        }
      })
      .catch(() => undefined)
      .finally(() => (this.earlyMapping = null));
  }

  /** Periodic: network change, first peer added, routine re-test. */
  private tick(): void {
    if (this.stopped || this.running) return;
    const addresses = addressFingerprint();
    const changed = addresses !== this.lastAddresses;
    this.lastAddresses = addresses;
    const firstPeer = this.state.status === 'no_peer' && this.candidates().length > 0;
    const recheck = Date.now() - this.lastCheckAt > (this.deps.recheckSeconds ?? 1800) * 1000;
    if (changed) this.deps.log.info({ event: 'network_changed' }, 'network addresses changed: testing reachability again');
    // A new network: a mapping and the links kept to peers (the persistent link) made on the old one may be dead.
    const ready = changed
      ? Promise.all([this.mapper.remove(), this.pinholes.remove(), this.deps.http.dropConnections()]).then(() => {
          this.mapAtStart();
          this.pinholes.atStart();
        })
      : Promise.resolve();
    if (changed || firstPeer || recheck) void ready.then(() => this.check()).catch(() => undefined);
  }

  /**
   * A peer said (response header) that its deliveries to us time out or are refused: test again
   * through it, at most once per gap (5 minutes by default; reports recur while its deliveries
   * fail). A report that comes while a test runs, or within the gap, is tested when those end:
   * dropped, it could be the only one for a long while (the header comes only on answers to our
   * requests to that peer), and the node would go on waiting for pushes that cannot reach it
   * until its routine test half an hour later. A test through that peer that concluded after the
   * report answers it.
   */
  peerReportsFailing(peer: string): void {
    // Only a peer that could test us (the header comes with any answer to our requests).
    if (this.stopped || !this.candidates().includes(peer)) return;
    // A report again while its retry waits keeps that retry's place (not a new retry of its own).
    if (this.pendingReport?.peer === peer && this.pendingReport.retry) return;
    this.pendingReport = { peer, at: Date.now() };
    this.testReported();
  }

  private testReported(): void {
    const report = this.pendingReport;
    if (this.stopped || report === null || this.reportTimer || this.reportWaitsForRun) return;
    if (this.running) {
      this.reportWaitsForRun = true;
      void this.running.catch(() => undefined).then(() => {
        this.reportWaitsForRun = false;
        this.testReported();
      });
      return;
    }
    const state = this.state;
    if (state.reachable !== null && state.via === report.peer && (state.checked_at ?? 0) >= report.at) {
      this.pendingReport = null;
      return;
    }
    const gap = this.reportGapMs();
    const wait = this.lastReportAt + gap - Date.now();
    if (wait > 0) {
      // (At most the gap: a clock set back must not leave the report waiting for as long.)
      this.reportTimer = setTimeout(() => {
        this.reportTimer = null;
        this.testReported();
      }, Math.min(wait, gap));
      this.reportTimer.unref();
      return;
    }
    this.pendingReport = null;
    this.lastReportAt = Date.now();
    this.deps.log.info({ event: 'peer_reports_delivery_failing', peer: report.peer }, `${report.peer} says its deliveries to this node fail: testing reachability`);
    void this.check(report.peer).then((result) => {
      // No verdict (the reporter refused the probe: its limit, our test through it a moment
      // before): asked once more when its probe window is over, not left to the routine test;
      // once per gap for each peer, however often it reports.
      const now = Date.now();
      if (result.reachable !== null || report.retry || this.stopped || now - (this.reportRetries.get(report.peer) ?? -Infinity) < gap) return;
      this.reportRetries.set(report.peer, now);
      this.lastReportAt = Math.min(this.lastReportAt, now - gap + REPORT_RETRY_MS);
      this.pendingReport ??= { ...report, at: now, retry: true };
      this.testReported();
    }, () => undefined);
  }

  private reportGapMs(): number {
    return (this.deps.reportGapSeconds ?? 300) * 1000;
  }

  /**
   * A friend whose invite link we redeemed tried to call us back and could not (issue #32): that
   * was a reachability test through it, and we receive by pull at once rather than after a
   * routine test (which may be half an hour away). A later successful test ends pull mode as usual.
   */
  notReachedBy(peer: string, error: string): void {
    if (this.stopped) return;
    const wasPull = this.mode === 'pull';
    this.autoPull = true;
    this.clearUnconfirmed();
    this.state = { reachable: false, checked_at: Date.now(), via: peer, endpoint: this.deps.federationUrl(), mode: this.mode, mapping: this.mappingView(), error: `${peer} could not reach this node: ${error}`, status: 'unreachable', latency_ms: null };
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
    if (result.reachable === null && this.lastProbeOnlyRateLimited && matches(before) && before.checked_at !== null && Date.now() - before.checked_at < RECENT_RESULT_MS) {
      return { ...before, mode: this.mode, mapping: this.mappingView(), pinhole: this.pinholes.pinhole };
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
    // The mapping asked for at start is part of what this test tests.
    if (this.earlyMapping) await this.earlyMapping;
    await this.pinholes.settled();
    // Confirming an earlier failure: through the other peers first, the one that answered last.
    const confirming = this.unconfirmed;
    let result = await this.probe(via, confirming ? this.confirmationOrder(confirming.via) : undefined);
    /** Two tests in a row said "not reachable" (the second through a fresh port mapping). */
    let failedTwice = false;
    if (this.mappingUntested && result.reachable !== null) {
      this.mappingUntested = false;
      if (result.reachable === false && this.mapper.mapping) {
        // Made at start and the first real test through it failed: it does not help (today's rule).
        const made = describe(this.mapper.mapping);
        await this.mapper.remove();
        // A test through a fresh mapping that fails is the confirming test: the router is not asked again.
        failedTwice = true;
        result = { ...result, error: `${result.error} A port mapping was made at start (${made}) but did not help, so it was removed.` };
      }
    }
    // The pinhole is judged by the IPv6 part of the test alone (pinhole-keeper.ts).
    const closed = await this.pinholes.judge(result);
    if (closed && result.error) result = { ...result, error: `${result.error} ${closed}` };
    // (The router was asked moments ago when this confirms an earlier failure.)
    if (result.reachable === false && !confirming && !failedTwice && !this.deps.forcePull && this.deps.portMapping && !this.mapper.mapping && this.deps.federationPort()) {
      // Say so while the router is asked ("Not reachable: … trying automatic setup").
      this.state = { ...result, mode: 'push', mapping: null };
      this.deps.onChange();
      const mapped = await this.mapper.map(this.deps.federationPort()!);
      if (this.stopped) {
        await this.mapper.remove();
        return { ...result, mode: this.mode, mapping: null };
      }
      if (mapped.ok) {
        const again = await this.probeThroughMapping(result.via ?? via);
        if (again.reachable) {
          result = again;
          this.deps.log.info({ event: 'reachable_through_mapping', external: `${mapped.mapping.external_address}:${mapped.mapping.external_port}` }, 'reachable through the router\'s port mapping');
        } else {
          // It did not help (carrier-grade NAT, or the peer knows us under another address): take it away again.
          failedTwice = again.reachable === false;
          await this.mapper.remove();
          result = { ...result, error: `${result.error} A port mapping was made (${describe(mapped.mapping)}) but did not help, so it was removed.` };
        }
      } else {
        result = { ...result, error: `${result.error} Automatic setup failed: ${mapped.error}.` };
      }
    }
    if (this.stopped) return { ...result, mode: this.mode, mapping: this.mappingView(), pinhole: this.pinholes.pinhole };
    const wasPull = this.mode === 'pull';
    result = this.conclude(result, confirming !== null || failedTwice, via !== undefined);
    if (this.mode === 'pull' && !wasPull) {
      this.deps.log.warn({ event: 'pull_mode_on', reason: result.error }, 'nobody can reach this node: receiving through pull mode');
      this.deps.discovery.forget(this.deps.identity()?.serverName ?? '');
      this.deps.puller.start();
    } else if (this.mode === 'push' && wasPull) {
      this.deps.log.info({ event: 'pull_mode_off' }, 'reachable again: peers push to this node');
      void this.deps.puller.stop();
    }
    const answered = { ...result, mode: this.mode, mapping: this.mappingView(), pinhole: this.pinholes.pinhole };
    // Peers exist but none could be asked (rate limit, a peer down): the last conclusion stands.
    const inconclusive = result.reachable === null && this.state.reachable !== null && this.candidates().length > 0;
    if (!inconclusive) this.state = answered;
    // Still waiting for a confirmation that found nobody to ask: say when it asks again.
    else if (this.unconfirmed) this.state = { ...this.state, error: this.unconfirmedError() };
    this.deps.log.info({ event: 'reachability_checked', reachable: result.reachable, via: result.via, status: result.status, error: result.error, mode: this.mode }, 'reachability self-test done');
    this.deps.onChange();
    return answered;
  }

  /**
   * Hysteresis: a success ends pull mode at once; a failure turns it on only when confirmed (a
   * second failure in a row, or already in pull mode); a first failure waits for the test that
   * confirms it, and says so in its error. `named`: the test asked one peer the caller named (a
   * report, the owner's choice); without a verdict it leaves a confirmation that waits as it was
   * (a peer refusing our probes while it reports must not put the confirmation off again and again).
   */
  private conclude(result: CheckResult, confirmed: boolean, named = false): CheckResult {
    if (result.reachable === true) {
      this.autoPull = false;
      this.clearUnconfirmed();
      return result;
    }
    if (result.reachable === false) {
      if (confirmed || this.mode === 'pull') {
        this.autoPull = true;
        this.clearUnconfirmed();
        return result;
      }
      this.unconfirmed = { via: result.via, error: result.error ?? 'not reachable', inconclusive: 0, nextInSeconds: 0 };
    } else if (this.unconfirmed) {
      // A named peer without a verdict: the confirmation stays as scheduled (and is scheduled
      // again if its timer fired during this test, which it then joined).
      if (named) {
        if (!this.confirmTimer) this.scheduleConfirmation(this.unconfirmed);
        return result;
      }
      // Nobody could be asked to confirm: the failure stays unconfirmed; ask again later.
      this.unconfirmed.inconclusive += 1;
    } else {
      return result;
    }
    this.scheduleConfirmation(this.unconfirmed);
    return result.reachable === false ? { ...result, error: this.unconfirmedError() } : result;
  }

  /** The error of the failure waiting for confirmation, and when (through whom) it is tested again. */
  private unconfirmedError(): string | null {
    const u = this.unconfirmed;
    return u ? `${/[.!?]$/.test(u.error) ? u.error : `${u.error}.`} ${testingAgainNote(u.nextInSeconds, this.confirmationOrder(u.via)[0] ?? null)}` : null;
  }

  /** The peers to ask when confirming a failure that `failedVia` reported: the others first. */
  private confirmationOrder(failedVia: string | null): string[] {
    const all = this.candidates();
    return [...all.filter((p) => p !== failedVia), ...all.filter((p) => p === failedVia)].slice(0, 3);
  }

  private scheduleConfirmation(unconfirmed: NonNullable<Reachability['unconfirmed']>): void {
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
    const base = this.deps.confirmSeconds ?? DEFAULT_CONFIRM_SECONDS;
    const seconds = Math.min(MAX_CONFIRM_SECONDS, base * 2 ** unconfirmed.inconclusive);
    unconfirmed.nextInSeconds = seconds;
    this.confirmAt = Date.now() + seconds * 1000;
    this.confirmTimer = setTimeout(() => {
      this.confirmTimer = null;
      if (!this.stopped && this.unconfirmed) void this.check().catch(() => undefined);
    }, seconds * 1000);
    this.confirmTimer.unref();
  }

  private clearUnconfirmed(): void {
    this.unconfirmed = null;
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
    this.confirmTimer = null;
  }

  /**
   * The test through a fresh mapping: the same peer at once (its per-peer probe limit, 30 s by
   * default, may refuse it), then the other peers, then the same peer once its limit allows.
   */
  private async probeThroughMapping(first: string | undefined): Promise<CheckResult> {
    let last = await this.probe(first);
    if (last.reachable !== null || this.stopped) return last;
    for (const peer of this.candidates().filter((p) => p !== first).slice(0, 2)) {
      last = await this.probe(peer);
      if (last.reachable !== null || this.stopped) return last;
    }
    await new Promise((resolve) => setTimeout(resolve, 31_000).unref());
    return this.stopped ? last : this.probe(first);
  }

  /**
   * `GET /reach-probe/echo/<nonce>` reached our listener: whether a probe of ours waits for that
   * nonce (it then counts as served: the peer that answers that probe reached us).
   */
  echo(nonce: string): boolean {
    const waiting = this.nonces.get(nonce);
    if (!waiting) return false;
    waiting.served = true;
    return true;
  }

  /**
   * Asks one peer (the given one, or the first of `order` — by default our allowed peers — that
   * answers). A "reachable" is believed on one peer's word only with proof: our listener served
   * the nonce of that probe while it ran. Without it (an older node, or one that says so without
   * having reached us) a second, different peer must agree; a named peer's unproven "reachable"
   * asks up to two others. A "not reachable" is the answer as before (the hysteresis confirms it).
   */
  private async probe(via?: string, order?: string[]): Promise<CheckResult> {
    const base = { checked_at: Date.now(), endpoint: this.deps.federationUrl(), mode: this.mode, mapping: this.mappingView(), pinhole: this.pinholes.pinhole };
    const identity = this.deps.identity();
    const candidates = via ? [via] : (order ?? this.candidates()).slice(0, 3);
    if (!identity || candidates.length === 0) {
      const error = via ? `${via} is not a peer` : (this.noPeerNow(null).error ?? NO_PEER);
      return { ...base, reachable: null, via: null, error, status: 'no_peer', latency_ms: null };
    }
    // A named peer's unproven "reachable" is put to others (never more than 3 asked in all).
    const others = via ? this.candidates().filter((p) => p !== via).slice(0, 2) : [];
    const problems: string[] = [];
    let rateLimited = 0;
    let asked = 0;
    const unproven: CheckResult[] = [];
    this.lastProbeOnlyRateLimited = false;
    for (const peer of [...candidates, ...others]) {
      if (asked >= candidates.length && unproven.length === 0) break;
      asked += 1;
      const answer = await this.ask(identity, peer, base);
      if ('problem' in answer) {
        if (answer.rateLimited) rateLimited += 1;
        problems.push(answer.problem);
        continue;
      }
      if (answer.result.reachable === false || answer.proven) return answer.result;
      unproven.push(answer.result);
      this.deps.log.info({ event: 'reach_answer_unproven', peer }, `${peer} says this node is reachable, but this node's listener did not serve that probe's nonce: another peer must agree`);
      if (unproven.length >= 2) {
        const agreeing = unproven.map((r) => r.via).join(' and ');
        this.deps.log.info({ event: 'reachable_by_agreement', peers: unproven.map((r) => r.via) }, `${agreeing} both say this node is reachable`);
        return unproven[0]!;
      }
    }
    this.lastProbeOnlyRateLimited = asked > 0 && rateLimited === asked;
    const lone = unproven[0];
    if (lone) problems.unshift(`${lone.via} says this node is reachable, but without proof (it did not fetch this test's nonce from this node) and no other peer agreed`);
    return { ...base, reachable: null, via: null, error: `${NOBODY_COULD_ASK}: ${problems.join('; ')}`, status: lone ? null : 'no_peer', latency_ms: null };
  }

  /** One probe of `peer`, with a fresh nonce (sent again without it to an older node that refuses the field): its verdict, and whether our listener served the nonce. */
  private async ask(identity: Identity, peer: string, base: Pick<CheckResult, 'checked_at' | 'endpoint' | 'mode' | 'mapping' | 'pinhole'>): Promise<{ result: CheckResult; proven: boolean } | { problem: string; rateLimited: boolean }> {
    const nonce = randomBytes(32).toString('base64url');
    const waiting = { served: false };
    this.nonces.set(nonce, waiting);
    try {
      const endpoint = await this.deps.discovery.endpointOf(peer);
      const send = (body: string) => this.deps.http.signed(identity, 'POST', endpoint, REACH_PROBE_PATH, body, { destination: peer, timeoutMs: 30_000 });
      let response = await send(JSON.stringify({ nonce }));
      // An older node refuses any field of the probe (400 before its rate limit): asked the old way.
      if (response.status === 400 && (response.json as { error?: unknown } | undefined)?.error === 'invalid_request') response = await send('{}');
      const body = response.json as { reachable?: unknown; status?: unknown; latency_ms?: unknown; error?: unknown; message?: unknown; families?: unknown } | undefined;
      if (response.status === 200 && typeof body?.reachable === 'boolean') {
        // The peer's words are shown and logged: cleaned and cut (util/untrusted-text.ts), its status one of ours.
        const status: ProbeStatus = PROBE_STATUSES.has(body.status as ProbeStatus) ? (body.status as ProbeStatus) : 'http_error';
        const error = body.reachable ? null : `${peer} could not reach this node: ${typeof body.error === 'string' ? cleanText(body.error, PEER_TEXT_MAX) : status}`;
        const families = readFamilies(body.families);
        const result: CheckResult = { ...base, reachable: body.reachable, via: peer, error, status, latency_ms: typeof body.latency_ms === 'number' ? body.latency_ms : null, ...(families ? { families } : {}) };
        return { result, proven: waiting.served };
      }
      return { problem: `${peer} answered HTTP ${response.status}${typeof body?.message === 'string' ? `: ${cleanText(body.message, PEER_TEXT_MAX)}` : ''}`, rateLimited: response.status === 429 };
    } catch (error) {
      return { problem: `${peer}: ${(error as Error).message}`, rateLimited: false };
    } finally {
      this.nonces.delete(nonce);
    }
  }
}

/** A peer's `families` (older peers send none): two booleans-or-null, or nothing. */
function readFamilies(raw: unknown): ReachabilityState['families'] | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { ipv4, ipv6 } = raw as { ipv4?: unknown; ipv6?: unknown };
  const ok = (v: unknown): v is boolean | null => v === true || v === false || v === null;
  return ok(ipv4) && ok(ipv6) ? { ipv4, ipv6 } : undefined;
}

function describe(m: MappingInfo): string {
  return `${m.protocol} ${m.external_address}:${m.external_port}`;
}

/**
 * Every address this node listens on is private (RFC 1918, CGNAT, unique-local, link-local):
 * nobody outside can reach it without the router's help. A wildcard listener counts every
 * non-loopback interface address; a node with one public address is not behind a router.
 */
export function ownAddressesArePrivate(listenHost: string, interfaces = networkInterfaces()): boolean {
  const host = listenHost.replace(/^\[|\]$/g, '');
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const addresses = wildcard ? Object.values(interfaces).flatMap((list) => (list ?? []).filter((a) => !a.internal).map((a) => a.address)) : [host];
  const classes = addresses.map((a) => classifyAddress(a.replace(/%.*$/, '')).class);
  const PRIVATE = new Set(['private', 'carrierGradeNat', 'uniqueLocal', 'linkLocal']);
  return classes.some((c) => c === 'private' || c === 'carrierGradeNat' || c === 'uniqueLocal') && classes.every((c) => PRIVATE.has(c));
}

/** The machine's addresses, to notice a network change (a laptop moving, a new DHCP lease). */
function addressFingerprint(): string {
  const all: string[] = [];
  for (const [name, list] of Object.entries(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal) all.push(`${name} ${a.address}`);
  }
  return all.sort().join(',');
}
