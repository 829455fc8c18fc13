/**
 * What a mailbox keeps of a recipient's refusals (mailbox-store.ts, capability
 * `mailbox_refusals`): the recipient's room is shared fairly among the depositors. Real SQLite, a
 * real MailboxStore; the items are deposited as the deposit route does (with the event ids they carry).
 */
import { join } from 'node:path';
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { tempDir } from '../../../test/helpers/temp-dir.ts';
import { openDatabase } from '../store/database.ts';
import Database from 'better-sqlite3';
import { MailboxStore, REFUSALS_KEPT, STRANGERS_SHARE } from './mailbox-store.ts';
import { MIGRATIONS, runMigrations } from '../store/migrations.ts';
import { EVENTS_PATH } from '../federation/paths.ts';
import { mailboxRefusalsOut } from './fetcher.ts';
import { SETTLED_NOTE, WAITING_NOTE } from './wire.ts';

describe('refusals a mailbox keeps for depositors', () => {
  it('two depositors whose batches the recipient refuses whole cannot keep a third one\'s refusals out: the one holding most gives way, down to an equal share', () => {
    const db = openDatabase(join(tempDir(), 'paracord.db'));
    const store = new MailboxStore(db);
    const recipient = 'bob.test';
    /** One batch of `n` events from `depositor`, refused whole by bob: the checked refusals of an ack. */
    const refusedBatch = (depositor: string, n: number) => {
      const ids = Array.from({ length: n }, (_, i) => `$${i}-${Math.random().toString(36).slice(2)}:${depositor}`);
      const body = Buffer.from(JSON.stringify({ events: ids.map((event_id) => ({ event_id })) }));
      const id = db.transaction(() => store.deposit({ recipient, depositor, share: depositor, path: EVENTS_PATH, headers: '{}', body, created_at: Date.now() }, ids))();
      return ids.map((event_id) => ({ item: { id, depositor }, event_id, status: 403, error: 'not_member' }));
    };
    /** In one transaction, as the ack's. */
    const keep = (rows: ReturnType<typeof refusedBatch>) => db.transaction(() => store.keepRefusals(recipient, rows))();
    const counts = () => Object.fromEntries(db.prepare<[string], { depositor: string; n: number }>('SELECT depositor, COUNT(*) AS n FROM mailbox_refusals WHERE recipient = ? GROUP BY depositor').all(recipient).map((r) => [r.depositor, r.n]));
    // Two hostile depositors fill bob's room: 5,000 each (their share).
    for (const hostile of ['h1.test', 'h2.test']) {
      for (let i = 0; i < 5; i++) keep(refusedBatch(hostile, 1000));
    }
    expect(counts()).toEqual({ 'h1.test': 5000, 'h2.test': 5000 });
    expect(REFUSALS_KEPT.perRecipient).toBe(10_000);
    // An honest depositor's refusals are kept all the same (before: not kept, read as delivered).
    const honest = refusedBatch('alice.test', 3);
    expect(keep(honest)).toBe(3);
    expect(counts()).toEqual({ 'alice.test': 3, 'h1.test': 4998, 'h2.test': 4999 });
    // The hostile ones refusing more only trade places among themselves: alice's stay.
    expect(keep(refusedBatch('h1.test', 1000))).toBe(0);
    expect(keep(refusedBatch('h2.test', 1000))).toBe(0);
    expect(counts()).toEqual({ 'alice.test': 3, 'h1.test': 4998, 'h2.test': 4999 });
    // The same refusals again (an ack sent again) keep nothing more, and evict nothing.
    expect(keep(honest)).toBe(0);
    // alice's refusals grow up to an equal share of the room, never past it.
    for (let i = 0; i < 5; i++) keep(refusedBatch('alice.test', 1000));
    const shares = counts();
    expect(Object.values(shares).reduce((a, b) => a + b, 0)).toBe(10_000);
    for (const n of Object.values(shares)) expect(Math.abs(n - 10_000 / 3)).toBeLessThanOrEqual(1);
    // What alice reads are her own refusals, the first 3 among them.
    const read = store.readRefusals('alice.test', [honest[0]!.item.id]);
    expect(read.refused.map((r) => r.event_id).sort()).toEqual(honest.map((r) => r.event_id).sort());
    db.close();
  });
});

