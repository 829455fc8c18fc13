/**
 * Whether a quiet friend's node still answers, asked only while somebody looks (the UI check of
 * 2026-11-27: a friend's node that was stopped showed "Online" for up to 10 minutes, because
 * "online" meant "it sent us a request lately" and nothing else was known while nothing was sent).
 *
 * Nothing polls: a check runs when the owner's screens list the peers (`listPeers`, which a screen
 * that shows them asks again every minute while it is open), for each friend we push to, with
 * nothing waiting for it (then the deliveries' own attempts say whether it answers), that was
 * neither heard from nor checked within `staleAfterMs`. The check fetches its discovery document
 * from its endpoint (its certificate pinned as for every request to it) and wants its own name
 * there. At most one check per friend at a time, and a few at once. When a friend's answer
 * changes (it answers again, it stopped answering), the screens are told to ask again.
 */
import type { PeerLivenessView as LivenessView } from '../../../shared/contract/admin/peers.ts';
import type { Discovery } from '../federation/discovery.ts';

/** A friend may be checked when neither it nor a check was heard from for this long (tests set less). */
export const LIVENESS_STALE_MS = 60_000;
/** A check that got no answer within this long failed. */
const CHECK_TIMEOUT_MS = 10_000;
/** Checks at once (a node has a few friends; a long list is checked a few at a time, one listing after another). */
const MAX_IN_FLIGHT = 4;

export interface PeerLivenessDeps {
  discovery: Discovery;
  /** The screens should ask again: a friend's answer changed. */
  changed: () => void;
  staleAfterMs?: number;
}

interface Entry {
  view: LivenessView;
  checkedAt: number;
  inFlight: boolean;
}

export class PeerLiveness {
  private readonly entries = new Map<string, Entry>();
  private inFlight = 0;
  private readonly staleAfterMs: number;
  private readonly deps: PeerLivenessDeps;

  constructor(deps: PeerLivenessDeps) {
    this.deps = deps;
    this.staleAfterMs = deps.staleAfterMs ?? LIVENESS_STALE_MS;
  }

  view(server: string): LivenessView | null {
    return this.entries.get(server)?.view ?? null;
  }

  /**
   * Starts a check of each friend that needs one (`lastSeenAt`: its last request to us); returns
   * at once. `candidates`: friends we push to with nothing waiting for them.
   */
  checkStale(candidates: ReadonlyArray<{ server: string; lastSeenAt: number | null }>, now = Date.now()): void {
    for (const { server, lastSeenAt } of candidates) {
      if (this.inFlight >= MAX_IN_FLIGHT) return;
      const entry = this.entries.get(server);
      if (entry?.inFlight) continue;
      const lastContact = Math.max(lastSeenAt ?? 0, entry?.checkedAt ?? 0);
      if (now - lastContact < this.staleAfterMs) continue;
      void this.check(server, entry);
    }
  }

  /** Friends no longer listed (removed) are forgotten. */
  forgetExcept(servers: ReadonlySet<string>): void {
    for (const server of this.entries.keys()) if (!servers.has(server)) this.entries.delete(server);
  }

  private async check(server: string, previous: Entry | undefined): Promise<void> {
    const entry: Entry = previous ?? { view: { answered_at: null, not_answering_since: null, error: null }, checkedAt: 0, inFlight: false };
    this.entries.set(server, entry);
    entry.inFlight = true;
    entry.checkedAt = Date.now();
    this.inFlight++;
    const wasAnswering = previous === undefined ? null : previous.view.not_answering_since === null;
    try {
      const endpoint = await this.deps.discovery.endpointOf(server, Date.now(), AbortSignal.timeout(CHECK_TIMEOUT_MS));
      const document = await this.deps.discovery.fetchDocument(endpoint, undefined, AbortSignal.timeout(CHECK_TIMEOUT_MS));
      if (document.server_name !== server) throw new Error(`${endpoint} answers as ${document.server_name}, not ${server}`);
      entry.view = { answered_at: Date.now(), not_answering_since: null, error: null };
    } catch (error) {
      entry.view = { answered_at: entry.view.answered_at, not_answering_since: entry.view.not_answering_since ?? entry.checkedAt, error: (error as Error).message };
    } finally {
      entry.inFlight = false;
      entry.checkedAt = Date.now();
      this.inFlight--;
    }
    if (this.entries.get(server) === entry && wasAnswering !== (entry.view.not_answering_since === null)) this.deps.changed();
  }
}
