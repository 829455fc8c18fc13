/**
 * A friend's node as a mailbox (issue #32), the sender's side: when a push to a peer fails at the
 * network level (nobody can reach it), the same request — signed by us and bound to that peer —
 * is left at a mailbox of it: a common peer that the recipient fetches from. The mailbox is asked
 * first whether it holds mail for the recipient (`GET /mailbox/accepts`), and must show with its
 * answer the recipient's signed statement that it chose that mailbox (choice.ts), checked here
 * with the recipient's own key: a request's content goes only to a mailbox the recipient chose,
 * never to any other peer of ours that merely says it holds the mail. The one that took it last
 * is tried first next time.
 * For a while after a network failure, pushes go to the mailbox directly (no failed connection
 * per batch); then the direct path is tried again.
 */
import type { Logger } from 'pino';
import type { Db } from '../store/database.ts';
import type { Identity } from '../identity/identity.ts';
import type { TrustStore } from '../trust/trust-store.ts';
import type { Discovery } from '../federation/discovery.ts';
import type { FederationResponse, HttpClient } from '../federation/http-client.ts';
import { signRequestHeaders } from '../federation/request-signature.ts';
import { infoLimited, warnLimited } from '../log/rate-limit.ts';
import { cleanText, peerCode } from '../util/untrusted-text.ts';
import type { ServerKeys } from '../federation/keys/server-keys.ts';
import { checkChoice, type LinkMailboxes } from './choice.ts';
import { INNER_KEY_ID, INNER_SIGNATURE, INNER_TIMESTAMP, depositIdOf, kindOfPath } from './wire.ts';
import { MAILBOX_ACCEPTS_PATH, MAILBOX_CAPABILITY, MAILBOX_DEPOSIT_PATH } from '../federation/paths.ts';

/** After a network failure (or a page answering for its node: delivery-route.ts), the mailbox is used straight away for this long before direct is tried again. */
export const MAILBOX_PREFERRED_MS = 60_000;
/** At most this many mailboxes are asked for one request. */
const MAX_CANDIDATES = 4;

export interface MailboxSenderDeps {
  db: Db;
  trust: TrustStore;
  discovery: Discovery;
  http: HttpClient;
  /** The keys we hold for peers: a recipient's statement is checked with its own. */
  keys: Pick<ServerKeys, 'lookupNow'>;
  log: Logger;
}

export interface Deposited {
  response: FederationResponse;
  mailbox: string;
}

export class MailboxSender {
  private readonly deps: MailboxSenderDeps;
  private readonly preferUntil = new Map<string, number>();
  /** The mailbox that said lately it holds mail for a recipient, and until when that answer stands. */
  private readonly accepting = new Map<string, { mailbox: string; until: number }>();
  /** Why the last deposit for a recipient went nowhere (its queue entries say so). */
  private readonly refusals = new Map<string, string>();
  private readonly saveStmt;

  constructor(deps: MailboxSenderDeps) {
    this.deps = deps;
    this.saveStmt = deps.db.prepare('INSERT INTO peer_mailboxes (server_name, mailbox, since) VALUES (?, ?, ?) ON CONFLICT (server_name) DO UPDATE SET mailbox = excluded.mailbox, since = excluded.since');
  }

  /** Whether pushes to `destination` go to its mailbox now (a direct one failed moments ago). */
  preferred(destination: string, now = Date.now()): boolean {
    return (this.preferUntil.get(destination) ?? 0) > now;
  }

  /** The mailbox that took requests for `destination` last, or null. */
  mailboxOf(destination: string): string | null {
    return this.deps.db.prepare<[string], { mailbox: string }>('SELECT mailbox FROM peer_mailboxes WHERE server_name = ?').get(destination)?.mailbox ?? null;
  }

