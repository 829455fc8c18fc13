/**
 * Whether the node receives by push or by pull, with hysteresis (issue #15). One failed test does
 * not switch to pull mode (a peer slow to answer, a network blip would): the failure must be
 * confirmed by a second test `confirmSeconds` later (31 by default: past a peer's 30-s per-peer
 * probe limit), through another peer first; a test through a fresh port mapping that still fails
 * counts as that second test (the caller says so: `confirmed`). Meanwhile the node keeps
 * receiving by push and says "Not reachable: testing again". One successful test (proven, or
 * agreed by two peers) switches pull mode off again. `--pull` holds pull mode whatever the tests say.
 */
import { testingAgainNote } from '../../../shared/reachability-words.ts';
import type { CheckResult } from './reachability-status.ts';

/** Default of `confirmSeconds`: just past a peer's default per-peer probe limit (30 s). */
export const DEFAULT_CONFIRM_SECONDS = 31;
/** An unconfirmed failure whose confirming test could not ask anybody is tested again, later each time, up to this. */
const MAX_CONFIRM_SECONDS = 600;

export interface PullSwitchDeps {
  /** `--pull`: pull mode whatever the tests say. */
  forcePull: boolean;
  /** The peers that may be asked, the most recently seen first. */
  candidates: () => string[];
  /** Seconds between a failed self-test and the test that confirms it (default 31). */
  confirmSeconds?: number;
  /** The confirming test's time has come (a failure still waits for it). */
  confirm: () => void;
}

/** A failed test waiting for the one that confirms it: who answered, and how often confirming found nobody to ask. */
interface Unconfirmed {
  via: string | null;
  error: string;
  inconclusive: number;
  nextInSeconds: number;
}

export class PullSwitch {
  private readonly deps: PullSwitchDeps;
  /** The node concluded by itself that it must receive by pull. */
  private autoPull = false;
  private unconfirmed: Unconfirmed | null = null;
  private confirmTimer: NodeJS.Timeout | null = null;
  /** When `confirmTimer` fires (Date.now()). */
  private confirmAt = 0;

  constructor(deps: PullSwitchDeps) {
    this.deps = deps;
  }

  get mode(): 'push' | 'pull' {
    return this.deps.forcePull || this.autoPull ? 'pull' : 'push';
  }

  /** The failure waiting for its confirming test (who answered it), if one waits. */
  get waiting(): { readonly via: string | null } | null {
    return this.unconfirmed;
  }

  /** When the confirming test runs, if one waits for its time. */
  nextTestAt(): number | null {
    return this.unconfirmed && this.confirmTimer ? this.confirmAt : null;
  }

  /** A friend could not call us back (issue #32): that was a test through it, and we receive by pull at once. */
  pullNow(): void {
    this.autoPull = true;
    this.clearUnconfirmed();
  }

  /** The confirming test waits no longer (the node stops); a failure waiting for it stays as it was. */
  stop(): void {
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
    this.confirmTimer = null;
  }

  /**
   * Hysteresis: a success ends pull mode at once; a failure turns it on only when confirmed (a
   * second failure in a row, or already in pull mode); a first failure waits for the test that
   * confirms it, and says so in its error. `named`: the test asked one peer the caller named (a
   * report, the owner's choice); without a verdict it leaves a confirmation that waits as it was
   * (a peer refusing our probes while it reports must not put the confirmation off again and again).
   */
  conclude(result: CheckResult, confirmed: boolean, named = false): CheckResult {
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
  unconfirmedError(): string | null {
    const u = this.unconfirmed;
    return u ? `${/[.!?]$/.test(u.error) ? u.error : `${u.error}.`} ${testingAgainNote(u.nextInSeconds, this.confirmationOrder(u.via)[0] ?? null)}` : null;
  }

  /** The peers to ask when confirming a failure that `failedVia` reported: the others first. */
  confirmationOrder(failedVia: string | null): string[] {
    const all = this.deps.candidates();
    return [...all.filter((p) => p !== failedVia), ...all.filter((p) => p === failedVia)].slice(0, 3);
  }

  private scheduleConfirmation(unconfirmed: Unconfirmed): void {
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
    const base = this.deps.confirmSeconds ?? DEFAULT_CONFIRM_SECONDS;
    const seconds = Math.min(MAX_CONFIRM_SECONDS, base * 2 ** unconfirmed.inconclusive);
    unconfirmed.nextInSeconds = seconds;
    this.confirmAt = Date.now() + seconds * 1000;
    this.confirmTimer = setTimeout(() => {
      this.confirmTimer = null;
      if (this.unconfirmed) this.deps.confirm();
    }, seconds * 1000);
    this.confirmTimer.unref();
  }

  private clearUnconfirmed(): void {
    this.unconfirmed = null;
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
    this.confirmTimer = null;
  }
}
