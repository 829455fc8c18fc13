/**
 * Servers known to bind their signed requests to the destination (issue #14 item 14): once a
 * server's discovery advertised `destination_binding`, an unbound request from it is refused
 * even while its discovery cannot be read (fail closed). A discovery read later that no longer
 * advertises it (the server was downgraded) forgets the server again. Servers never seen to bind
 * keep the four-line form.
 */
import type { Db } from '../store/database.ts';

export class DestinationBindingMemory {
  private readonly hasStmt;
  private readonly addStmt;
  private readonly removeStmt;

  constructor(db: Db) {
    this.hasStmt = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM destination_binding_peers WHERE server_name = ?');
    this.addStmt = db.prepare('INSERT OR IGNORE INTO destination_binding_peers (server_name, seen_at) VALUES (?, ?)');
    this.removeStmt = db.prepare('DELETE FROM destination_binding_peers WHERE server_name = ?');
  }

  /** Whether `server`'s discovery ever advertised binding (and no later read said otherwise). */
  has(server: string): boolean {
    return this.hasStmt.get(server) !== undefined;
  }

  /** What a discovery document read from `server` itself said about binding. */
  observe(server: string, binds: boolean, now = Date.now()): void {
    if (binds) this.addStmt.run(server, now);
    else this.removeStmt.run(server);
  }
}
