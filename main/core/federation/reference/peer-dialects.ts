/**
 * Which dialect each peer speaks and the id suffix ("domain") bound to it, as read from its
 * discovery when the owner added it (or when it was last read). Decided per peer, never per
 * message (DESIGN.md §3).
 */
import type { Db } from '../../store/database.ts';
import type { PeerDialect } from './dialect.ts';

export interface PeerDialectRow {
  server_name: string;
  dialect: PeerDialect;
  domain: string | null;
  version: string | null;
  updated_at: number;
}

export class PeerDialects {
  private readonly db: Db;
  private readonly cache = new Map<string, PeerDialectRow | undefined>();

  constructor(db: Db) {
    this.db = db;
  }

  get(serverName: string): PeerDialectRow | undefined {
    if (this.cache.has(serverName)) return this.cache.get(serverName);
    const row = this.db.prepare<[string], PeerDialectRow>('SELECT * FROM peer_dialects WHERE server_name = ?').get(serverName);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(serverName, row);
    return row;
  }

  isReference(serverName: string): boolean {
    return this.get(serverName)?.dialect === 'reference';
  }

  /** The extra id suffix bound to a server (a reference's `domain` when it differs from its name). */
  domainOf(serverName: string): string | null {
    const row = this.get(serverName);
    return row?.domain && row.domain !== serverName ? row.domain : null;
  }

  /** The reference peer a bound domain belongs to (its ids and room ids use its domain). */
  serverOfDomain(domain: string): string | null {
    const row = this.db.prepare<[string], { server_name: string }>("SELECT server_name FROM peer_dialects WHERE domain = ? AND dialect = 'reference' LIMIT 1").get(domain);
    return row?.server_name ?? null;
  }

  references(): PeerDialectRow[] {
    return this.db.prepare<[], PeerDialectRow>("SELECT * FROM peer_dialects WHERE dialect = 'reference' ORDER BY server_name").all();
  }

  set(serverName: string, dialect: PeerDialect, domain: string | null, version: string | null, now = Date.now()): void {
    this.cache.delete(serverName);
    this.db
      .prepare(
        `INSERT INTO peer_dialects (server_name, dialect, domain, version, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (server_name) DO UPDATE SET dialect = excluded.dialect, domain = excluded.domain, version = excluded.version, updated_at = excluded.updated_at`,
      )
      .run(serverName, dialect, domain, version, now);
  }
}
