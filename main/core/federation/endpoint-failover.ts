/**
 * A server that can be reached at several endpoints (issue #32 item 4): its discovery lists them
 * all, best first (`federation_endpoints`, docs/PROTOCOL.md "Discovery"). What a server's own
 * discovery document, read from one of its endpoints, says about where else it lives is kept here,
 * per origin; when a connection to that origin fails at the network level (refused, no route,
 * timed out, its name does not resolve), the connector (address-policy.ts guardedConnect) tries
 * the others in order, as the same origin (https only): same TLS server name and certificate pin,
 * at public addresses only (AddressPolicy.alternateRefusal: the document is the server's word, read
 * without the owner asking). The one that worked is tried first next time.
 */
import { LRUCache } from 'lru-cache';
import { normalizeEndpoint } from '../../../shared/endpoint.ts';

/** Another endpoint of the same server: its host (an IPv6 address without brackets) and port. */
export interface AlternateEndpoint {
  endpoint: string;
  host: string;
  port: string;
}

/** Origins learnt are bounded (servers are named by whoever sends us a request). */
const MAX_ORIGINS = 2_000;
/** Peers' origins kept across restarts (the database) are bounded too. */
const MAX_KEPT = 500;

/**
 * Where the other endpoints of our peers are kept across restarts (node.ts: the settings table):
 * a peer whose first endpoint stopped answering while we were down is still reached.
 */
export interface FailoverStore {
  load(): string | undefined;
  save(text: string): void;
  /** Whether an origin is a peer's stored endpoint (only those are kept; others stay in memory, bounded). */
  keep(origin: string): boolean;
}

export class EndpointFailover {
  private readonly alternates = new LRUCache<string, AlternateEndpoint[]>({ max: MAX_ORIGINS });
  /** Peers' origins: not evicted by a flood of other names, and saved in the store. */
  private readonly kept = new Map<string, AlternateEndpoint[]>();
  /** The endpoint that last worked for an origin when the origin itself did not (absent: the origin). */
  private readonly preferred = new LRUCache<string, string>({ max: MAX_ORIGINS });
  private readonly store: FailoverStore | undefined;

  constructor(store?: FailoverStore) {
    this.store = store;
    let saved: unknown;
    try {
      saved = JSON.parse(store?.load() ?? '{}');
    } catch {
      saved = {};
    }
    if (typeof saved !== 'object' || saved === null) return;
    for (const [origin, list] of Object.entries(saved as Record<string, unknown>).slice(0, MAX_KEPT)) {
      const checked = Array.isArray(list) ? checkedAlternates(origin, list.filter((e): e is string => typeof e === 'string')) : null;
      if (checked && checked.others.length > 0) this.kept.set(checked.origin, checked.others);
    }
  }

  /**
   * A discovery document read from `fetchedFrom` lists `endpoints` (checked by its reader,
   * reference/dialect.ts): the others may stand in for `fetchedFrom`. Only for that origin: what a
   * server says never makes another origin fail over to it.
   */
  learn(fetchedFrom: string, endpoints: readonly string[]): void {
    const checked = checkedAlternates(fetchedFrom, endpoints);
    if (!checked) return;
    const { origin, others } = checked;
    if (this.store?.keep(origin)) {
      const before = JSON.stringify(this.kept.get(origin) ?? []);
      if (others.length === 0) this.kept.delete(origin);
      else if (this.kept.has(origin) || this.kept.size < MAX_KEPT) this.kept.set(origin, others);
      if (JSON.stringify(this.kept.get(origin) ?? []) !== before) this.save();
    } else {
      // No longer a peer's endpoint: forgotten from the store.
      if (this.kept.delete(origin)) this.save();
      if (others.length === 0) this.alternates.delete(origin);
      else this.alternates.set(origin, others);
    }
    const preferred = this.preferred.get(origin);
    if (preferred && !others.some((o) => o.endpoint === preferred)) this.preferred.delete(origin);
  }

  private save(): void {
    const out: Record<string, string[]> = {};
    for (const [origin, list] of this.kept) out[origin] = list.map((a) => a.endpoint);
    try {
      this.store?.save(JSON.stringify(out));
    } catch {
      // kept in memory; saved with the next change
    }
  }

  /** The other endpoints of the server at `origin`, in its order, the one that worked last first. */
  alternatesOf(origin: string): AlternateEndpoint[] {
    const list = this.kept.get(origin) ?? this.alternates.get(origin) ?? [];
    const preferred = this.preferred.get(origin);
    if (!preferred) return list;
    return [...list.filter((a) => a.endpoint === preferred), ...list.filter((a) => a.endpoint !== preferred)];
  }

  /** Whether a connection to `origin` goes to an alternate first (one worked when the origin did not). */
  prefersAlternate(origin: string): boolean {
    return this.preferred.has(origin);
  }

  /** A connection to `origin` went through `endpoint` (the origin itself: forget any preference). */
  worked(origin: string, endpoint: string): void {
    if (endpoint === origin) this.preferred.delete(origin);
    else this.preferred.set(origin, endpoint);
  }
}

/**
 * The endpoints that may stand in for `fetchedFrom` (normalised): those that pass the endpoint
 * normaliser, in its scheme, without it and without repeats, at most 8; null when `fetchedFrom`
 * is no endpoint.
 */
function checkedAlternates(fetchedFrom: string, endpoints: readonly string[]): { origin: string; others: AlternateEndpoint[] } | null {
  const from = normalizeEndpoint(fetchedFrom);
  if (!from.ok) return null;
  const origin = from.endpoint;
  const scheme = origin.slice(0, origin.indexOf(':'));
  const others: AlternateEndpoint[] = [];
  for (const e of endpoints.slice(0, 64)) {
    const checked = normalizeEndpoint(e);
    if (!checked.ok || checked.endpoint === origin || !checked.endpoint.startsWith(`${scheme}://`) || others.some((o) => o.endpoint === checked.endpoint)) continue;
    others.push(parse(checked.endpoint));
    if (others.length >= 8) break;
  }
  return { origin, others };
}

function parse(endpoint: string): AlternateEndpoint {
  const url = new URL(endpoint);
  return { endpoint, host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || (url.protocol === 'https:' ? '443' : '80') };
}
