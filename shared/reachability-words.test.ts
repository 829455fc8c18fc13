import { describe, expect, it } from 'vitest';
import { NO_PEER_CAN_TEST, NO_PEER_YET, lastTestedWords, reachabilitySummary } from './reachability-words.ts';

describe('when the node was last tested, in words', () => {
  it('says "tested" only when a friend ran the test; asked with no friend to run it is "tried"', () => {
    expect(lastTestedWords({ checked_at: 1, reachable: true, via: 'beta.test' }, 'just now')).toBe('Last tested just now by beta.test.');
    expect(lastTestedWords({ checked_at: 1, reachable: false, via: null }, '3 min ago')).toBe('Last tested 3 min ago.');
    expect(lastTestedWords({ checked_at: 1, reachable: null, via: null }, 'just now')).toBe('Last tried just now: no friend could run the test.');
    expect(lastTestedWords({ checked_at: null, reachable: null, via: null }, 'never')).toBe('');
    // No friend at all: nothing beside "will be tested once the first peer is added".
    expect(lastTestedWords({ checked_at: 1, reachable: null, via: null, error: `${NO_PEER_YET}: …` }, 'just now')).toBe('');
    expect(lastTestedWords({ checked_at: 1, reachable: null, via: null, error: `${NO_PEER_CAN_TEST}: …` }, 'just now')).toBe('Last tried just now: no friend could run the test.');
  });
});

describe('the summary names what reached the node', () => {
  const mapping = { protocol: 'upnp-igd', external_address: '100.64.9.9', external_port: 7447, expires_at: 1 };
  const reached = { reachable: true, checked_at: 1, via: 'beta.test', endpoint: null, mode: 'push' as const, mapping, error: null };
  it('names the port mapping (IPv4) unless IPv4 was tried and did not reach the node', () => {
    expect(reachabilitySummary({ ...reached, families: { ipv4: true, ipv6: null } }, 7447)).toBe("Reachable from friends (through the router's automatic port mapping, 100.64.9.9:7447)");
    // A peer that tells no families (older nodes): the mapping is named.
    expect(reachabilitySummary(reached, 7447)).toBe("Reachable from friends (through the router's automatic port mapping, 100.64.9.9:7447)");
    // Red team 2026-12-01: reached over IPv6 alone, the mapping was named as the way in.
    expect(reachabilitySummary({ ...reached, families: { ipv4: false, ipv6: true } }, 7447)).toBe('Reachable from friends over IPv6 only');
  });
});
