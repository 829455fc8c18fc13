import { beforeEach, describe, expect, it } from '../../../../test/helpers/fixtures.ts';
import type { Db } from '../../store/database.ts';
import { MAX_REPLACED_KEYS_PER_SERVER, ReplacedKeys } from './key-replacement.ts';

let db: Db;
beforeEach(({ tempDb }) => {
  db = tempDb.db;
});

describe('keys a reference replaced under the same id', () => {
  it('verify only events made before their replacement; the earliest replacement time holds', () => {
    const keys = new ReplacedKeys(db);
    keys.retire('ref.example', 'ed25519:auto', 'a'.repeat(64), 1_000);
    keys.retire('ref.example', 'ed25519:auto', 'a'.repeat(64), 5_000); // seen again later: still replaced at 1 000
    expect(keys.usableFor('ref.example', 'ed25519:auto', 999)).toEqual(['a'.repeat(64)]);
    expect(keys.usableFor('ref.example', 'ed25519:auto', 1_000)).toEqual([]);
    expect(keys.usableFor('ref.example', 'ed25519:other', 0)).toEqual([]);
    expect(keys.usableFor('other.example', 'ed25519:auto', 0)).toEqual([]);
  });

  it('keeps the newest MAX_REPLACED_KEYS_PER_SERVER per server', () => {
    const keys = new ReplacedKeys(db);
    for (let i = 0; i < MAX_REPLACED_KEYS_PER_SERVER + 5; i++) keys.retire('ref.example', 'ed25519:auto', i.toString(16).padStart(64, '0'), 1_000 + i);
    const kept = keys.list('ref.example');
    expect(kept).toHaveLength(MAX_REPLACED_KEYS_PER_SERVER);
    expect(kept[0]!.replaced_at).toBe(1_005);
  });

  it('a pending change keeps its first sighting while the same key is seen again, and is cleared', () => {
    const keys = new ReplacedKeys(db);
    const change = { server_name: 'ref.example', key_id: 'ed25519:auto', public_key: 'b'.repeat(64), seen_at: 10, reason: 'r' };
    keys.recordPending(change);
    keys.recordPending({ ...change, seen_at: 20 });
    expect(keys.pending('ref.example')?.seen_at).toBe(10);
    keys.recordPending({ ...change, public_key: 'c'.repeat(64), seen_at: 30 });
    expect(keys.pending('ref.example')).toMatchObject({ public_key: 'c'.repeat(64), seen_at: 30 });
    keys.clearPending('ref.example');
    expect(keys.pending('ref.example')).toBeUndefined();
  });
});