  /**
   * Leaves the request (`path`, `body`) for `destination` at one of its mailboxes: the mailbox's
   * answer (200 once stored), or null when no mailbox it chose holds mail for it (or none answered;
   * whyNot() says why in words). `link`: a friend's link we redeem names its mailboxes and its key.
   */
  async deposit(identity: Identity, destination: string, path: string, body: string, signal?: AbortSignal, link?: LinkMailboxes): Promise<Deposited | null> {
    const kind = kindOfPath(path);
    if (!kind) return null;
    const bytes = Buffer.from(body, 'utf8');
    const why: string[] = [];
    for (const mailbox of this.candidates(destination, identity.serverName, link?.via)) {
      if (signal?.aborted) return null;
      try {
        const endpoint = await this.chosen(identity, mailbox, destination, link, why, signal);
        if (endpoint === null) continue;
        // Our own request to the recipient, bound to it, carried in the deposit's headers.
        const inner = signRequestHeaders(identity, 'POST', path, bytes, Date.now(), destination);
        const headers = { [INNER_KEY_ID]: inner['X-Paracord-Key-Id']!, [INNER_TIMESTAMP]: inner['X-Paracord-Timestamp']!, [INNER_SIGNATURE]: inner['X-Paracord-Signature']! };
        const response = await this.deps.http.signed(identity, 'POST', endpoint, `${MAILBOX_DEPOSIT_PATH}/${destination}/${kind}`, body, { destination: mailbox, headers, ...(signal ? { signal } : {}) });
        if (response.status === 403 || response.status === 404) {
          this.accepting.delete(destination);
          const code = peerCode((response.json as { error?: unknown } | undefined)?.error);
          why.push(`${mailbox} refused the deposit (HTTP ${response.status}${code ? ` ${code}` : ''})`);
          continue;
        }
        // Taken, but naming no item: nothing could ask after it (or queue it again after its week).
        // Not that destination's mailbox; the next one is tried (the recipient drops a second copy).
        if (response.status === 200 && depositIdOf(response) === null) {
          why.push(`${mailbox} took the deposit without naming it (no item id)`);
          continue;
        }
        if (response.status === 200 && this.mailboxOf(destination) !== mailbox) this.saveStmt.run(destination, mailbox, Date.now());
        this.refusals.delete(destination);
        return { response, mailbox };
      } catch (error) {
        why.push(`${mailbox} could not be asked (${cleanText((error as Error).message, 80)})`);
        infoLimited(this.deps.log, `mailbox_deposit_failed ${mailbox}`, { event: 'mailbox_deposit_failed', mailbox, destination, error: cleanText((error as Error).message, 300) }, 'could not leave a request at a mailbox');
      }
    }
    this.refusals.set(destination, why.length > 0 ? why.join('; ') : 'none of our peers is a mailbox it could have chosen');
    return null;
  }

  /**
   * Why the last deposit for `destination` went nowhere, in words (for its queue entries' error):
   * "no mailbox beta.example chose would take it: carol.example …".
   */
  whyNot(destination: string): string {
    return `no mailbox ${destination} chose would take it: ${this.refusals.get(destination) ?? 'none was asked'}`;
  }

  /**
   * Whether some mailbox holds mail for `destination` (asking our peers as deposit() does): where
   * a request for it can be left now, or null. A room host asks before it queues an invite for a
   * server it cannot call.
   */
  async find(identity: Identity, destination: string, signal?: AbortSignal): Promise<string | null> {
    const why: string[] = [];
    for (const mailbox of this.candidates(destination, identity.serverName)) {
      try {
        if ((await this.chosen(identity, mailbox, destination, undefined, why, signal)) !== null) return mailbox;
      } catch {
        // that one is not reachable either: the next
      }
    }
    return null;
  }

