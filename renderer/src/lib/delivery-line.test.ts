import { describe, expect, it } from 'vitest';
import { atMailboxLine, changeLine, heldThereLine, refusalLine, waitingLine } from './delivery-line.ts';

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

describe('waitingLine while this server\'s federation is paused', () => {
  const now = 1_000_000;
  it('promises no next try: nothing is tried until the owner resumes', () => {
    expect(waitingLine({ pending_servers: ['bob.test'], next_attempt_at: now + 40_000 }, { member: false, reachable: true, paused: true, now }).waiting)
      .toBe('Waiting for bob.test — paused here until you resume federation (Dashboard).');
    expect(waitingLine({ pending_servers: ['bob.test'], next_attempt_at: now + 40_000 }, { member: true, reachable: true, paused: true, now }).waiting)
      .toBe('Waiting for bob.test — the owner of this server has paused sending for now.');
    expect(changeLine({ kind: 'edit', delivery: { state: 'waiting', pending_servers: ['bob.test'], refused: [], next_attempt_at: now + 40_000, last_error: null } }, { member: false, reachable: true, paused: true, now }).text)
      .toBe('Your edit is not delivered yet. Waiting for bob.test — paused here until you resume federation (Dashboard).');
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
    expect(refusalLine({ server: 'bob.test', reason: 'dropped' })).toEqual({ text: 'It was dropped from the queue for bob.test: it may not have reached it.', details: '' });
    expect(refusalLine({ server: 'bob.test', reason: 'dropped' }, { member: true }).text).toBe('It was dropped from the queue for bob.test by the owner of this server: it may not have reached it.');
    // Given up there because it could not be checked (a pull ack's refusal): never judged, so not "refused by".
    expect(refusalLine({ server: 'bob.test', reason: 'HTTP 403 unchecked_given_up' })).toEqual({
      text: 'Not delivered to bob.test: it could not check it (for hours it could not read the keys it was signed with), so it gave up on it.', details: 'HTTP 403 unchecked_given_up',
    });
    // Not taken by the friend's mailbox it was left at (too large for it), and bob.test not reachable directly: bob.test never saw it.
    expect(refusalLine({ server: 'bob.test', reason: 'the mailbox at carol.test answered HTTP 413' })).toEqual({
      text: 'Not delivered to bob.test: it could not be sent there directly, and the mailbox at carol.test refused it as too large.', details: 'the mailbox at carol.test answered HTTP 413',
    });
  });
});

describe('changeLine: an own edit, deletion or reaction some server has not taken (the message itself may be delivered)', () => {
  const now = 1_000_000;
  const waiting = { state: 'waiting' as const, pending_servers: ['bob.test'], refused: [], next_attempt_at: now + 40_000, last_error: 'connect ECONNREFUSED' };
  it('says which change waits, for whom and until when', () => {
    expect(changeLine({ kind: 'edit', delivery: waiting }, { member: false, reachable: true, now }).text).toBe('Your edit is not delivered yet. Waiting for bob.test — next try in 40 s.');
    expect(changeLine({ kind: 'reaction', delivery: { ...waiting, pending_servers: [], at_mailbox: [{ server: 'bob.test', mailbox: 'carol.test' }] } }, { member: false, reachable: true, now }).text)
      .toBe('Your reaction waits at carol.test for bob.test to fetch it.');
    // Fetched by bob, which keeps it to take in later (its limit there): not "at carol" any more, not delivered either.
    expect(changeLine({ kind: 'reaction', delivery: { ...waiting, pending_servers: [], at_mailbox: [{ server: 'bob.test', mailbox: 'carol.test', taken: true }] } }, { member: false, reachable: true, now }).text)
      .toBe('Your reaction was fetched by bob.test from carol.test, not taken in yet: bob.test tries it again after a wait.');
    expect(changeLine({ kind: 'delete', delivery: { ...waiting, held: ['bob.test'] } }, { member: false, reachable: true, now }).text).toMatch(/^Your deletion is not delivered yet\. Not sent to bob\.test: /);
  });

  it('says a server refused it only when it did, its words under details', () => {
    const refused = changeLine({ kind: 'reaction_removed', delivery: { ...waiting, state: 'refused', pending_servers: [], refused: [{ server: 'bob.test', reason: 'HTTP 403 origin_blocked: alpha.test is blocked' }] } }, { member: false, reachable: true, now });
    expect(refused).toEqual({ text: 'Taking back your reaction was not delivered: refused by bob.test. The other server blocks yours.', details: 'HTTP 403 origin_blocked: alpha.test is blocked' });
    expect(changeLine({ kind: 'edit', delivery: { ...waiting, state: 'refused', pending_servers: [], refused: [{ server: 'bob.test', reason: 'expired' }] } }, { member: false, reachable: true, now }).text)
      .toBe('Your edit was not delivered to bob.test: it waited too long and was given up.');
    expect(changeLine({ kind: 'edit', delivery: { ...waiting, state: 'refused', pending_servers: [], refused: [{ server: 'bob.test', reason: 'dropped' }] } }, { member: false, reachable: true, now }).text)
      .toBe('Your edit was dropped from the queue for bob.test: it may not have reached it.');
    expect(changeLine({ kind: 'edit', delivery: { ...waiting, state: 'refused', pending_servers: [], refused: [{ server: 'bob.test', reason: 'HTTP 403 unchecked_given_up' }] } }, { member: false, reachable: true, now }).text)
      .toBe('Your edit was not delivered to bob.test: it could not check it (for hours it could not read the keys it was signed with), so it gave up on it.');
  });

  it('says a server held it for review beside a refusal, a mailbox\'s wait or a wait elsewhere, not only when all took it', () => {
    const heldAt = { held_there: ['carol.test'] };
    const held = ' It was held for review at carol.test: it shows there only if its owner accepts it.';
    expect(changeLine({ kind: 'edit', delivery: { ...waiting, ...heldAt, state: 'refused', pending_servers: [], refused: [{ server: 'bob.test', reason: 'HTTP 403 origin_blocked: alpha.test is blocked' }] } }, { member: false, reachable: true, now }).text)
      .toBe(`Your edit was not delivered: refused by bob.test. The other server blocks yours.${held}`);
    expect(changeLine({ kind: 'edit', delivery: { ...waiting, ...heldAt, state: 'refused', pending_servers: [], refused: [{ server: 'bob.test', reason: 'expired' }] } }, { member: false, reachable: true, now }).text)
      .toBe(`Your edit was not delivered to bob.test: it waited too long and was given up.${held}`);
    expect(changeLine({ kind: 'reaction', delivery: { ...waiting, ...heldAt, pending_servers: [], at_mailbox: [{ server: 'bob.test', mailbox: 'dave.test' }] } }, { member: false, reachable: true, now }).text)
      .toBe(`Your reaction waits at dave.test for bob.test to fetch it.${held}`);
    expect(changeLine({ kind: 'edit', delivery: { ...waiting, ...heldAt } }, { member: false, reachable: true, now }).text)
      .toBe(`Your edit is not delivered yet. Waiting for bob.test — next try in 40 s.${held}`);
    expect(changeLine({ kind: 'edit', delivery: { ...waiting, state: 'delivered', pending_servers: [], held_there: ['carol.test', 'bob.test'] } }, { member: false, reachable: true, now }).text)
      .toBe('Your edit was held for review at 2 servers: it shows there only if their owners accept it.');
  });
});

