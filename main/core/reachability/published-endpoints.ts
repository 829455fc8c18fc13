/**
 * The endpoints this node's discovery publishes (`federation_endpoints`, own-endpoints.ts), best
 * first: none until the federation listener listens (it says where, through `listening`), then
 * its URL and the machine's global IPv6 addresses. Discovery is public: the machine's addresses
 * are read at most every 5 s, however often it is asked.
 */
import { ownEndpoints, type FederationWhere } from './own-endpoints.ts';

const REREAD_MS = 5_000;

export class PublishedEndpoints {
  private where: FederationWhere | null = null;
  private listed: { at: number; list: string[] } | null = null;

  /** `listening` calls its listener when the federation listener listens (the node's bus). */
  constructor(listening: (listener: (where: FederationWhere) => void) => void) {
    listening((where) => {
      this.where = where;
      this.listed = null;
    });
  }

  list(): string[] {
    if (!this.where) return [];
    if (!this.listed || Date.now() - this.listed.at > REREAD_MS) this.listed = { at: Date.now(), list: ownEndpoints(this.where) };
    return this.listed.list;
  }
}
