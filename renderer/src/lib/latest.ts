/**
 * Live updates start loads that may overlap, and their answers can come back out of order: an
 * older answer arriving last would hide what a newer one showed (a message, a reachability
 * result). `latest(load)` wraps a loader so that only answers at least as new as the last one
 * applied are passed on; older ones resolve to `undefined` and are dropped.
 */
export function latest<T>(load: () => Promise<T>): () => Promise<{ value: T } | undefined> {
  let started = 0;
  let shown = 0;
  return async () => {
    const seq = ++started;
    const value = await load();
    if (seq < shown) return undefined;
    shown = seq;
    return { value };
  };
}
