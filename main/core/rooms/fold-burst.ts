/**
 * When the search index folds what was stored (rooms/search-index.ts): 200 ms after a message,
 * edit or delete, as a rule. A burst — a friend's backlog, a catch-up, two users at full speed: at
 * least BURST_BACKLOG events unfolded when that time is up — is stored and shown first and folded
 * once it pauses that long: the fold is ~12 % of the CPU an event costs on two cores (issue #36,
 * docs/PERFORMANCE.md). A chat, even a busy one, is folded as it comes (waiting would only make
 * its fold a worker's). A search never waits for the pause: it catches up at once.
 */
export const CATCH_UP_DELAY_MS = 200;
/**
 * Unfolded events that make a burst: 1,250 a second, six times a busy chat's 200 (which leaves 40).
 * Two users at full speed (~2,900 messages a second on this VM) are one: their fold in 200 ms
 * rounds was ~8–10 µs of each node's main thread a message (issue #36 goal 4, sat-probe.ts).
 */
const BURST_BACKLOG = 250;
/** A burst that does not pause is folded no later than this after its first unfolded message. */
const CATCH_UP_AT_MOST_MS = 10_000;

export interface FoldBurstOptions {
  /** The backlog that makes a burst, the pause that ends it, and the longest its fold waits (tests). */
  burstBacklog?: number;
  burstQuietMs?: number;
  burstAtMostMs?: number;
}

export class FoldBurst {
  /** When (performance.now()) the latest message, edit or delete was stored, and the first one since the last fold. */
  private lastStoredAt = 0;
  private unfoldedSince: number | null = null;
  private readonly backlogMin: number;
  /** The pause that ends a burst: also the delay of the first fold after a message. */
  readonly quietMs: number;
  private readonly atMostMs: number;

  constructor(options: FoldBurstOptions = {}) {
    this.backlogMin = options.burstBacklog ?? BURST_BACKLOG;
    this.quietMs = options.burstQuietMs ?? CATCH_UP_DELAY_MS;
    this.atMostMs = options.burstAtMostMs ?? CATCH_UP_AT_MOST_MS;
  }

  /** A message, edit or delete was stored. */
  stored(): void {
    this.lastStoredAt = performance.now();
    this.unfoldedSince ??= this.lastStoredAt;
  }

  /** A fold starts: what is stored from now on is a burst's anew. */
  folding(): void {
    this.unfoldedSince = null;
  }

  /** How much longer a fold waits for a burst to pause (0: fold now); `backlog` is asked only when it might. */
  waitMs(backlog: () => number): number {
    if (this.unfoldedSince === null) return 0;
    const now = performance.now();
    const quietFor = now - this.lastStoredAt;
    const lateBy = now - this.unfoldedSince;
    if (quietFor >= this.quietMs || lateBy >= this.atMostMs || backlog() < this.backlogMin) return 0;
    return Math.ceil(Math.min(this.quietMs - quietFor, this.atMostMs - lateBy));
  }
}
