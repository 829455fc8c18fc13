/**
 * Requests per key (a peer) in the last minute, at most `perMinute`: catch-up's per-host budget
 * (rooms/catch-up.ts) and the own-events recovery's per-member one (rooms/own-recovery.ts).
 */
export class PerMinuteBudget {
  private readonly times = new Map<string, number[]>();
  private readonly perMinute: () => number;
  private readonly maxKeys: number;

  /** `perMinute`: read at each take (a setting may change it); `maxKeys`: past it, every key is forgotten. */
  constructor(perMinute: () => number, maxKeys = Infinity) {
    this.perMinute = perMinute;
    this.maxKeys = maxKeys;
  }

  /** Takes one request from `key`'s budget for this minute; false when it is spent. */
  take(key: string, now = Date.now()): boolean {
    const recent = (this.times.get(key) ?? []).filter((t) => t > now - 60_000);
    const spent = recent.length >= this.perMinute();
    if (!spent) recent.push(now);
    if (this.times.size >= this.maxKeys && !this.times.has(key)) this.times.clear();
    this.times.set(key, recent);
    return !spent;
  }
}
