/**
 * Whether a quiet friend's node still answers, asked only while somebody looks (the UI check of
 * 2026-11-27: a friend's node that was stopped showed "Online" for up to 10 minutes, because
 * "online" meant "it sent us a request lately" and nothing else was known while nothing was sent).
 *
 * Nothing polls: a check runs when the owner's Dashboard or Peers screen lists the peers and asks
 * for it (`listPeers` with `check_liveness`; an open, visible screen lists them every minute), for
 * each friend we push to with nothing waiting for it (otherwise the deliveries' own attempts say
 * whether it answers), that was neither heard from nor checked within `staleAfterMs`. The check
 * fetches its discovery document from its endpoint (its certificate pinned and its addresses
 * policed as for every request to it) and wants its own name there. At most one check per friend
 * at a time, and a few at once. When a friend's answer changes, the screens are told to ask again.
 *
 * A failed check is one of two things: nothing answered (refused, timed out, no route: "not
 * answering"), or something answered that is not its node as it should be (an HTTP error, another
 * server's name, another certificate than the pinned one).
 */
import type { PeerLivenessView as LivenessView } from '../../../shared/contract/admin/peers.ts';
import type { Discovery } from '../federation/discovery.ts';
import { FederationRequestError, pinOrPolicyRefusal } from '../federation/http-client.ts';

/** A friend may be checked when neither it nor a check was heard from for this long (tests set less). */
export const LIVENESS_STALE_MS = 50_000;
/** A check that got no whole answer within this long failed. */
const CHECK_TIMEOUT_MS = 10_000;
/** Checks at once (a node has a few friends; a long list is checked a few at a time, one listing after another). */
const MAX_IN_FLIGHT = 4;
/** A discovery document is small; a bigger answer is not worth reading for a check. */
const MAX_CHECK_BYTES = 64 * 1024;

export interface PeerLivenessDeps {
  discovery: Discovery;
  /** The screens should ask again: a friend's answer changed. */
  changed: () => void;
  staleAfterMs?: number;
}

interface Entry {
  view: LivenessView;
  /** When the last check started. */
  checkedAt: number;
  inFlight: boolean;
}

export interface LivenessCandidate {
  server: string;
  /** Its last request to us. */
  lastSeenAt: number | null;
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
   * What is known of each friend that is checked (friends we push to with nothing waiting), and a
   * check started for each that needs one; returns at once. What was known of any other friend is
   * dropped: while messages wait, their attempts speak, and once they are delivered an old failed
   * check would no longer be true.
   */
  checkStale(candidates: readonly LivenessCandidate[], now = Date.now()): void {
    const listed = new Set(candidates.map((c) => c.server));
    for (const server of this.entries.keys()) if (!listed.has(server)) this.entries.delete(server);
    for (const candidate of candidates) {
      if (this.inFlight >= MAX_IN_FLIGHT) return;
      const entry = this.entries.get(candidate.server);
      if (entry?.inFlight) continue;
      const lastContact = Math.max(candidate.lastSeenAt ?? 0, entry?.checkedAt ?? 0);
      if (now - lastContact < this.staleAfterMs) continue;
      void this.check(candidate, now);
    }
  }

  /** Forgets what was known of a friend (its endpoint or trust changed); a check under way for it is not counted. */
  forget(server: string): void {
    this.entries.delete(server);
  }

  private async check({ server, lastSeenAt }: LivenessCandidate, now: number): Promise<void> {
    const previous = this.entries.get(server);
    const entry: Entry = { view: previous?.view ?? { answered_at: null, not_answering_since: null, answers_wrongly: false, error: null }, checkedAt: now, inFlight: true };
    this.entries.set(server, entry);
    this.inFlight++;
    const before = previous ? stateOf(previous.view) : null;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`no answer within ${CHECK_TIMEOUT_MS / 1000} s`)), CHECK_TIMEOUT_MS);
    const signal = abort.signal;
    try {
      const endpoint = await this.deps.discovery.endpointOf(server, now, signal);
      const document = await this.deps.discovery.fetchDocument(endpoint, { signal, maxResponseBytes: MAX_CHECK_BYTES, server });
      if (document.server_name !== server) throw new Error(`${endpoint} answers as ${document.server_name}, not as ${server}`);
      entry.view = { answered_at: Date.now(), not_answering_since: null, answers_wrongly: false, error: null };
    } catch (error) {
      const since = entry.view.not_answering_since;
      const wrongly = !nothingAnswered(error);
      // A failure after it was heard from again (a request from it since), or of the other kind
      // (silent, then something else answers there), starts a new period.
      const stillSince = since !== null && (lastSeenAt ?? 0) < since && entry.view.answers_wrongly === wrongly ? since : now;
      entry.view = { answered_at: entry.view.answered_at, not_answering_since: stillSince, answers_wrongly: wrongly, error: (error as Error).message };
    } finally {
      clearTimeout(timer);
      entry.inFlight = false;
      this.inFlight--;
    }
    if (this.entries.get(server) === entry && before !== stateOf(entry.view)) this.deps.changed();
  }
}

function stateOf(view: LivenessView): string {
  return view.not_answering_since === null ? 'answers' : view.answers_wrongly ? 'wrongly' : 'silent';
}

/**
 * Whether a failed check got no answer at all: the request itself failed (refused, reset, timed
 * out, no route, no name), not by a certificate other than the pinned one or by our own address
 * policy, and no HTTP answer came.
 */
function nothingAnswered(error: unknown): boolean {
  return error instanceof FederationRequestError && error.cause !== undefined && pinOrPolicyRefusal(error.cause) === null;
}
