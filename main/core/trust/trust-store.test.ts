/**
 * Who named a peer's endpoint (issue #14 item 8), as the address policy reads it from the store:
 * real SQLite, the real migrations.
 */
import { beforeEach, describe, expect, it } from '../../../test/helpers/fixtures.ts';
import type { Db } from '../store/database.ts';
import { runMigrations } from '../store/migrations.ts';
import { Settings } from '../store/settings.ts';
import { MAX_STRANGERS_QUARANTINED, TrustStore } from './trust-store.ts';
import { undoMigrationsFrom33 } from '../../../test/helpers/schema-rollback.ts';

let db: Db;
beforeEach(({ tempDb }) => {
  db = tempDb.db;
});

describe('TrustStore.pinnedFingerprintFor', () => {
  it("takes the pin from the row of the server a request is for, never another row's at the same address; with no server named, only a pin the owner typed", () => {
    const trust = new TrustStore(db, new Settings(db));
    const pin = (c: string) => Array.from({ length: 32 }, () => c + c).join(':');
    // A link holder stored first, at a friend's address with its own certificate, then the friend (no pin: a CA certificate).
    trust.upsert('holder.test', { endpoint: 'https://friend.example:8448', endpoint_source: 'peer', tls_fingerprint: pin('A') });
    trust.upsert('friend.test', { endpoint: 'https://friend.example:8448/', endpoint_source: 'peer' });
    const at = new URL('https://friend.example:8448/_paracord/federation/v1/events');
    expect(trust.pinnedFingerprintFor(at, 'friend.test')).toBeNull();
    expect(trust.pinnedFingerprintFor(at, 'holder.test')).toBe(pin('A'));
    expect(trust.pinnedFingerprintFor(at, 'nobody.test')).toBeNull();
    expect(trust.pinnedFingerprintFor(at)).toBeNull(); // a peer's word pins nothing for a request for nobody
    // Another address of the holder's server: its pin is for its endpoint only.
    expect(trust.pinnedFingerprintFor(new URL('https://friend.example:8449/x'), 'holder.test')).toBeNull();
    // An endpoint and certificate the owner typed: pinned for a request that names no server too.
    trust.upsert('lan.test', { endpoint: 'https://192.168.1.20:8448', endpoint_source: 'owner', tls_fingerprint: pin('B') });
    expect(trust.pinnedFingerprintFor(new URL('https://192.168.1.20:8448/.well-known/paracord/server'))).toBe(pin('B'));
    expect(trust.pinnedFingerprintFor(new URL('https://192.168.1.20:8448/x'), 'lan.test')).toBe(pin('B'));
  });
});

describe('TrustStore.endpointVouch', () => {
  it('an owner endpoint vouches for its literal address and the addresses recorded when added; a peer endpoint only as a peer\'s word', () => {
    const trust = new TrustStore(db, new Settings(db));
    trust.upsert('lan.test', { endpoint: 'http://lan.test:7447', endpoint_source: 'owner', endpoint_addresses: ['192.168.1.20'] });
    trust.upsert('literal.test', { endpoint: 'http://10.0.0.5:7447', endpoint_source: 'owner' });
    trust.upsert('friend.test', { endpoint: 'https://friend.test', endpoint_source: 'peer' });
    trust.upsert('found.test', { endpoint: 'https://found.test', endpoint_source: 'discovery' });
    expect(trust.endpointVouch('http://lan.test:7447')).toEqual({ vouch: 'owner', addresses: new Set(['192.168.1.20']) });
    expect(trust.endpointVouch('http://10.0.0.5:7447')).toEqual({ vouch: 'owner', addresses: new Set(['10.0.0.5']) });
    expect(trust.endpointVouch('https://friend.test')).toEqual({ vouch: 'peering' });
    expect(trust.endpointVouch('https://found.test')).toBeUndefined();
    // A peer re-peering through a link does not keep the owner's word for the old endpoint.
    trust.upsert('lan.test', { endpoint: 'http://lan.test:7447', endpoint_source: 'peer' });
    expect(trust.endpointVouch('http://lan.test:7447')).toEqual({ vouch: 'peering' });
    // Blocked peers vouch for nothing; a new endpoint must say who named it.
    trust.upsert('friend.test', { trust: 'block' });
    expect(trust.endpointVouch('https://friend.test')).toBeUndefined();
    expect(() => trust.upsert('x.test', { endpoint: 'https://x.test' })).toThrow(/endpoint_source/);
  });

  it('migration 18: rows from before count as the owner\'s, vouching for a literal address only', () => {
    db.exec('ALTER TABLE federation_servers DROP COLUMN endpoint_source; ALTER TABLE federation_servers DROP COLUMN endpoint_addresses; DROP TABLE destination_binding_peers');
    // …and what migrations 19 and 20 added (they run again: a column cannot be added twice).
    db.exec('ALTER TABLE room_bans DROP COLUMN known_at');
    // …and the search index migration 20 rebuilds (migration 35 moved it to a file of its own).
    db.exec("CREATE VIRTUAL TABLE main.message_search USING fts5 (body, room_id UNINDEXED, event_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2')");
    // …and what migrations 33 and later added.
    undoMigrationsFrom33(db);
    db.pragma('user_version = 17');
    const insert = db.prepare("INSERT INTO federation_servers (server_name, trust, endpoint, added_at, updated_at) VALUES (?, 'allow', ?, 1, 1)");
    insert.run('old-lan.test', 'http://192.168.1.20:7447');
    insert.run('old-name.test', 'https://old-name.test');
    insert.run('old-none.test', null);
    runMigrations(db);
    const trust = new TrustStore(db, new Settings(db));
    expect(trust.endpointVouch('http://192.168.1.20:7447')).toEqual({ vouch: 'owner', addresses: new Set(['192.168.1.20']) });
    expect(trust.endpointVouch('https://old-name.test')).toEqual({ vouch: 'owner', addresses: new Set() });
    expect(trust.get('old-none.test')?.endpoint_source).toBeNull();
  });
});

