/**
 * Auto-quarantine (docs/PROTOCOL.md §Rate limits and trust): a server that keeps sending events with bad signatures, or
 * keeps going past its rate limit, is put in quarantine with the reason recorded. Only failures
 * proven to come from that server count — requests whose own signature verified — so nobody
 * can get a friend quarantined by forging its name.
 */
import { MAX_SERVERS_REMEMBERED } from './servers-remembered.ts';

export interface AutoQuarantinePolicy {
  /** Bad event signatures (in verified requests) within the window; 0 disables. */
  signature_failures: number;
  /** Verified requests refused by the rate limit within the window; 0 disables. */
  rate_limited: number;
  window_seconds: number;
}

export const DEFAULT_AUTO_QUARANTINE: AutoQuarantinePolicy = { signature_failures: 20, rate_limited: 2000, window_seconds: 600 };

/**
 * Default for NodeConfig.bannedEventsBeforeQuarantine: events (or joins) for users banned from
 * a room we host that one server may send within the window before it is quarantined (issue #20).
 */
export const DEFAULT_BANNED_EVENTS_BEFORE_QUARANTINE = 20;

type Kind = 'signature_failures' | 'rate_limited' | 'banned_events';

export class AbuseMonitor {
  private readonly hits = new Map<string, number[]>();
  private readonly policy: () => AutoQuarantinePolicy & { banned_events?: number };
  private readonly quarantine: (server: string, reason: string) => void;

  constructor(policy: () => AutoQuarantinePolicy & { banned_events?: number }, quarantine: (server: string, reason: string) => void) {
    this.policy = policy;
    this.quarantine = quarantine;
  }

  /** Records proven failures of `server`, quarantining it past the threshold. */
  record(server: string, kind: Kind, weight = 1, now = Date.now()): void {
    const policy = this.policy();
    const threshold = kind === 'banned_events' ? (policy.banned_events ?? DEFAULT_BANNED_EVENTS_BEFORE_QUARANTINE) : policy[kind];
    if (threshold <= 0) return;
    const key = `${kind} ${server}`;
    const windowStart = now - policy.window_seconds * 1000;
    const list = (this.hits.get(key) ?? []).filter((t) => t >= windowStart);
    for (let i = 0; i < Math.min(weight, threshold); i++) list.push(now);
    // One entry per server and kind that failed lately (any server, under an open trust policy):
    // bounded. The ones whose failures all left the window go first (they count for nothing), then
    // the tenth with the fewest failures in it, those that failed least lately first: the servers
    // nearest to quarantine are kept, so nobody evicts its own count with throwaway names that
    // fail once each (a review of the first version, which evicted by time alone).
    if (this.hits.size >= MAX_SERVERS_REMEMBERED && !this.hits.has(key)) {
      for (const [k, times] of this.hits) if (times.every((t) => t < windowStart)) this.hits.delete(k);
      const over = this.hits.size - MAX_SERVERS_REMEMBERED * 0.9;
      if (over > 0) {
        const fewest = [...this.hits].map(([k, times], order) => ({ k, n: times.filter((t) => t >= windowStart).length, order }));
        fewest.sort((a, b) => a.n - b.n || a.order - b.order);
        for (const { k } of fewest.slice(0, over)) this.hits.delete(k);
      }
    }
    this.hits.delete(key); // to the end: the first in the map failed least lately
    this.hits.set(key, list);
    if (list.length >= threshold) {
      this.hits.delete(key);
      const what = kind === 'signature_failures' ? 'events with bad signatures' : kind === 'banned_events' ? 'events of users banned from our rooms' : 'requests over its rate limit';
      this.quarantine(server, `auto-quarantined: ${list.length} ${what} within ${policy.window_seconds} s`);
    }
  }
}
