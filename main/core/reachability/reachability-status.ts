/**
 * What a self-test concludes (`CheckResult`) and what `GET /reachability` answers of it
 * (`ReachabilityState`): the last conclusion as it stands now. A test that found nobody to ask
 * says why as things are now (peers added, blocked or allowed since), not as they were then.
 */
import { NOBODY_COULD_ASK, NO_PEER_CAN_TEST, NO_PEER_YET } from '../../../shared/reachability-words.ts';
import type { Reachability as ReachabilityContract } from '../../../shared/contract/admin-operations.ts';
import type { ProbeStatus } from './probe-caller.ts';

/** What `GET /reachability` answers (the contract's type; docs/ARCHITECTURE.md §What outside tools rely on). */
export type ReachabilityState = ReachabilityContract;

export interface CheckResult extends ReachabilityState {
  status: ProbeStatus | 'no_peer' | null;
  latency_ms: number | null;
}

export const NO_PEER = `${NO_PEER_YET}: this node will test whether friends can reach it once the first peer is added`;
/** Peers, but none that may be asked: the owner's block or quarantine, or an endpoint never reached (issue #32). */
export const NO_PEER_ASKABLE = `${NO_PEER_CAN_TEST}: every peer is blocked, in quarantine or not reached yet`;

/** The peers now (read only when needed): how many may be asked to test us, and how many there are at all. */
export interface PeerCounts {
  askable: () => number;
  peers: () => number;
}

/** After a test that found nobody to ask: not tested yet when someone can be asked now; otherwise why not, as it stands now. */
export function noPeerNow(checkedAt: number | null, now: PeerCounts): { checked_at: number | null; error: string | null } {
  if (now.askable() > 0) return { checked_at: null, error: null };
  return { checked_at: checkedAt, error: now.peers() > 0 ? NO_PEER_ASKABLE : NO_PEER };
}

/** What the node holds now, beside its last test's result. */
export interface Holding {
  mode: 'push' | 'pull';
  mapping: ReachabilityState['mapping'];
  pinhole: ReachabilityState['pinhole'];
  /** The friends whose mailboxes we fetched from lately (asked, and said, only in pull mode). */
  mailboxes: () => string[];
  /** When the test that confirms a failure runs, if one waits. */
  nextTestAt: number | null;
}

/** `GET /reachability`: the last result (`last`) with what holds now. */
export function statusView(last: CheckResult, peers: PeerCounts, holding: Holding): ReachabilityState {
  const { status: _s, latency_ms: _l, ...kept } = last;
  // A test that found no peer, or none to ask, says what holds now (peers added, blocked or
  // allowed since): not "will be tested once the first peer is added" beside a list of friends
  // (the UI checks of 2026-11-27 and 2026-11-28).
  // So does one that found peers but none that could run it, once none may be asked at all now
  // (its only friend blocked since: "none can run the test", not "none could just now").
  const nobodyCouldNorCan = kept.error?.startsWith(NOBODY_COULD_ASK) === true && peers.askable() === 0;
  const state = kept.error === NO_PEER || kept.error === NO_PEER_ASKABLE || nobodyCouldNorCan ? { ...kept, ...noPeerNow(kept.checked_at, peers) } : kept;
  const mailboxes = holding.mode === 'pull' ? holding.mailboxes() : [];
  const nextTest = holding.nextTestAt !== null ? { next_test_at: holding.nextTestAt } : {};
  return { ...state, mode: holding.mode, mapping: holding.mapping, pinhole: holding.pinhole, ...(mailboxes.length > 0 ? { mailboxes } : {}), ...nextTest };
}