describe('refusals a recipient keeps for its acks to mailboxes', () => {
  it('those kept for a mailbox we no longer fetch from go after its week (its items are gone there by then)', () => {
    const db = openDatabase(join(tempDir(), 'paracord.db'));
    const out = mailboxRefusalsOut(db);
    const now = Date.now();
    const refusal = (id: string) => ({ id, event_id: `$${id}:alpha.test`, status: 403, error: 'not_member' });
    const rows = () => db.prepare<[], { server_name: string; item_id: number }>('SELECT server_name, item_id FROM mailbox_refusals_out ORDER BY server_name, item_id').all();
    // Kept 8 days ago for gone.test (never acknowledged: we stopped fetching there), and 6 days ago for box.test.
    db.transaction(() => {
      out.keep('gone.test', 7, [refusal('7')], now - 8 * 86_400_000);
      out.keep('box.test', 3, [refusal('3')], now - 6 * 86_400_000);
    })();
    expect(rows()).toHaveLength(2);
    // More kept now: gone.test's, past the week, go; box.test's are still named in its next ack until their week ends.
    db.transaction(() => out.keep('box.test', 4, [refusal('4')], now))();
    expect(rows()).toEqual([{ server_name: 'box.test', item_id: 3 }, { server_name: 'box.test', item_id: 4 }]);
    expect(out.upTo('box.test', 4).refused.map((r) => r.id)).toEqual(['3', '4']);
    expect(out.purge(now + 2 * 86_400_000)).toBe(1);
    expect(rows()).toEqual([{ server_name: 'box.test', item_id: 4 }]);
    db.close();
  });
});