  /**
   * `mailbox`'s endpoint when it is a mailbox `destination` chose, else null (the reason added to
   * `why`). It must say it holds mail for the recipient and show the recipient's signed statement
   * that it chose this mailbox (choice.ts): any other peer of ours could say it holds the mail.
   * A statement checked stands for a minute (and never past its expiry): asked once a minute per
   * recipient, not per request (a deposit refused 403 asks again).
   */
  private async chosen(identity: Identity, mailbox: string, destination: string, link: LinkMailboxes | undefined, why: string[], signal?: AbortSignal): Promise<string | null> {
    const document = await this.deps.discovery.documentOf(mailbox, Date.now(), signal);
    if (!document.capabilities.includes(MAILBOX_CAPABILITY)) {
      why.push(`${mailbox} is no mailbox`);
      return null;
    }
    const endpoint = document.federation_endpoint;
    const known = this.accepting.get(destination);
    if (known?.mailbox === mailbox && known.until > Date.now()) return endpoint;
    const asked = await this.deps.http.signed(identity, 'GET', endpoint, `${MAILBOX_ACCEPTS_PATH}/${destination}`, undefined, { destination: mailbox, ...(signal ? { signal } : {}) });
    const answer = asked.json as { accepts?: unknown; choice?: unknown } | undefined;
    if (asked.status !== 200 || answer?.accepts !== true) {
      why.push(`${mailbox} holds no mail for it`);
      return null;
    }
    // The recipient's key: the one its link names while we redeem it, else one we hold for it.
    const keyOf = (keyId: string) =>
      link ? (link.key_id === keyId ? link.public_key : null) : (() => {
        const found = this.deps.keys.lookupNow(destination, keyId, { purpose: 'request' });
        return found?.ok ? found.key.public_key : null;
      })();
    const checked = checkChoice(answer.choice, destination, mailbox, keyOf);
    if (!checked.ok) {
      const reason = answer.choice === undefined ? `${mailbox} shows no statement signed by ${destination} that it chose ${mailbox}` : `${mailbox}: ${checked.reason}`;
      why.push(reason);
      warnLimited(this.deps.log, `mailbox_not_chosen ${mailbox} ${destination}`, { event: 'mailbox_not_chosen', mailbox, destination, reason }, 'a peer says it keeps mail for a server that did not choose it: nothing is left there');
      return null;
    }
    this.accepting.set(destination, { mailbox, until: Math.min(Date.now() + MAILBOX_PREFERRED_MS, checked.choice.expires_at) });
    return endpoint;
  }

  /**
   * `destination` named where it receives (its peering answer, issue #32): the first of those we
   * may leave requests at is tried first (until a deposit elsewhere says otherwise).
   */
  remember(destination: string, mailboxes: readonly string[], now = Date.now()): void {
    const first = mailboxes.find((m) => m !== destination && this.deps.trust.get(m)?.trust === 'allow');
    if (first && this.mailboxOf(destination) === null) this.saveStmt.run(destination, first, now);
  }

  /** A direct push failed at the network level, or a page answered for its node: use the mailbox for a while. */
  noteUnreachable(destination: string, now = Date.now()): void {
    this.preferUntil.set(destination, now + MAILBOX_PREFERRED_MS);
  }

  /**
   * The mailbox that took it last first, then our other allowed peers (never the recipient
   * itself); only those of `via` (the mailboxes a friend's link names), in its order, when given.
   */
  private candidates(destination: string, self: string, via?: readonly string[]): string[] {
    const allowed = (server: string) => server !== destination && server !== self && this.deps.trust.get(server)?.trust === 'allow';
    if (via) return via.filter(allowed).slice(0, MAX_CANDIDATES);
    const last = this.mailboxOf(destination);
    const peers = this.deps.trust
      .list()
      .filter((s) => s.trust === 'allow' && allowed(s.server_name))
      .sort((a, b) => (b.last_seen_at ?? 0) - (a.last_seen_at ?? 0))
      .map((s) => s.server_name);
    const ordered = last && peers.includes(last) ? [last, ...peers.filter((p) => p !== last)] : peers;
    return ordered.slice(0, MAX_CANDIDATES);
  }
}
