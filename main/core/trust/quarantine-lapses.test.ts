/**
 * Quarantines with an end time lapse by themselves without a poll (issue #36): real SQLite, the
 * real TrustStore; one timer for the soonest end, none without one.
 */
import { afterEach, beforeEach, describe, expect, it } from '../../../test/helpers/fixtures.ts';
import type { Db } from '../store/database.ts';
import { runMigrations } from '../store/migrations.ts';
import { Settings } from '../store/settings.ts';
import { TrustStore } from './trust-store.ts';
import { MAX_WAIT_MS, QuarantineLapses, RETRY_AFTER_FAILURE_MS } from './quarantine-lapses.ts';

let db: Db;
let lapses: QuarantineLapses | undefined;
beforeEach(({ tempDb }) => {
  db = tempDb.db;
});
// Before tempDb closes the database.
afterEach(() => {
  lapses?.stop();
});

describe('QuarantineLapses', () => {
  it('arms no timer without a quarantine end, one for the soonest end once set, and ends each quarantine when due', async () => {
    runMigrations(db);
    const ended: string[] = [];
    let onChange = () => {};
    const trust = new TrustStore(db, new Settings(db), { onQuarantineChange: () => onChange() });
    lapses = new QuarantineLapses(trust, (server) => {
      ended.push(server);
      trust.upsert(server, { trust: 'allow', until_ms: null });
    });
    onChange = () => lapses!.changed();
    trust.upsert('forever.test', { trust: 'quarantine', until_ms: null });
    lapses.start();
    expect(lapses.next).toBeNull(); // a quarantine without an end: nothing to wait for

    const now = Date.now();
    trust.upsert('later.test', { trust: 'quarantine', until_ms: now + 3_600_000 });
    expect(lapses.next).toBeGreaterThanOrEqual(now + 3_600_000 - 1_000);
    // A sooner end set afterwards re-arms the one timer for it.
    trust.upsert('soon.test', { trust: 'quarantine', until_ms: Date.now() + 300 });
    expect(lapses.next).toBeLessThan(now + 10_000);
    await expect.poll(() => ended).toEqual(['soon.test']);
    expect(trust.get('soon.test')?.trust).toBe('allow');
    // Then it waits for the next end (an hour away), and the unlimited quarantine stays.
    expect(lapses.next).toBeGreaterThan(Date.now() + 3_000_000);
    expect(trust.get('forever.test')?.trust).toBe('quarantine');

    trust.upsert('later.test', { trust: 'allow', until_ms: null });
    expect(lapses.next).toBeNull();
  });

  it('cuts a very long wait into steps, and ends a quarantine already due at start', () => {
    runMigrations(db);
    const ended: string[] = [];
    const trust = new TrustStore(db, new Settings(db));
    trust.upsert('past.test', { trust: 'quarantine', until_ms: Date.now() - 1 });
    trust.upsert('far.test', { trust: 'quarantine', until_ms: Date.now() + 30 * 24 * 3600_000 });
    lapses = new QuarantineLapses(trust, (server) => {
      ended.push(server);
      trust.upsert(server, { trust: 'allow', until_ms: null });
    });
    lapses.start();
    expect(ended).toEqual(['past.test']);
    expect(lapses.next! - Date.now()).toBeLessThanOrEqual(MAX_WAIT_MS);
  });

  it('a lapse that cannot be written (a failing database) is told, not thrown out of its timer, and tried again 30 s later, not at once', () => {
    runMigrations(db);
    const trust = new TrustStore(db, new Settings(db));
    trust.upsert('past.test', { trust: 'quarantine', until_ms: Date.now() - 1 });
    const failures: Array<string | null> = [];
    lapses = new QuarantineLapses(trust, (server) => trust.upsert(server, { trust: 'allow', until_ms: null }), (server) => failures.push(server));
    // The connection refuses every write (SQLITE_READONLY): a real failure of the database.
    db.pragma('query_only = ON');
    // Before: the upsert's error came out of start() (from the timer, it ended the node), and a
    // caught one would have re-armed the timer for the past end, at 0 ms, again and again.
    expect(() => lapses!.start()).not.toThrow();
    expect(failures).toEqual(['past.test']);
    expect(lapses.next! - Date.now()).toBeGreaterThanOrEqual(RETRY_AFTER_FAILURE_MS - 1_000);
    // A change meanwhile (another quarantine set) keeps that wait.
    lapses.changed();
    expect(lapses.next! - Date.now()).toBeGreaterThanOrEqual(RETRY_AFTER_FAILURE_MS - 1_000);
    db.pragma('query_only = OFF');
    expect(trust.get('past.test')?.trust).toBe('quarantine');
  });
});
