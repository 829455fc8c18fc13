/**
 * Long polls waiting by key (a pulling peer's name, a mailbox recipient) until something arrives
 * for it (`notify`), their time is up, or their request's signal fires: pull mode's queue and the
 * mailbox store hold one each.
 */
export class KeyedWaiters {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Resolves when `key` is notified, after `ms`, or when `signal` fires; never rejects. */
  wait(key: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      signal?.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  /** Wakes the waits on `key`. */
  notify(key: string): void {
    const set = this.waiters.get(key);
    if (!set) return;
    for (const wake of [...set]) wake();
  }

  /** Wakes every wait (the node is stopping). */
  notifyAll(): void {
    for (const key of [...this.waiters.keys()]) this.notify(key);
  }
}
