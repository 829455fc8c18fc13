import { beforeEach, describe, expect, it } from '../../../../test/helpers/fixtures.ts';
import type { Db } from '../../store/database.ts';
import { FederationEvents } from '../../store/federation-events.ts';
import { runMigrations } from '../../store/migrations.ts';
import { RoomStore } from '../../rooms/room-store.ts';
import { MAX_CHANNEL_ROOMS_PER_GUILD, MEMBERSHIP_COPY_BYTES, ReferenceChannels, channelIdOf, channelRoomId, guildRoomOf, parseChannelRoom } from './channel-rooms.ts';
import { StorageQuota } from '../../trust/storage-quota.ts';
import { undoMigrationsFrom33 } from '../../../../test/helpers/schema-rollback.ts';

let db: Db;
beforeEach(({ tempDb }) => {
  db = tempDb.db;
});

describe('channel room ids', () => {
  it('are derived from canonical i64 guild and channel ids only, and parse back', () => {
    expect(channelRoomId('!61:ref.example', '6102')).toBe('!61~6102:ref.example');
    expect(parseChannelRoom('!61~6102:ref.example')).toEqual({ guildRoomId: '!61:ref.example', channelId: '6102' });
    expect(guildRoomOf('!61~6102:ref.example')).toBe('!61:ref.example');
    expect(guildRoomOf('!61:ref.example')).toBe('!61:ref.example');
    for (const bad of [['!abc:ref.example', '1'], ['!61:ref.example', '007'], ['!61:ref.example', '9223372036854775808']]) expect(channelRoomId(bad[0]!, bad[1]!)).toBeNull();
    for (const bad of ['!61:ref.example', '!61~07:ref.example', '!a~1:ref.example', '!61~1~2:ref.example']) expect(parseChannelRoom(bad)).toBeNull();
    expect([channelIdOf({ channel_id: 6102 }), channelIdOf({ channel_id: ' 6102 ' }), channelIdOf({ channel_id: '61x' }), channelIdOf({})]).toEqual(['6102', '6102', null, null]);
  });
});

