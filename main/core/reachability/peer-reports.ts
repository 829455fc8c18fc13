/**
 * Reports peers send us (issue #15): a peer says (a response header, federation-app.ts) that its
 * deliveries to us time out or are refused, and we test our reachability again through it, at
 * most once per gap (5 minutes by default; reports recur while its deliveries fail). A report
 * that comes while a test runs, or within the gap, is tested when those end: dropped, it could be
 * the only one for a long while (the header comes only on answers to our requests to that peer),
 * and the node would go on waiting for pushes that cannot reach it until its routine test half an
 * hour later. A test through that peer that concluded after the report answers it.
 */
import type { Logger } from 'pino';
import type { CheckResult } from './reachability-status.ts';

/** A report's test that reached no verdict is made once more this long after (a peer's default probe limit is one per 30 s). */
const REPORT_RETRY_MS = 31_000;

export interface PeerReportsDeps {
  log: Logger;
  /** The peers that may be asked to test us: only their reports count. */
  candidates: () => string[];
  /** The self-test under way, if one is. */
  running: () => Promise<CheckResult> | null;
  /** The last conclusion (a test through the reporter after its report answers it). */
  latest: () => CheckResult;
  /** Tests now, through this peer. */
  check: (via: string) => Promise<CheckResult>;
  /** A report starts a test at most this often (default 300). */
  gapSeconds?: number;
}

export class PeerReports {
  private readonly deps: PeerReportsDeps;
  private lastReportAt = 0;
  /**
   * A peer's report that came while a test ran, or within the gap after the last one tested: it
   * is tested once those end (the latest reporter, with when it reported), never dropped.
   */
  private pending: { peer: string; at: number; retry?: boolean } | null = null;
  /** When a report of each peer was last tested again for want of a verdict: once per gap each. */
  private readonly retries = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private waitsForRun = false;
  private stopped = false;

  constructor(deps: PeerReportsDeps) {
    this.deps = deps;
  }

  start(): void {
    this.stopped = false;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** `peer` says its deliveries to us fail. */
  failing(peer: string): void {
    // Only a peer that could test us (the header comes with any answer to our requests).
    if (this.stopped || !this.deps.candidates().includes(peer)) return;
    // A report again while its retry waits keeps that retry's place (not a new retry of its own).
    if (this.pending?.peer === peer && this.pending.retry) return;
    this.pending = { peer, at: Date.now() };
    this.testReported();
  }

  private testReported(): void {
    const report = this.pending;
    if (this.stopped || report === null || this.timer || this.waitsForRun) return;
    const running = this.deps.running();
    if (running) {
      this.waitsForRun = true;
      void running.catch(() => undefined).then(() => {
        this.waitsForRun = false;
        this.testReported();
      });
      return;
    }
    const state = this.deps.latest();
    if (state.reachable !== null && state.via === report.peer && (state.checked_at ?? 0) >= report.at) {
      this.pending = null;
      return;
    }
    const gap = this.gapMs();
    const wait = this.lastReportAt + gap - Date.now();
    if (wait > 0) {
      // (At most the gap: a clock set back must not leave the report waiting for as long.)
      this.timer = setTimeout(() => {
        this.timer = null;
        this.testReported();
      }, Math.min(wait, gap));
      this.timer.unref();
      return;
    }
    this.pending = null;
    this.lastReportAt = Date.now();
    this.deps.log.info({ event: 'peer_reports_delivery_failing', peer: report.peer }, `${report.peer} says its deliveries to this node fail: testing reachability`);
    void this.deps.check(report.peer).then((result) => {
      // No verdict (the reporter refused the probe: its limit, our test through it a moment
      // before): asked once more when its probe window is over, not left to the routine test;
      // once per gap for each peer, however often it reports.
      const now = Date.now();
      if (result.reachable !== null || report.retry || this.stopped || now - (this.retries.get(report.peer) ?? -Infinity) < gap) return;
      this.retries.set(report.peer, now);
      this.lastReportAt = Math.min(this.lastReportAt, now - gap + REPORT_RETRY_MS);
      this.pending ??= { ...report, at: now, retry: true };
      this.testReported();
    }, () => undefined);
  }

  private gapMs(): number {
    return (this.deps.gapSeconds ?? 300) * 1000;
  }
}
