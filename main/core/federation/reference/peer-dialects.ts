/**
 * Which dialect each peer speaks and the id suffix ("domain") bound to it, as read from its
 * discovery when the owner added it (or when it was last read). Decided per peer, never per
 * message (docs/PROTOCOL.md §Interop with the Paracord reference). A domain other than the peer's own name is written only once proven
 * (name-claims.ts), and honoured only while no other server holds that name (`refusesAlias`).
 */
import type { Db } from '../../store/database.ts';
import type { ProvenAlias } from '../name-claims.ts';
import { REFERENCE_V2, type PeerDialect, type ReferenceVersion } from './dialect.ts';

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
  private readonly referenceListeners = new Set<() => void>();

  constructor(db: Db, options: { refusesAlias?: (domain: string, server: string) => boolean } = {}) {
    this.db = db;
    if (options.refusesAlias) this.refusesAlias = options.refusesAlias;
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

  /**
   * Which generation of the reference a peer runs (docs/PROTOCOL.md "Interop with the Paracord
   * reference"): '3' when its discovery said `federation-v2`, the owner said so, or it refused a
   * four-line request with 401 and took the bound one; '0.8' otherwise; null for other servers.
   */
  referenceVersion(serverName: string): ReferenceVersion | null {
    const row = this.get(serverName);
    if (row?.dialect !== 'reference') return null;
    return row.version === REFERENCE_V2 ? '3' : '0.8';
  }

  /** A reference peer asked for bound requests (a 401 to the four-line form): it is a 3.x one from now on. */
  markReference3(serverName: string, now = Date.now()): boolean {
    this.cache.delete(serverName);
    return this.db.prepare("UPDATE peer_dialects SET version = ?, updated_at = ? WHERE server_name = ? AND dialect = 'reference' AND (version IS NULL OR version != ?)").run(REFERENCE_V2, now, serverName, REFERENCE_V2).changes > 0;
  }

  /**
   * Whether a stored alias must not be honoured: the name is this server's own or another peer's
   * (set by the node: NameClaims.refusesAlias). Rows written before aliases were proven may hold one.
   */
  refusesAlias: (domain: string, server: string) => boolean = () => false;

  /** The extra id suffix bound to a server (a reference's `domain` when it differs from its name). */
  domainOf(serverName: string): string | null {
    const row = this.get(serverName);
    if (row?.dialect !== 'reference' || !row.domain || row.domain === serverName) return null;
    return this.aliasHeld(row.domain, serverName) ? row.domain : null;
  }

  /** The reference peer a bound domain belongs to (its ids and room ids use its domain). */
  serverOfDomain(domain: string): string | null {
    if (this.isReference(domain)) return domain;
    // Every event relayed to us asks (InboundEvents.checkReferenceRelay): the sole holder is cached.
    const sole = this.soleHolderOf(domain);
    return sole !== null && this.aliasHeld(domain, sole) ? sole : null;
  }

  /** The reference peers whose stored domain is `domain`, other than a server of that name. */
  aliasHolders(domain: string): string[] {
    return this.db
      .prepare<[string, string], { server_name: string }>("SELECT server_name FROM peer_dialects WHERE domain = ? AND server_name != ? AND dialect = 'reference' LIMIT 2")
      .all(domain, domain)
      .map((r) => r.server_name);
  }

  /** An alias is `server`'s alone: nobody else's name, and no other peer stores it. */
  private aliasHeld(domain: string, server: string): boolean {
    if (this.refusesAlias(domain, server)) return false;
    return this.soleHolderOf(domain) === server;
  }

  /** The one reference peer that stores `domain` (null: none, or more than one); cached until set() writes. */
  private soleHolderOf(domain: string): string | null {
    let sole = this.soleHolder.get(domain);
    if (sole === undefined) {
      const holders = this.aliasHolders(domain);
      sole = holders.length === 1 ? holders[0]! : null;
      if (this.soleHolder.size > 10_000) this.soleHolder.clear();
      this.soleHolder.set(domain, sole);
    }
    return sole;
  }
  private readonly soleHolder = new Map<string, string | null>();

  /** Calls `listener` each time a peer is recorded as a reference (its rooms' poller starts then); returns what unsubscribes. */
  onReference(listener: () => void): () => void {
    this.referenceListeners.add(listener);
    return () => this.referenceListeners.delete(listener);
  }

  references(): PeerDialectRow[] {
    return this.db.prepare<[], PeerDialectRow>("SELECT * FROM peer_dialects WHERE dialect = 'reference' ORDER BY server_name").all();
  }

  /** Records a peer's dialect; its ids use its own name, or the alias NameClaims proved (nothing else). */
  set(serverName: string, dialect: PeerDialect, alias: ProvenAlias | null, version: string | null, now = Date.now()): void {
    if (alias !== null && alias.server !== serverName) throw new Error(`the alias ${alias.domain} was proven for ${alias.server}, not ${serverName}`);
    const domain = alias?.domain ?? serverName;
    this.cache.delete(serverName);
    this.soleHolder.clear();
    this.db
      .prepare(
        `INSERT INTO peer_dialects (server_name, dialect, domain, version, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (server_name) DO UPDATE SET dialect = excluded.dialect, domain = excluded.domain, version = excluded.version, updated_at = excluded.updated_at`,
      )
      .run(serverName, dialect, domain, version, now);
    if (dialect === 'reference') for (const listener of this.referenceListeners) listener();
  }
}
