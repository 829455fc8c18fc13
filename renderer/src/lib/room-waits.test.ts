import { describe, expect, it } from 'vitest';
import { roomWaitLines, roomWaitShort } from './room-waits.ts';

describe('roomWaitLines: what a room waits for on another server\'s limit', () => {
  const now = 1_000_000;
  it('says polled messages wait for the storage quota, from which server and when they arrive', () => {
    const [line] = roomWaitLines([{ server: 'ref.example', reason: 'storage_quota', messages: 0, until: now + 5 * 3600_000 }], { member: false, now });
    expect(line).toBe('Waiting: new messages from ref.example are held back — your node stores only so much from one server a day, and today\'s share is used up. They arrive in 5 h, by themselves. To let more in, raise the daily limit (serve --peer-quota-day, or the environment variable PARACORD_PEER_QUOTA_DAY_BYTES for the desktop app) and restart the node.');
    // A member runs no node: no flag to change, and "this server".
    const [member] = roomWaitLines([{ server: 'ref.example', reason: 'storage_quota', messages: 0, until: null }], { member: true, now });
    expect(member).toBe('Waiting: new messages from ref.example are held back — this server stores only so much from another server a day, and today\'s share is used up. They arrive later, by themselves.');
  });

  it('says our messages wait for the other server\'s push limit, and how many', () => {
    expect(roomWaitLines([{ server: 'ref.example', reason: 'send_limit', messages: 12, until: now + 40_000 }], { member: false, now }))
      .toEqual(['Waiting: ref.example limits how fast we may send; 12 messages will go out shortly (the next in 40 s).']);
    expect(roomWaitLines([{ server: 'ref.example', reason: 'send_limit', messages: 1, until: null }], { member: true, now }))
      .toEqual(['Waiting: ref.example limits how fast we may send; 1 message will go out shortly.']);
  });

  it('says nothing when nothing waits (the field is absent then)', () => {
    expect(roomWaitLines(undefined, { member: false, now })).toEqual([]);
  });
});

describe('roomWaitShort: the room list\'s words for a room that waits', () => {
  it('names what waits and on which server, in a few words', () => {
    expect(roomWaitShort([{ server: 'ref.example', reason: 'storage_quota', messages: 0, until: null }])).toBe('waiting: messages from ref.example held back');
    expect(roomWaitShort([{ server: 'ref.example', reason: 'send_limit', messages: 3, until: null }])).toBe('waiting: sending slowed by ref.example');
    expect(roomWaitShort([
      { server: 'a.example', reason: 'storage_quota', messages: 0, until: null },
      { server: 'b.example', reason: 'storage_quota', messages: 0, until: null },
      { server: 'a.example', reason: 'send_limit', messages: 1, until: null },
    ])).toBe('waiting: messages from a.example, b.example held back; sending slowed by a.example');
  });

  it('says nothing when nothing waits', () => {
    expect(roomWaitShort(undefined)).toBeNull();
    expect(roomWaitShort([])).toBeNull();
  });
});