describe('TrustStore.onPeersChange (issue #36: the loops per peer are told, not polling)', () => {
  it('tells of a server added and of a trust change, not of other updates; unsubscribes', () => {
    const trust = new TrustStore(db, new Settings(db));
    let told = 0;
    const unsubscribe = trust.onPeersChange(() => told++);
    trust.upsert('a.test', { endpoint: 'https://a.test', endpoint_source: 'owner' });
    expect(told).toBe(1);
    trust.upsert('a.test', { endpoint: 'https://a2.test', endpoint_source: 'owner' });
    trust.upsert('a.test', { trust: 'allow' });
    expect(told).toBe(1);
    trust.upsert('a.test', { trust: 'block' });
    expect(told).toBe(2);
    unsubscribe();
    trust.upsert('b.test', {});
    expect(told).toBe(2);
  });
});

describe('TrustStore.quarantineAbuser (auto-quarantine)', () => {
  it('keeps at most MAX_STRANGERS_QUARANTINED rows it wrote for strangers, the oldest going first; a peer\'s row, or one anything else wrote since, is never among them', () => {
    const trust = new TrustStore(db, new Settings(db));
    trust.setDefaultPolicy('open');
    let told = 0;
    trust.onPeersChange(() => told++);
    const rows = () => db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM federation_servers').get()!.n;
    // A friend (its own row) and a stranger the owner later named quarantined themselves, both
    // auto-quarantined first: neither is a stranger's row to forget.
    trust.upsert('friend.test', { endpoint: 'https://friend.test', endpoint_source: 'owner' });
    expect(trust.quarantineAbuser('friend.test', 'auto-quarantined: 20 events with bad signatures within 600 s', 1)).toBe(true);
    expect(trust.quarantineAbuser('adopted.test', 'auto-quarantined: 20 events with bad signatures within 600 s', 2)).toBe(true);
    trust.upsert('adopted.test', { trust: 'quarantine', reason: 'the owner keeps it out' }, 3);
    // Already in quarantine, or blocked: nothing written.
    expect(trust.quarantineAbuser('friend.test', 'again', 4)).toBe(false);
    trust.upsert('blocked.test', { trust: 'block' });
    expect(trust.quarantineAbuser('blocked.test', 'again', 5)).toBe(false);
    expect(trust.get('blocked.test')!.trust).toBe('block');

    const before = rows();
    for (let i = 0; i < MAX_STRANGERS_QUARANTINED + 50; i++) {
      expect(trust.quarantineAbuser(`s${i}.stranger.test`, 'auto-quarantined: 20 events with bad signatures within 600 s', 100 + i)).toBe(true);
    }
    expect(rows()).toBe(before + MAX_STRANGERS_QUARANTINED);
    // The 50 oldest are strangers again (the default policy decides for them, as for any new name)…
    expect(trust.get('s0.stranger.test')).toBeUndefined();
    expect(trust.get('s49.stranger.test')).toBeUndefined();
    expect(trust.decide('s49.stranger.test')).toEqual({ allowed: true, quarantined: false });
    // …the newest stay in quarantine, and the owner's and the peer's rows are all still there.
    expect(trust.decide(`s${MAX_STRANGERS_QUARANTINED + 49}.stranger.test`)).toEqual({ allowed: true, quarantined: true });
    expect(trust.get('s50.stranger.test')!.trust).toBe('quarantine');
    expect(trust.get('friend.test')).toMatchObject({ trust: 'quarantine', endpoint: 'https://friend.test' });
    expect(trust.get('adopted.test')).toMatchObject({ trust: 'quarantine', reason: 'the owner keeps it out' });
    expect(trust.get('blocked.test')!.trust).toBe('block');
    // Listeners heard of each row added and of those forgotten.
    expect(told).toBeGreaterThan(MAX_STRANGERS_QUARANTINED + 50);
  });
});
