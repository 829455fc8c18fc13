/**
 * What a room's invite events do to membership rows (RoomStore.apply), on a real SQLite database:
 * another server's invite never undoes our user's join (a host's forged invite turned it into an
 * invitation: the session review, 2026-11-28), and no invite is stored as lasting longer than an
 * invite may (30 days and a relayed event's day after it was signed), whatever its expires_at.
 */
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import type { Envelope } from '../federation/envelope.ts';
import { MAX_INVITE_LIFETIME_MS } from './event-types.ts';
import { RELAYED_MAX_FUTURE_MS } from './ordering.ts';
import { RoomStore } from './room-store.ts';

const ROOM = '!r:host.test';
const event = (type: string, sender: string, depth: number, id: string, stateKey: string, content: Record<string, unknown>, origin = 'host.test'): Envelope => ({
  event_id: `$${id}:${origin}`, room_id: ROOM, event_type: type, sender, origin_server: origin, origin_ts: depth, depth, state_key: stateKey, content, signatures: {},
});

describe('RoomStore: invites', () => {
  it('another server\'s invite does not undo our user\'s join; after a leave it is taken', ({ tempDb }) => {
    const rooms = new RoomStore(tempDb.db, { serverName: () => 'us.test' });
    rooms.createRoom({ room_id: ROOM, name: 'r', host_server: 'host.test', created_at: 0 });
    rooms.apply(event('m.member.join', '@kim:us.test', 10, 'j', '@kim:us.test', { membership: 'join' }, 'us.test'));
    rooms.apply(event('m.member.invite', '@owner:host.test', 20, 'i1', '@kim:us.test', { membership: 'invite', expires_at: 1_000 }));
    expect(rooms.member(ROOM, '@kim:us.test')?.membership).toBe('join');
    rooms.apply(event('m.member.leave', '@kim:us.test', 30, 'l', '@kim:us.test', { membership: 'leave' }, 'us.test'));
    rooms.apply(event('m.member.invite', '@owner:host.test', 40, 'i2', '@kim:us.test', { membership: 'invite', expires_at: 1_000 }));
    expect(rooms.member(ROOM, '@kim:us.test')?.membership).toBe('invite');
    // Another server's user: the host's invite is taken over a join (it is the host's to decide).
    rooms.apply(event('m.member.join', '@joe:other.test', 50, 'j2', '@joe:other.test', { membership: 'join' }, 'other.test'));
    rooms.apply(event('m.member.invite', '@owner:host.test', 60, 'i3', '@joe:other.test', { membership: 'invite', expires_at: 1_000 }));
    expect(rooms.member(ROOM, '@joe:other.test')?.membership).toBe('invite');
  });

  it('stores an invite\'s end at most 31 days after it was signed', ({ tempDb }) => {
    const rooms = new RoomStore(tempDb.db, { serverName: () => 'us.test' });
    rooms.createRoom({ room_id: ROOM, name: 'r', host_server: 'host.test', created_at: 0 });
    rooms.apply(event('m.member.invite', '@owner:host.test', 100, 'i1', '@spy:other.test', { membership: 'invite', expires_at: Number.MAX_SAFE_INTEGER }));
    expect(rooms.member(ROOM, '@spy:other.test')?.invite_expires_at).toBe(100 + MAX_INVITE_LIFETIME_MS + RELAYED_MAX_FUTURE_MS);
    rooms.apply(event('m.member.invite', '@owner:host.test', 200, 'i2', '@kim:other.test', { membership: 'invite', expires_at: 5_000 }));
    expect(rooms.member(ROOM, '@kim:other.test')?.invite_expires_at).toBe(5_000);
  });
});
