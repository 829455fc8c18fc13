import { beforeEach, describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { canonicalJson } from '../crypto/canonical-json.ts';
import type { Db } from '../store/database.ts';
import { runMigrations } from '../store/migrations.ts';
import { StorageQuota, chargedBytes } from './storage-quota.ts';

let db: Db;
beforeEach(({ tempDb }) => {
  db = tempDb.db;
});

function quotaDb(limits: { bytesPerDay: number; totalBytes: number }) {
  runMigrations(db);
  const rows = () => db.prepare('SELECT server_name, day_bytes, total_bytes FROM peer_storage ORDER BY server_name').all();
  return { db, quota: new StorageQuota(db, limits), rows };
}

describe('StorageQuota.coalescing (a batch of received events)', () => {
  it('checks see what the batch charged so far, and each server gets one row update at the end', () => {
    const { db, quota, rows } = quotaDb({ bytesPerDay: 1_000, totalBytes: 10_000 });
    quota.charge('a.test', 100);
    const refusedAt: number[] = [];
    db.transaction(() =>
      quota.coalescing(() => {
        for (let i = 0; i < 6; i++) {
          try {
            quota.check('a.test', 200);
            quota.charge('a.test', 200);
          } catch {
            refusedAt.push(i);
          }
          quota.check('b.test', 10);
          quota.charge('b.test', 10);
        }
        // Nothing is written until the batch ends.
        expect(rows()).toEqual([{ server_name: 'a.test', day_bytes: 100, total_bytes: 100 }]);
      }),
    )();
    // 100 + 4 × 200 = 900; a fifth would make 1,100 > 1,000.
    expect(refusedAt).toEqual([4, 5]);
    expect(rows()).toEqual([
      { server_name: 'a.test', day_bytes: 900, total_bytes: 900 },
      { server_name: 'b.test', day_bytes: 60, total_bytes: 60 },
    ]);
  });

  it('writes nothing when the batch throws, and charges directly again after it', () => {
    const { db, quota, rows } = quotaDb({ bytesPerDay: 1_000, totalBytes: 10_000 });
    expect(() =>
      db.transaction(() =>
        quota.coalescing(() => {
          quota.charge('a.test', 300);
          throw new Error('a write failed');
        }),
      )(),
    ).toThrow('a write failed');
    expect(rows()).toEqual([]);
    quota.charge('a.test', 50);
    expect(rows()).toEqual([{ server_name: 'a.test', day_bytes: 50, total_bytes: 50 }]);
  });

  it('bytes freed during the batch are seen by its later reads', () => {
    const { db, quota, rows } = quotaDb({ bytesPerDay: 100_000, totalBytes: 1_000 });
    quota.charge('a.test', 900);
    db.transaction(() =>
      quota.coalescing(() => {
        expect(quota.view('a.test').total_bytes).toBe(900);
        quota.free('a.test', 500);
        quota.charge('a.test', 200);
        expect(quota.view('a.test').total_bytes).toBe(600);
      }),
    )();
    expect(rows()).toEqual([{ server_name: 'a.test', day_bytes: 1_100, total_bytes: 600 }]);
  });
});

describe('StorageQuota limits (issue #37 item 8)', () => {
  const noon = Date.UTC(2030, 0, 1, 12);
  const day = 86_400_000;

  it('the owner is warned at 80 % of the daily quota, before it refuses; the next day the server goes on', () => {
    const { quota } = quotaDb({ bytesPerDay: 1_000, totalBytes: 1_000_000 });
    quota.charge('a.test', 700, noon);
    expect(quota.warnings(noon)).toEqual([]);
    quota.charge('a.test', 150, noon);
    expect(quota.warnings(noon)).toEqual([expect.stringMatching(/^a\.test used 85 % of its daily storage quota .*past it, its events wait until tomorrow/)]);
    expect(() => quota.check('a.test', 200, noon)).toThrow(expect.objectContaining({ status: 429, code: 'quota_exceeded' }));
    quota.check('a.test', 200, noon + day);
    expect(quota.warnings(noon + day)).toEqual([]);
  });

  it('the total never ends a server\'s rooms (a notice), but bounds what its held events take', () => {
    const { quota } = quotaDb({ bytesPerDay: 1_000, totalBytes: 2_000 });
    for (let d = 0; d < 3; d++) {
      quota.check('a.test', 900, noon + d * day);
      quota.charge('a.test', 900, noon + d * day);
    }
    expect(quota.view('a.test', noon + 2 * day)).toMatchObject({ total_bytes: 2_700, exceeded: null });
    expect(quota.warnings(noon + 2 * day).join('\n')).toMatch(/a\.test's events take .* nothing is refused/);
    // Held events of a quarantined server: bounded by the total, warned about at 80 %.
    quota.checkHeld('q.test', 1_500, 400, noon);
    expect(quota.warnings(noon, new Map([['q.test', 1_700]])).join('\n')).toMatch(/q\.test is quarantined and has .* held for your review/);
    expect(() => quota.checkHeld('q.test', 1_700, 400, noon)).toThrow(expect.objectContaining({ status: 413, code: 'quota_exceeded' }));
    expect(quota.view('q.test', noon).exceeded).toBe('total');
    quota.heldReviewed('q.test');
    expect(quota.view('q.test', noon).exceeded).toBe(null);
  });
});

describe('StorageQuota.readingTogether (a received batch checked before its signatures)', () => {
  it('reads each server\'s usage once, answers as separate reads would, and forgets it after', () => {
    const { db, quota } = quotaDb({ bytesPerDay: 1_000, totalBytes: 10_000 });
    quota.charge('a.test', 900);
    // Rows changed behind its back during the batch are not read again: one read per server...
    const answers = quota.readingTogether(() => {
      const first = [quota.exceeds('a.test', 50), quota.exceeds('a.test', 150)];
      db.prepare("UPDATE peer_storage SET day_bytes = 0 WHERE server_name = 'a.test'").run();
      return [...first, quota.exceeds('a.test', 150), quota.exceeds('b.test', 1_001)];
    });
    expect(answers).toEqual([false, true, true, true]);
    // ...and read afresh after it.
    expect(quota.exceeds('a.test', 150)).toBe(false);
  });

  it('sees a charge or a free made during it', () => {
    const { quota } = quotaDb({ bytesPerDay: 1_000, totalBytes: 10_000 });
    quota.readingTogether(() => {
      expect(quota.exceeds('a.test', 500)).toBe(false);
      quota.charge('a.test', 600);
      expect(quota.exceeds('a.test', 500)).toBe(true);
      quota.free('a.test', 600);
    });
  });

  it('exceeds() refuses nothing and counts no refusal; check() does both', () => {
    const { quota } = quotaDb({ bytesPerDay: 1_000, totalBytes: 10_000 });
    quota.charge('a.test', 990);
    expect(quota.exceeds('a.test', 20)).toBe(true);
    expect(quota.view('a.test').refused_events).toBe(0);
    expect(() => quota.check('a.test', 20)).toThrow(/quota/);
    expect(quota.view('a.test').refused_events).toBe(1);
  });
});

describe('chargedBytes', () => {
  it('charges an edit\'s text as a message\'s: it replaces the message\'s text in the search index', () => {
    const body = 'word '.repeat(2_000);
    const base = { event_id: '$e:peer.test', room_id: '!r:peer.test', sender: '@u:peer.test', origin_server: 'peer.test', origin_ts: 1, depth: 1, state_key: null, signatures: {} };
    const charged = (event_type: string, content: Record<string, unknown>) => chargedBytes({ ...base, event_type, content }, Buffer.byteLength(canonicalJson(content)));
    const message = charged('m.message', { body, format: 'plain' });
    const edit = charged('m.message.edit', { body, target: '$m:peer.test' });
    const reaction = charged('m.reaction.add', { key: body, target: '$m:peer.test' });
    expect(edit).toBeGreaterThanOrEqual(message);
    // Text nothing indexes is charged once.
    expect(reaction).toBeLessThan(message / 2);
  });
});
