/**
 * What the page shows while the node does not answer (issue #37 item 14): it cannot know any state
 * then, so each state it shows is labelled as last known, with the time the node last answered,
 * and nothing reads as true now — not "Running", not "Online", not "next try in 40 s".
 */
import { clock } from './format.ts';
import { peerLine, type PeerLine } from './peer-state.ts';

/** Whether the node answers now, and when it last did (`live` in live.svelte.ts is one). */
export interface Known {
  readonly reachable: boolean;
  readonly lastOkAt: number;
}

/** "last known at 14:02". */
export function lastKnown(known: Known, now = Date.now()): string {
  return known.lastOkAt ? `last known at ${clock(known.lastOkAt, now)}` : 'last known';
}

/** `text` while the node answers; otherwise "text (last known at 14:02)". */
export function asKnown(text: string, known: Known, now = Date.now()): string {
  return known.reachable ? text : `${text} (${lastKnown(known, now)})`;
}

/** The node's own state ("Your node" on the dashboard): "Running", or "Not reachable now (last known at 14:02: running)". */
export function nodeState(status: { federation: { paused: boolean }; queue: { failed: number } }, known: Known, now = Date.now()): string {
  const failed = status.queue.failed;
  const state = status.federation.paused
    ? 'Paused: nothing is sent or received'
    : failed > 0 ? `Running, ${failed} ${failed === 1 ? 'message was' : 'messages were'} refused` : 'Running';
  if (known.reachable) return state;
  return `Not reachable now (${lastKnown(known, now)}: ${state.charAt(0).toLowerCase()}${state.slice(1)})`;
}

/** In place of an empty list the page never loaded: it does not know the list is empty. */
export function notLoaded(known: Known): string {
  return known.reachable ? 'Loading…' : 'Not loaded: your node does not answer.';
}

/**
 * A peer's line (peer-state.ts) while the node answers; otherwise the line as it stood when the node
 * last answered (a countdown to the next try would run on with nothing behind it), labelled, and
 * its state unknown.
 */
export function knownPeerLine(peer: Parameters<typeof peerLine>[0], known: Known, now = Date.now(), opts: { paused?: boolean } = {}): PeerLine {
  if (known.reachable) return peerLine(peer, now, opts);
  const then = peerLine(peer, known.lastOkAt || now, opts);
  return { state: 'unknown', text: asKnown(then.text, known, now), cause: then.cause };
}
