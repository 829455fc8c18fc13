/**
 * A reference server's valid_until is a refresh hint (as Matrix treats valid_until_ts), never an
 * expiry (docs/PROTOCOL.md, the reference dialect's keys document): once the hint has passed,
 * the keys of that server are fetched again in the background while they are used.
 */
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { warnLimited } from '../../log/rate-limit.ts';

/** A reference key whose served valid_until has passed is refetched at most this often while in use. */
const REFERENCE_HINT_REFETCH_MS = 60 * 60_000;
/** Bound of the servers remembered here (names that strangers choose), as ServerKeys' fetch times. */
const MAX_HINT_ENTRIES = 2_000;

export interface ReferenceHintsOptions {
  log: Logger;
  /** Whether a server speaks the reference dialect (ServerKeys.isReference, read at each use). */
  isReference: (serverName: string) => boolean;
  /** The verbatim keys document last fetched from a server (ServerKeys.cachedDocument). */
  cachedDocument: (serverName: string) => unknown;
  /** Fetches the keys of a server again (ServerKeys.refresh: single-flight, rate limited). */
  refresh: (serverName: string, now: number) => Promise<void>;
}

export class ReferenceHints {
  private readonly log: Logger;
  private readonly options: ReferenceHintsOptions;
  /** The valid_until a reference last served (a refresh hint), and when the hint last made us refetch. */
  private readonly servedValidUntil = new LRUCache<string, number>({ max: MAX_HINT_ENTRIES });
  private readonly lastHintFetch = new LRUCache<string, number>({ max: MAX_HINT_ENTRIES });

  constructor(options: ReferenceHintsOptions) {
    this.log = options.log;
    this.options = options;
  }

  private isReference(serverName: string): boolean {
    return this.options.isReference(serverName);
  }

  private cachedDocument(serverName: string): unknown {
    return this.options.cachedDocument(serverName);
  }

  private refresh(serverName: string, now: number): Promise<void> {
    return this.options.refresh(serverName, now);
  }

  /** Notes the valid_until of a reference keys document just fetched. */
  noteServed(serverName: string, raw: unknown): void {
    this.servedValidUntil.set(serverName, servedValidUntilOf(raw) ?? 0);
  }

  /**
   * Once the valid_until a reference served has passed, its keys are fetched again in the background, at most once per
   * REFERENCE_HINT_REFETCH_MS while they are used; the key it still serves stays usable.
   */
  refreshOnHint(serverName: string, now: number): void {
    if (!this.isReference(serverName)) return;
    let validUntil = this.servedValidUntil.get(serverName);
    if (validUntil === undefined) {
      validUntil = servedValidUntilOf(this.cachedDocument(serverName)) ?? 0;
      this.servedValidUntil.set(serverName, validUntil);
    }
    if (validUntil > now) return;
    const last = this.lastHintFetch.get(serverName);
    if (last !== undefined && now - last < REFERENCE_HINT_REFETCH_MS) return;
    this.lastHintFetch.set(serverName, now);
    void this.refresh(serverName, now).catch((error: Error) => {
      warnLimited(this.log, `keys_fetch_failed ${serverName}`, { event: 'keys_fetch_failed', server: serverName, error: error.message }, 'could not refetch the keys of a reference server');
    });
  }
}

/** The earliest valid_until a reference keys document lists (its refresh hint), if any. */
function servedValidUntilOf(raw: unknown): number | undefined {
  const keys = (raw as { keys?: unknown } | undefined)?.keys;
  if (!Array.isArray(keys)) return undefined;
  const values = keys.map((k) => (k as { valid_until?: unknown } | null)?.valid_until).filter((v): v is number => typeof v === 'number');
  return values.length > 0 ? Math.min(...values) : undefined;
}
