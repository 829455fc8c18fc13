/**
 * Development probe: which b-trees a message's transactions write, on the sending node (A) and
 * the receiving one (B), at a low rate. Sends `COUNT` messages `GAP_MS` apart from A's admin API,
 * then copies each node's database and write-ahead log while it runs and reads the WAL's frames:
 * per committed transaction, the pages written and the table or index each belongs to (SQLite's
 * `dbstat` on the copy). Prints, per node, WAL pages per message and the b-trees they belong to.
 *
 *   node test/bench/wal-pages-probe.ts [COUNT=40] [GAP_MS=100]
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { enc, ok, peeredPair, watchRoomEvents } from './bench-nodes.ts';
import type { NodeProcess } from '../helpers/node-process.ts';

const count = Number(process.argv[2] ?? 40);
const gapMs = Number(process.argv[3] ?? 100);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The WAL's generation (its salt) and, per committed transaction of that generation, its page numbers. */
function walTransactions(wal: Buffer): { salt: string; transactions: number[][] } {
  if (wal.length < 32) return { salt: '', transactions: [] };
  const pageSize = wal.readUInt32BE(8);
  const salt1 = wal.readUInt32BE(16);
  const salt2 = wal.readUInt32BE(20);
  const transactions: number[][] = [];
  let pages: number[] = [];
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    if (wal.readUInt32BE(at + 8) !== salt1 || wal.readUInt32BE(at + 12) !== salt2) break;
    pages.push(wal.readUInt32BE(at));
    if (wal.readUInt32BE(at + 4) !== 0) {
      transactions.push(pages);
      pages = [];
    }
  }
  return { salt: `${salt1}-${salt2}`, transactions };
}

/** Follows one node's WAL across checkpoints: `take()` returns the transactions committed since the last call. */
class WalFollower {
  private salt = '';
  private seen = 0;
  private readonly node: NodeProcess;
  constructor(node: NodeProcess) {
    this.node = node;
  }
  private get file(): string {
    return join(this.node.dataDir, 'paracord.db');
  }
  take(): number[][] {
    const { salt, transactions } = walTransactions(readFileSync(`${this.file}-wal`));
    const fresh = salt === this.salt ? transactions.slice(this.seen) : transactions;
    this.salt = salt;
    this.seen = transactions.length;
    return fresh;
  }
  /** Which table or index each page belongs to now (SQLite's dbstat on a copy). */
  owners(): Map<number, string> {
    const dir = mkdtempSync(join(tmpdir(), 'wal-probe-'));
    copyFileSync(`${this.file}-wal`, join(dir, 'copy.db-wal'));
    copyFileSync(this.file, join(dir, 'copy.db'));
    const db = new Database(join(dir, 'copy.db'));
    const owner = new Map<number, string>();
    for (const row of db.prepare('SELECT name, pageno FROM dbstat').all() as Array<{ name: string; pageno: number }>) owner.set(row.pageno, row.name);
    db.close();
    rmSync(dir, { recursive: true, force: true });
    return owner;
  }
}

const { a, b, roomId } = await peeredPair();
try {
  let arrived = 0;
  const stop = await watchRoomEvents(b, () => arrived++);
  for (let i = 0; i < 20; i++) await ok(a, 'POST', `/rooms/${enc(roomId)}/messages`, { body: `warm ${i}` });
  await sleep(2000);
  const followers = { A: new WalFollower(a), B: new WalFollower(b) };
  const run = { A: [] as number[][], B: [] as number[][] };
  followers.A.take();
  followers.B.take();
  for (let i = 0; i < count; i++) {
    await ok(a, 'POST', `/rooms/${enc(roomId)}/messages`, { body: `a lone message number ${i} about lunch` });
    // A checkpoint may restart the WAL at any commit: read it often enough to see every transaction.
    for (let t = 0; t < gapMs; t += 10) {
      await sleep(10);
      run.A.push(...followers.A.take());
      run.B.push(...followers.B.take());
    }
  }
  for (let t = 0; t < 1000; t += 10) {
    await sleep(10);
    run.A.push(...followers.A.take());
    run.B.push(...followers.B.take());
  }
  for (const label of ['A', 'B'] as const) {
    const owner = followers[label].owners();
    const byTree = new Map<string, number>();
    let pages = 0;
    for (const pagesOf of run[label]) for (const page of pagesOf) {
      pages++;
      const name = owner.get(page) ?? (page === 1 ? 'header' : `page ${page}`);
      byTree.set(name, (byTree.get(name) ?? 0) + 1);
    }
    console.log(`${label}: ${run[label].length} transactions, ${(run[label].length / count).toFixed(2)} per message; ${(pages / count).toFixed(2)} WAL pages per message`);
    for (const [name, n] of [...byTree].sort((x, y) => y[1] - x[1])) console.log(`  ${(n / count).toFixed(2).padStart(6)}  ${name}`);
  }
  stop();
  console.log(`B's stream saw ${arrived} events`);
} finally {
  await Promise.all([a.stop().catch(() => undefined), b.stop().catch(() => undefined)]);
}
