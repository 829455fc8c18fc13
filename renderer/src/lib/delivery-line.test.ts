import { describe, expect, it } from 'vitest';
import { refusalLine, waitingLine } from './delivery-line.ts';

describe('waitingLine: an own message still waiting for some server', () => {
  const now = 1_000_000;
  it('names the servers it is being sent to, with the next try', () => {
    expect(waitingLine({ pending_servers: ['bob.test'], next_attempt_at: now + 40_000 }, { member: false, reachable: true, now })).toEqual({ waiting: 'Waiting for bob.test — next try in 40 s.', held: '' });
    expect(waitingLine({ pending_servers: ['bob.test', 'carol.test'], next_attempt_at: 0 }, { member: false, reachable: true, now })).toEqual({ waiting: 'Waiting for 2 servers…', held: '' });
  });

  it('never says it waits for (or will try again) a server the owner blocked or quarantined: it is held, and says so', () => {
    const held = waitingLine({ pending_servers: ['bad.test'], next_attempt_at: now + 40_000, held: ['bad.test'] }, { member: false, reachable: true, now });
    expect(held.waiting).toBe('');
    expect(held.held).toBe('Not sent to bad.test: nothing goes to a server you blocked or put in quarantine. It waits here until you allow it (Peers).');
    const mixed = waitingLine({ pending_servers: ['bad.test', 'bob.test'], next_attempt_at: now + 40_000, held: ['bad.test'] }, { member: false, reachable: true, now });
    expect(mixed).toEqual({ waiting: 'Waiting for bob.test — next try in 40 s.', held: expect.stringMatching(/^Not sent to bad\.test: /) });
    // A member does not manage peers: the words say who holds it, not what to press.
    expect(waitingLine({ pending_servers: ['bad.test'], next_attempt_at: 0, held: ['bad.test'] }, { member: true, reachable: true, now }).held)
      .toBe('Not sent to bad.test: the owner of this server has stopped sending there for now.');
  });
});

describe('refusalLine: an own message a server did not get', () => {
  it('says a server refused it only when it did; an entry given up after waiting too long was never refused', () => {
    expect(refusalLine({ server: 'bob.test', reason: 'HTTP 403 origin_blocked: alpha.test is blocked' })).toEqual({
      text: 'Not delivered: refused by bob.test. The other server blocks yours.', details: 'HTTP 403 origin_blocked: alpha.test is blocked',
    });
    const expired = refusalLine({ server: 'bob.test', reason: 'expired' });
    expect(expired.text).toBe('Not delivered to bob.test: it waited too long and was given up.');
    expect(expired.text).not.toMatch(/refused/);
  });
});