describe('items a recipient keeps to take later (capability mailbox_waiting)', () => {
  it('stay past its acks, named apart to their depositor, until it names them settled or their week ends', () => {
    const db = openDatabase(join(tempDir(), 'paracord.db'));
    const store = new MailboxStore(db);
    const now = Date.now();
    const deposit = (recipient: string, n: number, at = now) => db.transaction(() => store.deposit({ recipient, depositor: 'alice.test', share: 'alice.test', path: EVENTS_PATH, headers: '{}', body: Buffer.from(`{"n":${n}}`), created_at: at }, [`$${n}:alice.test`]))();
    const [a, b, c] = [deposit('bob.test', 1), deposit('bob.test', 2), deposit('bob.test', 3)] as [number, number, number];
    const other = deposit('carl.test', 4);
    const ack = (recipient: string, cursor: number, waiting: number[], settled: number[]) => db.transaction(() => {
      store.keepWaiting(recipient, waiting, cursor);
      store.settle(recipient, settled);
      return store.ack(recipient, cursor);
    })();
    // bob took all three and keeps b to take later; it cannot keep carl's item, nor one after its cursor.
    expect(ack('bob.test', b, [b, other, c], [])).toBe(1);
    expect(store.stillHeld('alice.test', [a, b, c, other])).toEqual([b, c, other]);
    expect(store.waitingAmong([a, b, c, other])).toEqual([b]);
    // Acks after that leave b; they take c.
    expect(ack('bob.test', c, [], [])).toBe(1);
    expect(store.stillHeld('alice.test', [b, c])).toEqual([b]);
    // Not served again past the cursor.
    expect(store.page('bob.test', c, 10)).toEqual([]);
    // Named settled (carl cannot settle bob's): gone, with its waiting row.
    expect(ack('carl.test', other - 1, [], [b])).toBe(0);
    expect(store.stillHeld('alice.test', [b])).toEqual([b]);
    expect(ack('bob.test', c, [], [b])).toBe(1);
    expect(store.stillHeld('alice.test', [b])).toEqual([]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM mailbox_items_waiting').get()).toEqual({ n: 0 });
    // Named waiting and settled in one ack (done with before the ack left): gone.
    const d = deposit('bob.test', 5);
    expect(ack('bob.test', d, [d], [d])).toBe(1);
    // One kept waiting past its week goes with its row.
    const e = deposit('bob.test', 6, now - 8 * 86_400_000);
    ack('bob.test', e, [e], []);
    expect(store.waitingAmong([e])).toEqual([e]);
    expect(store.expire(now)).toBe(1);
    expect(store.stillHeld('alice.test', [e])).toEqual([]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM mailbox_items_waiting').get()).toEqual({ n: 0 });
    db.close();
  });

  it('the recipient forgets only the notes an answered ack named: one kept while it was on its way is named by the next', () => {
    const db = openDatabase(join(tempDir(), 'paracord.db'));
    const out = mailboxRefusalsOut(db);
    db.transaction(() => out.keep('box.test', 9, [{ id: '4', ...WAITING_NOTE }, { id: '9', event_id: '$9:alpha.test', status: 403, error: 'not_member' }]))();
    const sent = out.upTo('box.test', 9);
    expect(sent.refused).toEqual([{ id: '4', ...WAITING_NOTE }, { id: '9', event_id: '$9:alpha.test', status: 403, error: 'not_member' }]);
    // Item 4 is settled while that ack is on its way.
    db.transaction(() => out.keep('box.test', 4, [{ id: '4', ...SETTLED_NOTE }]))();
    out.acknowledged('box.test', sent.cursor, sent.refused);
    expect(out.upTo('box.test', 9).refused).toEqual([{ id: '4', ...SETTLED_NOTE }]);
    db.close();
  });

  it('an item kept again forgets its settled note and give-up refusals not named yet; its other refusals and other items keep theirs', () => {
    const db = openDatabase(join(tempDir(), 'paracord.db'));
    const out = mailboxRefusalsOut(db);
    const gaveUp = (id: string, n: number) => ({ id, event_id: `$${n}:alpha.test`, status: 403, error: 'not_checkable' });
    const refused = (id: string, n: number) => ({ id, event_id: `$${n}:alpha.test`, status: 403, error: 'not_member' });
    db.transaction(() => out.keep('box.test', 9, [gaveUp('4', 1), refused('4', 2), { id: '4', ...SETTLED_NOTE }, gaveUp('5', 3), { id: '5', ...SETTLED_NOTE }]))();
    db.transaction(() => out.keep('other.test', 4, [{ id: '4', ...SETTLED_NOTE }]))();
    // Item 4 of box.test came again (its page asked again before the notes were named) and is kept again.
    out.forgetOfItem('box.test', 4, SETTLED_NOTE, 'not_checkable');
    expect(out.upTo('box.test', 9).refused).toEqual([refused('4', 2), gaveUp('5', 3), { id: '5', ...SETTLED_NOTE }]);
    expect(out.upTo('other.test', 9).refused).toEqual([{ id: '4', ...SETTLED_NOTE }]);
    db.close();
  });
});

describe('a page of what a mailbox keeps', () => {
  it('holds no more items than fit in its byte budget (their bodies are not read past it), at least one, whatever the limit asked', () => {
    const db = openDatabase(join(tempDir(), 'paracord.db'));
    const store = new MailboxStore(db);
    const body = Buffer.alloc(100_000, 'x');
    const ids = Array.from({ length: 40 }, () => store.deposit({ recipient: 'bob.test', depositor: 'alice.test', share: 'alice.test', path: EVENTS_PATH, headers: '{}', body, created_at: Date.now() }));
    const page = store.page('bob.test', 0, 100, 512 * 1024);
    expect(page.map((item) => item.id)).toEqual(ids.slice(0, 5));
    // The next page starts after it; one item bigger than the budget still comes alone.
    expect(store.page('bob.test', ids[4]!, 100, 512 * 1024).map((item) => item.id)).toEqual(ids.slice(5, 10));
    expect(store.page('bob.test', 0, 100, 1_000).map((item) => item.id)).toEqual([ids[0]]);
    expect(store.page('bob.test', ids[39]!, 100, 512 * 1024)).toEqual([]);
    db.close();
  });
});

describe('what a mailbox holds, counted as it changes (migration 55)', () => {
  /** What is held, counted the slow way: the figures the deposit route read before (COUNT and SUM at every deposit). */
  const counted = (db: Database.Database) => ({
    recipients: db.prepare('SELECT recipient, COUNT(*) AS items, SUM(LENGTH(body)) AS bytes FROM mailbox_items GROUP BY recipient ORDER BY recipient').all(),
    shares: db.prepare('SELECT recipient, share, COUNT(*) AS items, SUM(LENGTH(body)) AS bytes FROM mailbox_items GROUP BY recipient, share ORDER BY recipient, share').all(),
  });
  const kept = (db: Database.Database) => ({
    recipients: db.prepare('SELECT recipient, items, bytes FROM mailbox_usage ORDER BY recipient').all(),
    shares: db.prepare('SELECT recipient, share, items, bytes FROM mailbox_share_usage ORDER BY recipient, share').all(),
  });

  it('follows every deposit, ack (items kept waiting stay counted), settle and expiry; servers not allowed share one share', () => {
    const db = openDatabase(join(tempDir(), 'paracord.db'));
    const store = new MailboxStore(db);
    const now = Date.now();
    const deposit = (recipient: string, depositor: string, share: string, size: number, at = now) =>
      db.transaction(() => store.deposit({ recipient, depositor, share, path: EVENTS_PATH, headers: '{}', body: Buffer.alloc(size, 'x'), created_at: at }))();
    deposit('bob.test', 'alice.test', 'alice.test', 100);
    const a2 = deposit('bob.test', 'alice.test', 'alice.test', 250);
    const m1 = deposit('bob.test', 'm1.test', STRANGERS_SHARE, 1_000);
    const m2 = deposit('bob.test', 'm2.test', STRANGERS_SHARE, 2_000);
    const old = deposit('carl.test', 'm1.test', STRANGERS_SHARE, 7, now - 8 * 24 * 3600_000);
    deposit('carl.test', 'alice.test', 'alice.test', 30);
    expect(store.usage('bob.test')).toEqual({ items: 4, bytes: 3_350 });
    expect(store.usageOf('bob.test', 'alice.test')).toEqual({ items: 2, bytes: 350 });
    // Two made-up names, one share: what they left together.
    expect(store.usageOf('bob.test', STRANGERS_SHARE)).toEqual({ items: 2, bytes: 3_000 });
    expect(store.usageOf('bob.test', 'm1.test')).toEqual({ items: 0, bytes: 0 });
    expect(store.usage('nobody.test')).toEqual({ items: 0, bytes: 0 });
    expect(kept(db)).toEqual(counted(db));
    // bob takes up to m1 and keeps a2 to take later: a1 and m1 go, a2 is still held here.
    db.transaction(() => {
      store.keepWaiting('bob.test', [a2], m1);
      return store.ack('bob.test', m1);
    })();
    expect(store.usage('bob.test')).toEqual({ items: 2, bytes: 2_250 });
    expect(store.usageOf('bob.test', 'alice.test')).toEqual({ items: 1, bytes: 250 });
    expect(kept(db)).toEqual(counted(db));
    db.transaction(() => {
      store.settle('bob.test', [a2]);
      return store.ack('bob.test', m2);
    })();
    // Nothing held for bob: no row left for it (a recipient's rows do not pile up).
    expect(store.usage('bob.test')).toEqual({ items: 0, bytes: 0 });
    expect(kept(db)).toEqual(counted(db));
    expect(db.prepare("SELECT COUNT(*) AS n FROM mailbox_share_usage WHERE recipient = 'bob.test'").get()).toEqual({ n: 0 });
    expect(store.expire(now)).toBe(1);
    expect(store.usage('carl.test')).toEqual({ items: 1, bytes: 30 });
    expect(kept(db)).toEqual(counted(db));
    expect(old).toBeGreaterThan(0);
    // An item is never changed (the counts could not follow): refused, nothing changes.
    expect(() => db.prepare("UPDATE mailbox_items SET body = x'00' WHERE recipient = 'carl.test'").run()).toThrow(/not changed/);
    expect(kept(db)).toEqual(counted(db));
    db.close();
  });

  it('an older database is counted once when it is brought to version 55: each item in its depositor\'s own share', () => {
    const db = new Database(join(tempDir(), 'paracord.db'));
    runMigrations(db, MIGRATIONS.filter((m) => m.version < 55));
    const insert = db.prepare('INSERT INTO mailbox_items (recipient, depositor, path, headers, body, created_at) VALUES (?, ?, ?, ?, ?, ?)');
    for (const [recipient, depositor, size] of [['bob.test', 'alice.test', 10], ['bob.test', 'alice.test', 20], ['bob.test', 'dave.test', 5], ['carl.test', 'dave.test', 1]] as const) {
      insert.run(recipient, depositor, EVENTS_PATH, '{}', Buffer.alloc(size, 'x'), Date.now());
    }
    runMigrations(db);
    expect(kept(db)).toEqual(counted(db));
    expect(kept(db).shares).toEqual([
      { recipient: 'bob.test', share: 'alice.test', items: 2, bytes: 30 },
      { recipient: 'bob.test', share: 'dave.test', items: 1, bytes: 5 },
      { recipient: 'carl.test', share: 'dave.test', items: 1, bytes: 1 },
    ]);
    db.close();
  });
});
