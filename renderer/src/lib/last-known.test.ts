import { describe, expect, it } from 'vitest';
import { asKnown, knownPeerLine, lastKnown, nodeState } from './last-known.ts';
import { clock } from './format.ts';

const now = new Date(2026, 0, 5, 14, 30).getTime();
const lastOkAt = new Date(2026, 0, 5, 14, 2).getTime();
const up = { reachable: true, lastOkAt: now };
const down = { reachable: false, lastOkAt };

describe('last known', () => {
  it('says what the node said as it is while it answers, and labels it with its time once it does not', () => {
    expect(asKnown('3', up, now)).toBe('3');
    expect(asKnown('3', down, now)).toBe(`3 (last known at ${clock(lastOkAt, now)})`);
    expect(lastKnown({ reachable: false, lastOkAt: 0 }, now)).toBe('last known');
  });

  it('never says the node is running when it does not answer', () => {
    const status = { federation: { paused: false }, queue: { failed: 0 } };
    expect(nodeState(status, up, now)).toBe('Running');
    const stale = nodeState(status, down, now);
    expect(stale).toBe(`Not reachable now (last known at ${clock(lastOkAt, now)}: running)`);
    expect(stale).not.toMatch(/^Running/);
    expect(nodeState({ federation: { paused: false }, queue: { failed: 2 } }, down, now)).toMatch(/^Not reachable now \(last known at .+: running, 2 messages were refused\)$/);
    expect(nodeState({ federation: { paused: true }, queue: { failed: 0 } }, up, now)).toBe('Paused: nothing is sent or received');
  });

  it('a peer: its state unknown, its line as it stood when the node last answered (no countdown), labelled', () => {
    const online = { trust: 'allow', last_seen_at: lastOkAt - 30_000 };
    expect(knownPeerLine(online, up, lastOkAt)).toMatchObject({ state: 'online', text: 'Online · seen 30 s ago' });
    // 28 minutes later, it would no longer be "online" at all; as last known it was, then.
    expect(knownPeerLine(online, down, now)).toMatchObject({ state: 'unknown', text: `Online · seen 30 s ago (last known at ${clock(lastOkAt, now)})` });
    // One message waits, tried twice (as the node's PeerView says it).
    const waiting = { mode: 'push' as const, last_pull_at: null, waiting: 1, retrying_since: lastOkAt - 60_000, next_attempt_at: lastOkAt + 40_000, last_error: 'connect ECONNREFUSED 127.0.0.1:9' };
    const offline = knownPeerLine({ ...online, delivery: waiting }, down, now);
    expect(offline.state).toBe('unknown');
    expect(offline.text).toMatch(/^Offline since .+ — 1 message waiting, next try in 40 s \(last known at .+\)$/);
    expect(offline.cause.details).toContain('ECONNREFUSED');
  });
});
