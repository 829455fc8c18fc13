/**
 * When the node's notifications make the UI refetch (live.svelte.ts): the first of a burst at
 * once, then at most one refetch per `gapMs` while the burst lasts, with every kind notified
 * meanwhile (issue #17: waiting `gapMs` for every burst to end was most of the time a friend's
 * message took to appear; refetching on every notification of a peer's backlog would flood the
 * node). A zero wait still gathers the notifications of one event-loop turn.
 */
export function refetchGate<K extends string>(
  refetch: (kinds: K[]) => void,
  options: { gapMs: number; now?: () => number; later?: (run: () => void, ms: number) => unknown },
): (kind: K) => void {
  const now = options.now ?? Date.now;
  const later = options.later ?? ((run: () => void, ms: number) => setTimeout(run, ms));
  const due = new Set<K>();
  let waiting = false;
  let last = -Infinity;
  return (kind) => {
    due.add(kind);
    if (waiting) return;
    waiting = true;
    later(() => {
      waiting = false;
      last = now();
      const kinds = [...due];
      due.clear();
      refetch(kinds);
    }, Math.max(0, last + options.gapMs - now()));
  };
}
