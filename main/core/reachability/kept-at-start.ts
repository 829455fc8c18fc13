/**
 * What the node asks a router for at start, before there may be a peer to test through — a port
 * mapping (mapping-keeper.ts), an IPv6 pinhole (pinhole-keeper.ts) — kept until the first
 * conclusive self-test judges it: the request under way (a self-test waits for it, then tests
 * what it made), whether what it made is still untested, and its removal when that test failed.
 */
export interface KeptAtStartParts {
  /** Takes away what the router made (the mapping, the pinhole), if anything. */
  remove: () => Promise<void>;
  /** Whether the node stopped: what a request answered after that is taken away at once. */
  stopped: () => boolean;
}

export class KeptAtStart {
  private readonly parts: KeptAtStartParts;
  /** The request made at start, while it is under way. */
  private early: Promise<void> | null = null;
  /** The request made what it asked for, and no conclusive self-test has judged it yet. */
  private untested = false;

  constructor(parts: KeptAtStartParts) {
    this.parts = parts;
  }

  /** Whether a request made at start is under way. */
  get asking(): boolean {
    return this.early !== null;
  }

  /**
   * Makes the request at start; `answered` hears its answer unless the node stopped meanwhile
   * (then what it made is removed). An answer `ok` is what the first conclusive self-test judges.
   */
  ask<A extends { ok: boolean }>(request: () => Promise<A>, answered: (answer: A) => void): void {
    this.early = request()
      .then(async (answer) => {
        if (this.parts.stopped()) return void (await this.parts.remove());
        if (answer.ok) this.untested = true;
        answered(answer);
      })
      .catch(() => undefined)
      .finally(() => (this.early = null));
  }

  /** Waits for the request made at start, if one is under way (a self-test tests what it made). */
  async settled(): Promise<void> {
    if (this.early) await this.early;
  }

  /**
   * Judges what the request made, `held` (null: nothing is held), by a self-test's verdict (null:
   * not conclusive): the first conclusive verdict since it was made ends the judging, and when
   * it is a failure, what is held did not help and is removed. Returns what was removed, else null.
   */
  async judge<H>(verdict: boolean | null, held: H | null): Promise<H | null> {
    if (!this.untested || verdict === null) return null;
    this.untested = false;
    if (verdict !== false || !held) return null;
    await this.parts.remove();
    return held;
  }
}
