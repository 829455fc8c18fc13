import { describe, expect, it } from 'vitest';
import { pendingPeeringLine } from './pending-peering.ts';

const base = { server_name: 'bob.test', waiting_at: 'carol.test', requested_at: 1_000, expires_at: 100_000, answered_at: null, error: null };

describe('pendingPeeringLine', () => {
  it('says a request waits at a mailbox, was refused (the reason in words, its own words apart) or expired', () => {
    expect(pendingPeeringLine(base, 50_000)).toMatchObject({ state: 'waiting', text: "bob.test cannot be reached right now: your request waits at carol.test's node until bob.test fetches it." });
    const refused = pendingPeeringLine({ ...base, answered_at: 60_000, error: 'that link was already used (link_used)' }, 70_000);
    expect(refused).toEqual({
      state: 'refused', text: 'bob.test refused your request.',
      cause: { text: 'This invite link was already used. Ask your friend for a new one.', details: 'that link was already used (link_used)' },
    });
    // Already peers: no "ask for a new link".
    expect(pendingPeeringLine({ ...base, error: 'you are already a peer (already_peer)' }, 70_000).cause.text).not.toMatch(/new (link|one)/);
    expect(pendingPeeringLine(base, 100_000)).toMatchObject({ state: 'expired', text: 'Your request to bob.test expired without an answer: ask your friend for a new link.' });
  });
});
