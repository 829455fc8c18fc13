/**
 * At most one wake per gap, and none lost: a peer's signal (a request of its own, a report) may end
 * a wait of ours, but must not buy an attempt each time it comes. A wake asked for within the gap
 * after the last one is due when the gap ends; its caller arms a timer for then. Used by the
 * delivery worker (a destination's requests ending its backoff) and the page loops (a peer seen
 * ending their wait after failures); both once dropped such a wake and waited out a whole backoff.
 */
export class WakeGap {
  /** When a wake was last taken (Date.now()); -Infinity: never. */
  private last = -Infinity;
  /** A wake was asked for within the gap and not taken yet. */
  private wanted = false;

  private readonly gapMs: number;

  constructor(gapMs: number) {
    this.gapMs = gapMs;
  }

  /** Takes a wake now (0) if the gap allows it, or notes it due and answers the ms until the gap ends. */
  take(now = Date.now()): number {
    const left = this.last + this.gapMs - now;
    if (left > 0) {
      this.wanted = true;
      return left;
    }
    this.taken(now);
    return 0;
  }

  /** A wake was taken (at a due wake's timer, which may fire a little early): the next gap starts now. */
  taken(now = Date.now()): void {
    this.last = now;
    this.wanted = false;
  }

  /** Whether a wake is due at the end of the gap. */
  get due(): boolean {
    return this.wanted;
  }

  /** The ms until a due wake may be taken; Infinity when none is due. */
  dueIn(now = Date.now()): number {
    return this.wanted ? Math.max(0, this.last + this.gapMs - now) : Infinity;
  }

  /** What it was wanted for happened another way (an attempt ran, the queue emptied): nothing is due. */
  cancel(): void {
    this.wanted = false;
  }
}
