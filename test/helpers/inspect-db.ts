import Database from 'better-sqlite3';
import { join } from 'node:path';

/** Reads a node's database read-only (the node keeps running), for "nothing was stored" checks. */
export function queryNodeDb<T>(dataDir: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(join(dataDir, 'paracord.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

export function countEvents(dataDir: string): number {
  return queryNodeDb<{ n: number }>(dataDir, 'SELECT COUNT(*) AS n FROM federation_events')[0]!.n;
}
