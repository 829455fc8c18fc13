/**
 * The one line that says whether friends can reach this node (issue #15), the same words in the
 * tray, the dashboard and the setup wizard.
 */
import type { Reachability } from './contract/admin-operations.ts';

export function reachabilitySummary(state: Reachability, port: number | null): string {
  if (state.mode === 'pull' && state.reachable !== true) {
    const boxes = state.mailboxes ?? [];
    if (boxes.length === 0) return 'Receiving through pull mode';
    return `Receiving through pull mode and ${boxes.length === 1 ? `${boxes[0]}'s mailbox` : `friends' mailboxes (${boxes.join(', ')})`}`;
  }
  if (isTestingAgain(state)) return 'Not reachable: testing again';
  if (state.reachable === true) {
    const over = familyWords(state.families);
    const through = [
      // The mapping (IPv4) is named unless IPv4 was tried and did not reach the node.
      ...(state.mapping && state.families?.ipv4 !== false ? [`the router's automatic port mapping, ${state.mapping.external_address}:${state.mapping.external_port}`] : []),
      // The pinhole is named only when IPv6 is what reached the node.
      ...(state.pinhole && state.families?.ipv6 === true ? [`the router's IPv6 pinhole`] : []),
    ];
    return through.length > 0 ? `Reachable from friends${over} (through ${through.join(' and ')})` : `Reachable from friends${over}`;
  }
  if (state.reachable === false) return `Not reachable: your router does not forward port ${port ?? 7447} — trying automatic setup`;
  if (state.checked_at === null) return 'Reachability: not tested yet';
  // Peers exist, but none could run the test (busy, offline, or its probe limit): say so, not "no peer".
  if (state.error?.startsWith(NOBODY_COULD_ASK)) return 'Reachability: not tested — no friend could run the test just now';
  // Peers, but none that may be asked (blocked, in quarantine, never reached): not "the first peer".
  if (state.error?.startsWith(NO_PEER_CAN_TEST)) return "Reachability: not tested — none of your friends' servers can run the test (blocked, in quarantine or not reached yet)";
  return 'Reachability: will be tested once the first peer is added';
}

/**
 * No friend's server at all to run the test: "Test again" can do nothing yet (a user trial: a fresh
 * node offered it beside "will be tested once the first peer is added").
 */
export function awaitsFirstPeer(state: Pick<Reachability, 'reachable' | 'mode' | 'checked_at' | 'error'>): boolean {
  return state.mode !== 'pull' && state.reachable === null && state.checked_at !== null && (state.error ?? '').startsWith(NO_PEER_YET);
}

/**
 * Which families friends reach the node over, when IPv6 is part of it (issue #32 item 4): " over
 * IPv6 only" (IPv4 tried and not reached: carrier-grade NAT, say), " over IPv6", " over IPv4 and
 * IPv6"; nothing for IPv4 alone, the common case.
 */
export function familyWords(families: Reachability['families']): string {
  if (!families || families.ipv6 !== true) return '';
  if (families.ipv4 === true) return ' over IPv4 and IPv6';
  return families.ipv4 === false ? ' over IPv6 only' : ' over IPv6';
}

/** How the node's error begins when it has peers but none answered the probe (main/core/reachability). */
export const NOBODY_COULD_ASK = 'no peer could be asked to test this node';
/** How it begins when it has no peer at all (main/core/reachability). */
export const NO_PEER_YET = 'no peer to ask yet';
/** How it begins when it has peers but none it may ask: each blocked, in quarantine or never reached (main/core/reachability). */
export const NO_PEER_CAN_TEST = 'no peer can run the test';

/** The federation port of a URL (what the router has to forward). */
export function portOf(url: string | null): number | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.port ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80;
  } catch {
    return null;
  }
}

/**
 * A failed self-test not confirmed yet (issue #15 hysteresis): the node still receives by push
 * and tests again before it switches to pull mode. The contract's `Reachability` has no field for
 * it, so its `error` ends with this sentence (made here, recognized here).
 */
export function testingAgainNote(seconds: number, via: string | null): string {
  return `Testing again${via ? ` through ${via}` : ''} in ${Math.max(1, Math.round(seconds))} s before switching to pull mode.`;
}

const TESTING_AGAIN = /Testing again(?: through \S+)? in \d+ s before switching to pull mode\.$/;

export function isTestingAgain(state: Pick<Reachability, 'reachable' | 'mode' | 'error'>): boolean {
  return state.reachable === false && state.mode === 'push' && TESTING_AGAIN.test(state.error ?? '');
}

/**
 * When the node last asked a friend to test it, under the summary: "tested" only when a friend
 * ran the test (the UI check of 2026-11-27: a fresh node said "will be tested once the first peer
 * is added" beside "Last tested just now"). `ago`: the time already in words ("just now").
 */
export function lastTestedWords(state: Pick<Reachability, 'checked_at' | 'reachable' | 'via'> & { error?: string | null }, ago: string): string {
  if (state.checked_at === null) return '';
  // No friend at all: the summary says it is tested once the first is added ("no friend could run it" beside it read as if some had).
  if (state.reachable === null && state.error?.startsWith(NO_PEER_YET)) return '';
  if (state.reachable === null) return `Last tried ${ago}: no friend could run the test.`;
  return `Last tested ${ago}${state.via ? ` by ${state.via}` : ''}.`;
}
