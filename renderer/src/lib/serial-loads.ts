/**
 * A screen's loads, one at a time (issue #17): a room merges the messages that changed since its
 * last answer, so two loads in flight could apply their answers out of order and the older one
 * would undo the newer. A load asked for while one runs waits for it; all asked for meanwhile run
 * as one, a whole one if any of them asked for that (`full`). The promise a caller gets resolves
 * when a load that started after its call has ended (a send's reload shows the sent message).
 */
export interface SerialLoads {
  (full: boolean): Promise<void>;
  /** Resolves once no load runs or waits (at once when none does); starts none. */
  idle(): Promise<void>;
}

export function serialLoads(run: (full: boolean) => Promise<void>): SerialLoads {
  let running: Promise<void> | undefined;
  let next: { full: boolean; done: Promise<void> } | undefined;
  const start = (full: boolean): Promise<void> => {
    const done = (async () => {
      try {
        await run(full);
      } finally {
        running = undefined;
      }
    })();
    running = done;
    return done;
  };
  const load = (full: boolean): Promise<void> => {
    if (next) {
      next.full ||= full;
      return next.done;
    }
    if (!running) return start(full);
    const waiting: { full: boolean; done: Promise<void> } = { full, done: Promise.resolve() };
    const go = () => {
      next = undefined;
      return start(waiting.full);
    };
    waiting.done = running.then(go, go);
    next = waiting;
    return waiting.done;
  };
  const idle = async (): Promise<void> => {
    // A load that ends may have one waiting behind it: wait until neither is left.
    for (let pending = next?.done ?? running; pending; pending = next?.done ?? running) await pending.catch(() => undefined);
  };
  return Object.assign(load, { idle });
}
