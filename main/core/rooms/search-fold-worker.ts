/**
 * The main thread's side of the search index's fold worker (search-worker.ts): starting it,
 * asking it to fold or to catch up, and ending it once it had nothing to do for a while. What to
 * fold where is SearchIndex's decision (search-index.ts); this file only runs the thread.
 */
import { Worker } from 'node:worker_threads';

/** After a round failed in the worker (a full disk), no worker for this long. */
const FAILED_FOLD_PAUSE_MS = 60_000;
/** A worker that does not end this long after it was asked to is ended by force. */
const KILL_AFTER_MS = 5_000;

/** `seq` of an idle answer: the last request the worker had been asked when it found nothing left. */
type Answer = { caughtUp: number; failed: boolean } | { idle: true; failed: boolean; seq: number } | { ready: true };

export class SearchFoldWorker {
  private readonly file: string;
  private readonly idleMs: number;
  private readonly onExit: () => void;
  /** The thread while it runs (until its exit); it alone writes the index meanwhile. */
  private worker: Worker | null = null;
  /** Resolves once the current worker (if any) has ended. */
  ended: Promise<void> = Promise.resolve();
  private closingNow = false;
  private failed = false;
  /** After a round failed there: no worker before this time. */
  private pausedUntil = 0;
  /** When the worker last said it had nothing left (0 while it folds). */
  private idleSince = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  /** Catch-ups asked of the worker: true when it folded everything. */
  private readonly caughtUp = new Map<number, (complete: boolean) => void>();
  private nextRequest = 0;
  /** Requests posted to the current worker (its idle answers name the last one they cover). */
  private posted = 0;
  /** Workers started so far (tests and probes). */
  starts = 0;

  /** `file`: the events database; `onExit` runs after each worker ended (and its waiters were told). */
  constructor(file: string, options: { idleMs: number; onExit: () => void }) {
    this.file = file;
    this.idleMs = options.idleMs;
    this.onExit = options.onExit;
  }

  get running(): boolean {
    return this.worker !== null;
  }

  /** Asked to end, not ended yet. */
  get closing(): boolean {
    return this.closingNow;
  }

  /** Starts a worker; false when none can run (in memory, failed before, paused after a failure). */
  start(): boolean {
    if (this.worker || this.failed || Date.now() < this.pausedUntil || this.file === ':memory:' || this.file === '') return false;
    const script = import.meta.url.endsWith('.ts') ? './search-worker.ts' : './search-worker.js';
    let worker: Worker;
    try {
      worker = new Worker(new URL(script, import.meta.url), { workerData: { file: this.file } });
    } catch {
      this.failed = true;
      return false;
    }
    worker.unref();
    this.worker = worker;
    this.closingNow = false;
    worker.on('message', (answer: Answer) => {
      if ('idle' in answer) {
        // An idle answer sent before the worker read a request posted since is no idleness: the
        // worker is folding that request (it would be ended part-way through a backlog).
        if (answer.seq === this.posted) this.idleSince = Date.now();
        // A round failed there (the disk is full, …): no worker for a while; the main thread
        // folds when a message or a search asks (and fails in words meanwhile).
        if (answer.failed) {
          this.pausedUntil = Date.now() + FAILED_FOLD_PAUSE_MS;
          this.close();
        }
        return;
      }
      if (!('caughtUp' in answer)) return;
      const done = this.caughtUp.get(answer.caughtUp);
      this.caughtUp.delete(answer.caughtUp);
      done?.(!answer.failed);
    });
    // An error is followed by the exit; a worker that failed is not started again (folds stay on the main thread).
    worker.on('error', () => {
      this.failed = true;
    });
    this.ended = new Promise<void>((resolve) => {
      worker.once('exit', () => {
        this.worker = null;
        this.closingNow = false;
        for (const timer of [this.idleTimer, this.killTimer]) if (timer) clearTimeout(timer);
        this.idleTimer = null;
        this.killTimer = null;
        this.onExit();
        for (const done of this.caughtUp.values()) done(false);
        this.caughtUp.clear();
        resolve();
      });
    });
    this.starts++;
    this.posted = 0;
    this.idleSince = 0;
    this.armIdle(this.idleMs);
    return true;
  }

  /** Whether a worker may start now (not paused after a failure). */
  get paused(): boolean {
    return Date.now() < this.pausedUntil;
  }

  /** Folds what is stored, a round at a time. */
  fold(): void {
    this.post({ fold: true });
  }

  /**
   * Folds everything stored; true once done, false when the worker ended or a round failed first.
   * Each call is a request of its own, never one asked earlier: the worker may have answered that
   * one already (the answer waiting in this thread's queue) before a message stored since, which
   * a search joining it would then miss. A request the worker reads during a run is answered when
   * that run finds nothing left, so many searches at once still cost one run.
   */
  catchUp(): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const id = ++this.nextRequest;
      this.caughtUp.set(id, resolve);
      this.post({ catchUp: id });
    });
  }

  /** Asks the worker to end (once); ended by force if it does not. */
  close(): void {
    const worker = this.worker;
    if (!worker || this.closingNow) return;
    this.closingNow = true;
    worker.postMessage({ close: true });
    // A worker stuck in a statement is ended by force (derived data: its transaction rolls back).
    this.killTimer = setTimeout(() => void worker.terminate(), KILL_AFTER_MS);
    this.killTimer.unref();
  }

  private post(message: { fold: true } | { catchUp: number }): void {
    this.idleSince = 0;
    this.worker!.postMessage({ ...message, seq: ++this.posted });
  }

  /**
   * Ends the worker once it said it had nothing left and nothing was asked of it for idleMs:
   * never part-way through a backlog (one timer, re-armed at most four times a period).
   */
  private armIdle(ms: number): void {
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (!this.worker || this.closingNow) return;
      const idleFor = this.idleSince === 0 ? 0 : Date.now() - this.idleSince;
      if (idleFor < this.idleMs || this.caughtUp.size > 0) this.armIdle(Math.max(this.idleMs - idleFor, this.idleMs / 4));
      else this.close();
    }, ms);
    this.idleTimer.unref();
  }
}