describe('heldThereLine: a message a server took and held for review (it kept ours in quarantine)', () => {
  it('says it was delivered and shows there only if its owner accepts it, in the past tense (a release or purge there is not told), never a bare "Delivered"', () => {
    expect(heldThereLine(['bob.test'])).toBe('Delivered to bob.test, which held it for review: it shows there only if its owner accepts it.');
    expect(heldThereLine(['bob.test', 'carol.test'])).toBe('Delivered, but 2 servers held it for review: it shows there only if their owners accept it.');
    const held = { state: 'delivered' as const, pending_servers: [], refused: [], next_attempt_at: null, last_error: null, held_there: ['bob.test'] };
    expect(changeLine({ kind: 'edit', delivery: held }, { member: false, reachable: true }).text).toBe('Your edit was held for review at bob.test: it shows there only if its owner accepts it.');
  });
});

describe('atMailboxLine: a message left at friends\' mailboxes', () => {
  it('says whether it waits at the mailbox or was fetched and waits to be taken in, never delivered', () => {
    expect(atMailboxLine([{ server: 'bob.test', mailbox: 'carol.test' }])).toBe('Waiting at carol.test for bob.test to fetch it.');
    expect(atMailboxLine([{ server: 'bob.test', mailbox: 'carol.test', taken: true }])).toBe('Fetched by bob.test from carol.test, not taken in yet: bob.test tries it again after a wait.');
    expect(atMailboxLine([{ server: 'bob.test', mailbox: 'carol.test', taken: true }, { server: 'dan.test', mailbox: 'carol.test', taken: true }])).toBe('Fetched from friends\' mailboxes by 2 servers, not taken in yet: they try it again after a wait.');
    expect(atMailboxLine([{ server: 'bob.test', mailbox: 'carol.test', taken: true }, { server: 'dan.test', mailbox: 'carol.test' }])).toBe('Waiting at friends\' mailboxes for 1 of 2 servers to fetch it; one more fetched it and tries it again after a wait.');
    expect(atMailboxLine([{ server: 'bob.test', mailbox: 'carol.test', taken: true }, { server: 'dan.test', mailbox: 'carol.test', taken: true }, { server: 'eve.test', mailbox: 'carol.test' }])).toBe('Waiting at friends\' mailboxes for 1 of 3 servers to fetch it; 2 more fetched it and try it again after a wait.');
    expect(atMailboxLine([{ server: 'bob.test', mailbox: 'carol.test' }, { server: 'dan.test', mailbox: 'carol.test' }])).toBe('Waiting at friends\' mailboxes for 2 servers to fetch it.');
  });
});