describe('ReferenceChannels', () => {
  it('the guild room shows its default channel (first record stays); other channels get their room with the guild members', () => {
    const rooms = new RoomStore(db);
    const channels = new ReferenceChannels(db, rooms);
    rooms.createRoom({ room_id: '!61:ref.example', name: 'Guild', host_server: 'ref.example', created_at: 1 });
    rooms.applyReportedMember('!61:ref.example', { user_id: '@owner:us.example', membership: 'join', role: 'member', invite_expires_at: null, event_id: '$j:us.example', event_depth: 1, event_origin: 'ref.example' });
    channels.setDefaultChannel('!61:ref.example', '6101');
    channels.setDefaultChannel('!61:ref.example', '6109');
    const message = (channel: string) => ({ event_id: '$1:ref.example', room_id: '!61:ref.example', event_type: 'm.message', sender: '@a:ref.example', origin_server: 'ref.example', origin_ts: 1, depth: 1, state_key: null, content: { body: 'x', channel_id: channel }, signatures: {} });
    const hosts = () => true;
    expect(channels.routeMessage(message('6101'), hosts)).toBeNull();
    expect(channels.routeMessage(message('6102'), hosts)).toBe('!61~6102:ref.example');
    expect(channels.routeMessage(message('6102'), () => false)).toBeNull();
    channels.ensure('!61~6102:ref.example', { channel_name: 'random\u202e' });
    expect(rooms.room('!61~6102:ref.example')?.name).toBe('Guild #random');
    expect(rooms.member('!61~6102:ref.example', '@owner:us.example')?.membership).toBe('join');
    expect(channels.family('!61~6102:ref.example')).toEqual(['!61:ref.example', '!61~6102:ref.example']);
  });

  it('a guild makes at most MAX_CHANNEL_ROOMS_PER_GUILD channel rooms; further channels stay in the guild room', () => {
    const rooms = new RoomStore(db);
    const channels = new ReferenceChannels(db, rooms);
    rooms.createRoom({ room_id: '!61:ref.example', name: 'Guild', host_server: 'ref.example', created_at: 1 });
    const message = (channel: number) => ({ event_id: '$1:ref.example', room_id: '!61:ref.example', event_type: 'm.message', sender: '@a:ref.example', origin_server: 'ref.example', origin_ts: 1, depth: 1, state_key: null, content: { body: 'x', channel_id: channel }, signatures: {} });
    for (let c = 1; c <= MAX_CHANNEL_ROOMS_PER_GUILD; c++) channels.ensure(channels.routeMessage(message(c), () => true)!, {});
    expect(channels.channelsOf('!61:ref.example')).toHaveLength(MAX_CHANNEL_ROOMS_PER_GUILD);
    expect(channels.routeMessage(message(MAX_CHANNEL_ROOMS_PER_GUILD + 1), () => true)).toBeNull();
    // One routed before the others were made (a batch): refused in the storing transaction, 429.
    const late = { ...message(MAX_CHANNEL_ROOMS_PER_GUILD + 1), room_id: channelRoomId('!61:ref.example', String(MAX_CHANNEL_ROOMS_PER_GUILD + 1))! };
    expect(() => channels.copyCharge(late)).toThrow(expect.objectContaining({ status: 429 }));
    expect(channels.routeMessage(message(7), () => true)).toBe('!61~7:ref.example');
  });

  it('copies of the guild\'s memberships in its channel rooms are charged to the payer: past the daily quota a new channel stays in the guild room', () => {
    // Red team 2026-11-30: a host added members (~1.2 KB each, charged) that were copied uncharged
    // into up to 100 channel rooms, and each new channel copied every member at once.
    const rooms = new RoomStore(db);
    const quota = new StorageQuota(db, { bytesPerDay: 90 * MEMBERSHIP_COPY_BYTES });
    const channels = new ReferenceChannels(db, rooms, quota);
    rooms.createRoom({ room_id: '!61:ref.example', name: 'Guild', host_server: 'ref.example', created_at: 1 });
    const member = (i: number) => ({ user_id: `@u${i}:ref.example`, membership: 'join' as const, role: 'member' as const, invite_expires_at: null, event_id: `$j${i}:ref.example`, event_depth: i + 1, event_origin: 'ref.example' });
    for (let i = 0; i < 40; i++) rooms.applyReportedMember('!61:ref.example', member(i), 1);
    const message = (channel: number) => ({ event_id: '$1:ref.example', room_id: '!61:ref.example', event_type: 'm.message', sender: '@a:ref.example', origin_server: 'ref.example', origin_ts: 1, depth: 1, state_key: null, content: { body: 'x', channel_id: channel }, signatures: {} });
    const used = () => Array.from({ length: 91 }, (_, n) => n).find((n) => quota.exceeds('ref.example', (n + 1) * MEMBERSHIP_COPY_BYTES)) ?? 91;
    // What the ingest does: the copies are charged with the event (copyCharge), then stored.
    const take = (view: ReturnType<typeof message> | typeof join) => {
      quota.charge('ref.example', channels.copyCharge(view));
      if (view.event_type === 'm.message') return channels.ensure(view.room_id, {});
      rooms.applyReportedMember('!61:ref.example', member(40), 1); // (the store applies it in the guild room)
      channels.afterMemberEvent(view);
    };
    const room = channels.routeMessage(message(1), () => true)!;
    take({ ...message(1), room_id: room });
    expect(90 - used()).toBe(40); // its 40 members copied, 40 charged
    expect(channels.copyCharge({ ...message(1), room_id: room })).toBe(0); // made already
    // A member event of the guild: copied into the one channel room, one copy charged.
    const join = { event_id: '$j40:ref.example', room_id: '!61:ref.example', event_type: 'm.member.join', sender: '@u40:ref.example', origin_server: 'ref.example', origin_ts: 41, depth: 41, state_key: '@u40:ref.example', content: { membership: 'join' }, signatures: {} };
    take(join);
    expect(rooms.member(room, '@u40:ref.example')?.membership).toBe('join');
    expect(90 - used()).toBe(41);
    // The same membership decided already (a copy, or an older event of it): nothing copied, nothing charged.
    expect(channels.copyCharge(join)).toBe(0);
    expect(channels.copyCharge({ ...join, event_id: '$j39old:ref.example', depth: 2 })).toBe(0);
    // Another channel: 41 copies more fit (82 of 90); a third would not: its messages stay in the guild room.
    const second = channels.routeMessage(message(2), () => true)!;
    take({ ...message(2), room_id: second });
    expect(90 - used()).toBe(82);
    expect(channels.routeMessage(message(3), () => true)).toBeNull();
    // A channel room made already still takes its messages.
    expect(channels.routeMessage(message(1), () => true)).toBe(room);
  });

  it('migration 17 records, for guild rooms joined before, the channel most of their messages came from', () => {
    const events = new FederationEvents(db);
    db.prepare("INSERT INTO reference_joins (room_id, user_id, host_server, guild_id, local_user_id, joined_at) VALUES ('!61:ref.example', '@owner:us.example', 'ref.example', '61', '9', 1)").run();
    ['6101', '6101', '6102'].forEach((channel, i) =>
      events.insertNew({ event_id: `$${i}:ref.example`, room_id: '!61:ref.example', event_type: 'm.message', sender: '@a:ref.example', origin_server: 'ref.example', origin_ts: i + 1, depth: i + 1, state_key: null, content: { body: 'x', channel_id: channel }, signatures: {} }, `h${i}`, 'ref.example'),
    );
    db.prepare('DELETE FROM reference_channel_rooms').run();
    // Back to schema 16: what migrations 18-20 added goes too (they run again; columns cannot be added twice).
    db.exec('ALTER TABLE federation_servers DROP COLUMN endpoint_source; ALTER TABLE federation_servers DROP COLUMN endpoint_addresses; DROP TABLE destination_binding_peers');
    db.exec('ALTER TABLE room_bans DROP COLUMN known_at');
    // …and the search index migration 20 rebuilds (migration 35 moved it to a file of its own).
    db.exec("CREATE VIRTUAL TABLE main.message_search USING fts5 (body, room_id UNINDEXED, event_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2')");
    // …and what migrations 33 and later added.
    undoMigrationsFrom33(db);
    db.pragma('user_version = 16');
    runMigrations(db);
    expect(db.prepare('SELECT room_id, guild_room_id, channel_id FROM reference_channel_rooms').all()).toEqual([{ room_id: '!61:ref.example', guild_room_id: '!61:ref.example', channel_id: '6101' }]);
  });
});
