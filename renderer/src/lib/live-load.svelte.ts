/**
 * What the Dashboard and the Peers screen do alike to stay current: "N s ago" lines that age, and
 * their data loaded in two parts that follow the live counters (live.svelte.ts).
 * Both are made while a screen's component initialises (their effects live as long as it).
 */
import { untrack } from 'svelte';
import { live } from './live.svelte.ts';

/** The time for lines such as "last delivered 20 s ago": `now` moves on every 5 s. */
export function ticking(): { readonly now: number } {
  const clock = $state({ now: Date.now() });
  $effect(() => {
    const timer = setInterval(() => (clock.now = Date.now()), 5000);
    return () => clearInterval(timer);
  });
  return clock;
}

/** How often an open screen asks for the peers' lines again without being told of a change. */
export const RECHECK_MS = 60_000;

export interface LiveLoadParts {
  delivery: () => Promise<void>;
  rest: () => Promise<void>;
  failed: (error: unknown) => void;
  succeeded?: () => void;
}

/**
 * A screen's data in two parts (issue #35 item 3): a delivery attempt (`live.queue`, one per
 * attempt) changes only what `delivery` loads (the peers' lines, refused messages), so only that
 * is asked again then; any other change (`live.status`, `live.room`) asks for both.
 */
export class LiveLoad {
  /** Until the first whole answer the lists are not known to be empty. */
  loaded = $state(false);
  readonly #parts: LiveLoadParts;

  constructor(parts: LiveLoadParts) {
    this.#parts = parts;
    /** The counters the last load saw: when only `live.queue` moved since, only the delivery part is asked again. */
    let seen = { status: -1, room: -1 };
    $effect(() => {
      const counts = { status: live.status, room: live.room };
      void live.queue;
      const onlyDelivery = untrack(() => this.loaded) && counts.status === seen.status && counts.room === seen.room;
      seen = counts;
      void this.load(onlyDelivery);
    });
    // While the screen is open and visible, the delivery part is asked again every minute even when
    // nothing was announced: listing the peers is what has the node check whether quiet friends
    // still answer (main/core/peering/liveness.ts), so a friend's node that stopped does not stay
    // "Online". A hidden tab or a desktop window closed to the tray asks nothing.
    $effect(() => {
      const timer = setInterval(() => {
        // Not while the node does not answer: the banner says so, and the page catches up when it is back.
        if (document.visibilityState === 'visible' && live.reachable && untrack(() => this.loaded)) void this.load(true);
      }, RECHECK_MS);
      return () => clearInterval(timer);
    });
  }

  /** Both parts (after an action), or only the delivery part; a failure goes to `failed`, a success to `succeeded`. */
  async load(onlyDelivery = false): Promise<void> {
    try {
      await Promise.all(onlyDelivery ? [this.#parts.delivery()] : [this.#parts.delivery(), this.#parts.rest()]);
      if (!onlyDelivery) this.loaded = true;
      this.#parts.succeeded?.();
    } catch (error) {
      this.#parts.failed(error);
    }
  }
}
