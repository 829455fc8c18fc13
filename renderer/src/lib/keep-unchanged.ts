/**
 * A refetched page of messages, with each message that did not change replaced by the object the
 * screen already shows (issue #17): the timeline then redraws only what changed — after a send,
 * the new message and not the fifty before it.
 */
export function keepUnchanged<T extends { event_id: string }>(shown: readonly T[], fresh: readonly T[]): T[] {
  if (shown.length === 0) return [...fresh];
  const byId = new Map(shown.map((m) => [m.event_id, m]));
  return fresh.map((m) => {
    const old = byId.get(m.event_id);
    return old !== undefined && JSON.stringify(old) === JSON.stringify(m) ? old : m;
  });
}
