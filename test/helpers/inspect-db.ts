import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Reads a node's database read-only (the node keeps running), for "nothing was stored" checks. */
export function queryNodeDb<T>(dataDir: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(join(dataDir, 'paracord.db'), { readonly: true, fileMustExist: true });
  try {
    // The search index's file (rooms/search-db.ts), as the node sees it: the schema `search`.
    const search = join(dataDir, 'paracord-search.db');
    if (existsSync(search)) db.prepare('ATTACH DATABASE ? AS search').run(search);
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

export function countEvents(dataDir: string): number {
  return queryNodeDb<{ n: number }>(dataDir, 'SELECT COUNT(*) AS n FROM federation_events')[0]!.n;
}
