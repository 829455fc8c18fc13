/**
 * The wire form of events this node has just made and queued, kept for their delivery: a busy
 * sender otherwise read every event of a batch back from the database and serialized it again
 * (issue #17: 6 % of a sending node's main thread at saturation). Signing already computed the
 * canonical content, so the wire form costs a string concatenation at the commit.
 *
 * An entry is made after its event's commit (never for a transaction that may roll back) and
 * dropped once every destination it was queued for has settled it (delivered, or failed for
 * good); a re-issued event is forgotten (its stored form changed). Bounded: beyond MAX_ENTRIES or
 * MAX_BYTES the oldest entries go first, so rows that wait for a peer that is away do not hold
 * memory; a row without an entry is read from the database as before.
 */

/** Entries kept at most: a few batches of 500 at saturation. */
const MAX_ENTRIES = 4_096;
/** Bytes of wire JSON kept at most (UTF-16 length: a bound, not an exact size). */
const MAX_BYTES = 4 * 1024 * 1024;

export interface WireEntry {
  wire: string;
  /** Destinations that have not settled it yet. */
  pending: number;
  /** The JSON shape (jsonShape) once a batch measured it. */
  shape?: { elements: number; depth: number };
}

export class WireCache {
  private readonly entries = new Map<string, WireEntry>();
  private bytes = 0;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  /** Rows whose wire form came from here, and rows that had to be read (tests, probes). */
  readonly stats = { hits: 0, misses: 0 };

  constructor(limits: { maxEntries?: number; maxBytes?: number } = {}) {
    this.maxEntries = limits.maxEntries ?? MAX_ENTRIES;
    this.maxBytes = limits.maxBytes ?? MAX_BYTES;
  }

  get size(): number {
    return this.entries.size;
  }

  /** An event committed with rows queued for `destinations` destinations. */
  remember(eventId: string, wire: string, destinations: number): void {
    if (destinations <= 0 || wire.length > this.maxBytes) return;
    this.forget(eventId);
    this.entries.set(eventId, { wire, pending: destinations });
    this.bytes += wire.length;
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.forget(oldest.value);
    }
  }

  get(eventId: string): WireEntry | undefined {
    const entry = this.entries.get(eventId);
    if (entry) this.stats.hits++;
    else this.stats.misses++;
    return entry;
  }

  /** One destination settled the event for good (delivered, or failed). */
  settled(eventId: string): void {
    const entry = this.entries.get(eventId);
    if (entry && --entry.pending <= 0) this.forget(eventId);
  }

  /** The stored event changed (re-issued) or is no longer wanted. */
  forget(eventId: string): void {
    const entry = this.entries.get(eventId);
    if (!entry) return;
    this.entries.delete(eventId);
    this.bytes -= entry.wire.length;
  }
}
