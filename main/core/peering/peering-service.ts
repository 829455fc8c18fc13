/**
 * One-click peering (docs/PROTOCOL.md §Peering links and pinning): issue, list and revoke invite links; redeem a friend's link;
 * accept a friend redeeming ours (`POST /_paracord/federation/v1/peering`). At the end both
 * nodes allow each other, with each other's key and TLS certificate pinned. A link never changes
 * who an existing peer is (name-claims.ts): it may name one only with a key that peer proved its
 * own, and a refused link stays unused.
 */
import type { Logger } from 'pino';
import type { PeerInvite, PendingPeering } from '../../../shared/contract/admin-operations.ts';
import { HttpError, badRequest, forbidden, notFound } from '../errors.ts';
import type { Discovery } from '../federation/discovery.ts';
import type { NameClaims } from '../federation/name-claims.ts';
import { FederationRequestError, joinUrl, type HttpClient } from '../federation/http-client.ts';
import { peerRefusal } from '../federation/peer-refusal.ts';
import { checkKeysDocument, type RemoteKeysDocument } from '../federation/keys-document.ts';
import { CertificatePinError } from '../federation/pinned-tls.ts';
import { AddressRefusedError } from '../federation/address-policy.ts';
import { peerUnreachable, unreachableReason } from '../federation/unreachable.ts';
import { isUnreachableReason, type UnreachableReason } from '../../../shared/contract/unreachable.ts';
import type { ServerKeys } from '../federation/keys/server-keys.ts';
import type { Identity } from '../identity/identity.ts';
import type { Db } from '../store/database.ts';
import type { TlsMaterial } from '../tls/certificate.ts';
import type { TrustStore } from '../trust/trust-store.ts';
import type { PullQueue } from '../pull/pull-queue.ts';
import { PROBE_TIMEOUT_MS, classify } from '../reachability/probe-caller.ts';
import { cleanText } from '../util/untrusted-text.ts';
import { isServerName } from '../../../shared/identifiers.ts';
import { PEER_TEXT_MAX } from '../federation/peer-refusal.ts';
import { parseLink, type LinkPayload } from './invite-link.ts';
import { DEFAULT_LINK_LIFETIME_MS, InviteLinks, linkEnded } from './invite-links.ts';
import { PendingPeerings } from './pending-peerings.ts';
import type { LinkMailboxes } from '../mailbox/choice.ts';
import { hashToken, peeringProof, proofKey, type PeeringAnswer, type PeeringAnswerMessage, type PeeringRequest, type PeeringRequestFields } from './peering-wire.ts';
import { KEYS_PATH, PEERING_ANSWER_PATH, PEERING_PATH } from '../federation/paths.ts';

export { DEFAULT_LINK_LIFETIME_MS } from './invite-links.ts';
/** Refusals the inviter sends back through a mailbox: about the link itself, to its redeemer. */
const ANSWERED_REFUSALS = new Set(['link_used', 'link_expired', 'link_revoked', 'link_ended', 'already_peer', 'name_taken']);

export type PeerInviteView = PeerInvite;
export { hashToken, type PeeringAnswer, type PeeringAnswerMessage, type PeeringRequest, type PeeringRequestFields } from './peering-wire.ts';
export { PENDING_RESEND_MS } from './pending-peerings.ts';

export interface PeeringDeps {
  db: Db;
  identity: () => Identity;
  federationUrl: () => string;
  tls: () => TlsMaterial | null;
  trust: TrustStore;
  keys: ServerKeys;
  /** Who each name is bound to: every peering goes through its check. */
  claims: NameClaims;
  http: HttpClient;
  discovery: Discovery;
  log: Logger;
  /** Who receives by pull, and whose endpoint was never reached (issue #32). */
  pull: PullQueue;
  /** Peers changed (for live UI updates). */
  onPeered?: (server: string) => void;
  /** The friend whose link we redeemed could not call us back: receive by pull at once (issue #32). */
  onNotReached?: (server: string, error: string) => void;
  /** The friends whose nodes keep our mail now (named in our links), none while we can be reached. */
  mailboxes?: () => string[];
  /**
   * Leaves a signed request for `server` at one of its mailboxes (only those its link names, checked
   * with the key it names, when given): the mailbox that took it, or null.
   */
  leaveAtMailbox?: (server: string, path: string, body: string, link?: LinkMailboxes) => Promise<string | null>;
  /** A friend named where it receives while nobody can reach it (its peering answer). */
  rememberMailbox?: (server: string, mailboxes: readonly string[]) => void;
}

export class PeeringService {
  private readonly d: PeeringDeps;
  /** Links we redeemed through a mailbox, waiting for the friend's answer. */
  private readonly pending: PendingPeerings;
  /** Our invite links. */
  private readonly links: InviteLinks;

  constructor(deps: PeeringDeps) {
    this.d = deps;
    this.links = new InviteLinks(deps);
    this.pending = new PendingPeerings({ db: deps.db, trust: deps.trust, log: deps.log, ...(deps.leaveAtMailbox ? { leaveAtMailbox: deps.leaveAtMailbox } : {}) });
  }

  /** Leaves the peering requests that wait for an answer at their mailboxes again, now and then. */
  start(): void {
    this.pending.start();
  }

  stop(): void {
    this.pending.stop();
  }

  createInvite(lifetimeMs = DEFAULT_LINK_LIFETIME_MS, note?: string, now = Date.now()): { id: string; link: string; https_link: string; expires_at: number } {
    return this.links.create(lifetimeMs, note, now);
  }

  listInvites(now = Date.now()): PeerInviteView[] {
    return this.links.list(now);
  }

  revokeInvite(id: string, now = Date.now()): PeerInviteView {
    return this.links.revoke(id, now);
  }

  /** Redeems a friend's link: check it against the live server, then ask it to peer. */
  async redeem(link: string): Promise<{ server_name: string; endpoint: string; key_id: string; tls_fingerprint: string | null; reachable: boolean | null; reach_error?: string; waiting_at?: string }> {
    const parsed = parseLink(link);
    if (!parsed.ok) throw badRequest('invalid_link', parsed.reason);
    const invite = parsed.payload;
    const identity = this.d.identity();
    if (invite.server_name === identity.serverName) throw badRequest('invalid_link', 'this is your own server\'s link; send it to a friend');
    if (invite.expires_at <= Date.now()) throw new HttpError(410, 'link_expired', 'this link has expired; ask your friend for a new one');
    // The one endpoint rule (federation/endpoint.ts); a link's endpoint is a friend's word, not the
    // owner's (vouch "peering", also once stored): a non-public address only when the link names it
    // literally and the certificate is pinned (or loopback in --insecure-http test mode); a host
    // name that resolves to one is refused (address-policy.ts).
    try {
      this.d.http.checkEndpoint(invite.endpoint);
    } catch (error) {
      throw badRequest('invalid_link', (error as Error).message);
    }
    const pin = invite.tls_fingerprint ?? undefined;
    if (invite.endpoint.startsWith('https:') && !pin) throw badRequest('invalid_link', 'an https link must carry the certificate fingerprint');
    const via = { vouch: 'peering' as const, server: invite.server_name, ...(pin ? { pin } : {}) };
    // A link naming a server we already peer with must carry that server's own key: before
    // anything is sent to the endpoint it names.
    await this.d.claims.checkPeering(invite.server_name, invite.key_id, invite.public_key);

    // What the link promises must be what the server serves.
    const keys = await this.contact(invite.server_name, async () => {
      const discovery = await this.d.discovery.fetchDocument(invite.endpoint, { ...(pin ? { pin } : {}), vouch: 'peering', server: invite.server_name });
      if (discovery.server_name !== invite.server_name) throw new PinMismatch(`the server at ${invite.endpoint} is ${discovery.server_name}, not ${invite.server_name}`);
      const response = await this.d.http.send('GET', joinUrl(invite.endpoint, KEYS_PATH), { accept: 'application/json' }, undefined, via);
      const check = checkKeysDocument(response.json, invite.server_name);
      if (!check.ok) throw new PinMismatch(`its keys document is not valid: ${check.reason}`);
      if (!listsKey(check.document, invite.key_id, invite.public_key)) {
        throw new PinMismatch(`it does not serve the key in the link (${invite.key_id}); the link or the server is not genuine`);
      }
      return { document: check.document, raw: response.json, discovery };
    }).catch((error: unknown) => {
      // Nobody reaches it: its link may name friends that keep its mail (issue #32).
      if (error instanceof HttpError && error.code === 'peer_unreachable' && this.viaOf(invite).length > 0) return error;
      throw error;
    });
    if (keys instanceof HttpError) return this.redeemThroughMailbox(invite, isUnreachableReason(keys.details.reason) ? keys.details.reason : 'other');

    const request: PeeringRequest = {
      token: invite.token,
      server_name: identity.serverName,
      endpoint: this.d.federationUrl(),
      key_id: identity.keyId,
      public_key: identity.publicKeyHex,
      tls_fingerprint: this.d.tls()?.fingerprint256 ?? null,
    };
    // Bound to the link's server whatever its discovery says: unbound, an inviter could pass our
    // signed request on to the server whose token it put in its own link (within the minute a
    // signature holds), and that server would take us as a peer nobody asked for (a red-team
    // review, 2026-11-30). Every Paracord node since destination binding (migration 18) checks it.
    const response = await this.contact(invite.server_name, () =>
      this.d.http.signed(identity, 'POST', invite.endpoint, PEERING_PATH, JSON.stringify(request), { ...via, destination: invite.server_name, bind: true }),
    );
    if (response.status !== 200) throw peerRefusal(invite.server_name, response, 'peering_refused', { keep: [...ANSWERED_REFUSALS] });
    this.d.db.transaction(() => {
      this.bind(invite.server_name, invite.key_id, invite.public_key, invite.endpoint, invite.tls_fingerprint);
      this.d.keys.store(keys.document, Date.now(), keys.raw);
      this.d.discovery.noteBinding(invite.server_name, keys.discovery);
    })();
    this.d.discovery.forget(invite.server_name);
    // The inviter's callback was our first reachability probe: when it could not reach us, we
    // receive by pull from now on (issue #32). Its words are a peer's text: cleaned and cut.
    const answer = response.json as { reachable?: unknown; reach_error?: unknown } | undefined;
    const reachable = answer?.reachable === false ? false : answer?.reachable === true ? true : null;
    const reachError = reachable === false ? cleanText(typeof answer?.reach_error === 'string' ? answer.reach_error : 'it could not call this node back', PEER_TEXT_MAX) : null;
    this.d.log.info({ event: 'peered', server: invite.server_name, via: 'invite_link', reachable }, 'peered through an invite link');
    // It just answered our signed request, from the endpoint that serves the link's key: heard from
    // (its line says so at once, not "not heard from yet" until its first request).
    this.d.trust.markSeen(invite.server_name);
    if (reachError !== null) this.d.onNotReached?.(invite.server_name, reachError);
    this.noteMailboxes(invite.server_name, (answer as { mailboxes?: unknown } | undefined)?.mailboxes);
    this.d.onPeered?.(invite.server_name);
    return { server_name: invite.server_name, endpoint: invite.endpoint, key_id: invite.key_id, tls_fingerprint: invite.tls_fingerprint, reachable, ...(reachError !== null ? { reach_error: reachError } : {}) };
  }

  /** The mailboxes a link names that we could leave a request at: our allowed peers. */
  private viaOf(invite: LinkPayload): string[] {
    const self = this.d.identity().serverName;
    return (invite.mailboxes ?? []).filter((m) => m !== self && m !== invite.server_name && this.d.trust.get(m)?.trust === 'allow');
  }

  /**
   * The friend cannot be reached, and its link names mailboxes we peer with: our signed peering
   * request is left at one of them for it to fetch. Nothing is bound until the friend's own signed
   * answer comes back (`POST /peering/answer`); until then the request waits (pendingPeerings).
   * `unreached`: why the friend itself could not be reached (the 502's `reason` when no mailbox takes it).
   */
  private async redeemThroughMailbox(invite: LinkPayload, unreached: UnreachableReason): Promise<Awaited<ReturnType<PeeringService['redeem']>>> {
    const identity = this.d.identity();
    const via = this.viaOf(invite);
    const fields: PeeringRequestFields = {
      server_name: identity.serverName, endpoint: this.d.federationUrl(), key_id: identity.keyId,
      public_key: identity.publicKeyHex, tls_fingerprint: this.d.tls()?.fingerprint256 ?? null,
    };
    // The mailbox reads what it carries: the token stays here, a proof made with it goes.
    const request: PeeringRequest = { ...fields, token_sha256: hashToken(invite.token), proof: peeringProof(proofKey(invite.token), fields) };
    const mailbox = await this.pending.leave({
      server_name: invite.server_name, key_id: invite.key_id, public_key: invite.public_key, endpoint: invite.endpoint, tls_fingerprint: invite.tls_fingerprint,
      token_hash: hashToken(invite.token), expires_at: invite.expires_at, request: JSON.stringify(request), via,
    });
    if (mailbox === null) {
      throw peerUnreachable(invite.server_name, unreached, `${invite.server_name} could not be reached, and none of the friends its link names as its mailboxes (${via.join(', ')}) would take the request; try again later`);
    }
    this.d.log.info({ event: 'peering_request_left', server: invite.server_name, mailbox }, 'a friend\'s node could not be reached: the peering request waits at its mailbox');
    this.d.onPeered?.(invite.server_name);
    return { server_name: invite.server_name, endpoint: invite.endpoint, key_id: invite.key_id, tls_fingerprint: invite.tls_fingerprint, reachable: null, waiting_at: mailbox };
  }

  /** Peering requests of ours that wait at a mailbox, or that the friend refused. */
  pendingPeerings(): PendingPeering[] {
    return this.pending.list();
  }

  /** The key a friend's answer must be signed with: the one its link named, while we wait for it. */
  pendingKey(server: string, now = Date.now()): { key_id: string; public_key: string } | null {
    const row = this.pending.waiting(server, now);
    return row ? { key_id: row.key_id, public_key: row.public_key } : null;
  }

  /**
   * The friend's signed answer to a request we left at a mailbox: accepted → peered (bound and
   * pinned as a redeemed link would have); refused → its words are kept for the owner.
   */
  takeAnswer(server: string, answer: PeeringAnswerMessage, now = Date.now()): { peered: boolean } {
    const row = this.pending.waiting(server, now);
    if (!row) throw notFound('not_pending', `no peering request of this server waits for ${server}`);
    if (answer.token_sha256 !== row.token_hash) throw forbidden('wrong_token', 'this answer is for another link');
    if (!answer.accepted) {
      const words = cleanText(`${answer.message ?? 'it refused'}${answer.error ? ` (${answer.error})` : ''}`, PEER_TEXT_MAX);
      this.pending.refused(server, words, now);
      this.d.log.warn({ event: 'peering_refused_through_mailbox', server, error: answer.error ?? null }, 'a friend refused the peering request we left at its mailbox');
      this.d.onPeered?.(server);
      return { peered: false };
    }
    this.d.db.transaction(() => {
      this.bind(server, row.key_id, row.public_key, row.endpoint, row.tls_fingerprint, now);
      this.pending.done(server);
      // We redeemed through a mailbox because its endpoint could not be reached: its first invite or
      // join goes to its mailbox at once, not after a direct attempt times out (until a reach-probe proves it).
      this.d.pull.markUnreached(server, row.endpoint, 'it could not be reached when its link was redeemed; it answered through a mailbox', now);
    })();
    this.d.discovery.forget(server);
    this.d.log.info({ event: 'peered', server, via: 'invite_link_mailbox', reachable: answer.reachable ?? null }, 'peered through an invite link, by way of a mailbox');
    this.d.trust.markSeen(server, now); // its signed answer: heard from
    if (answer.reachable === false) this.d.onNotReached?.(server, cleanText(answer.reach_error ?? 'it could not call this node back', PEER_TEXT_MAX));
    this.noteMailboxes(server, answer.mailboxes);
    this.d.onPeered?.(server);
    return { peered: true };
  }

  /** Where we receive while nobody can reach us, for our answers (absent while we are reached). */
  private namedMailboxes(): { mailboxes?: string[] } {
    const mailboxes = this.d.mailboxes?.().slice(0, 4) ?? [];
    return mailboxes.length > 0 ? { mailboxes } : {};
  }

  /** The mailboxes a friend's answer names (a peer's word: server names only, at most 4, checked here). */
  private noteMailboxes(server: string, named: unknown): void {
    if (!Array.isArray(named)) return;
    const mailboxes = named.slice(0, 4).filter((m): m is string => typeof m === 'string' && isServerName(m));
    if (mailboxes.length > 0) this.d.rememberMailbox?.(server, mailboxes);
  }

  /**
   * The answer to a peering request that came through a mailbox goes back to its redeemer: straight
   * to it when we could call it back, else left at a mailbox of it. Lost, it is sent again when the
   * redeemer leaves its request again (pending-peerings.ts).
   */
  private sendAnswer(request: PeeringRequest, answer: PeeringAnswerMessage, reached: boolean): void {
    const identity = this.d.identity();
    const body = JSON.stringify(answer);
    void (async () => {
      if (reached) {
        try {
          const pin = request.tls_fingerprint ?? undefined;
          const direct = await this.d.http.signed(identity, 'POST', request.endpoint, PEERING_ANSWER_PATH, body, { vouch: 'peering', destination: request.server_name, bind: true, ...(pin ? { pin } : {}) });
          if (direct.status === 200) return;
        } catch {
          // through a mailbox, below
        }
      }
      const left = await this.d.leaveAtMailbox?.(request.server_name, PEERING_ANSWER_PATH, body) ?? null;
      if (left === null) this.d.log.warn({ event: 'peering_answer_failed', server: request.server_name }, 'could not send the answer to a peering request that came through a mailbox; it goes again when the request comes again');
    })().catch(() => undefined);
  }

  private async contact<T>(server: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      if (error instanceof PinMismatch) throw forbidden('pin_mismatch', `${server}: ${error.message}`);
      if (error instanceof AddressRefusedError || (error as { cause?: unknown }).cause instanceof AddressRefusedError || (error as Error).message.includes('refusing to connect')) {
        throw forbidden('address_refused', `${server}: ${(error as Error).message}`);
      }
      const cause = (error as { cause?: unknown }).cause;
      if (cause instanceof CertificatePinError || (error as Error).message.includes('pinned fingerprint')) {
        throw forbidden('pin_mismatch', `${server}: ${(error as Error).message}`);
      }
      if (error instanceof FederationRequestError) throw peerUnreachable(server, unreachableReason(error), `${server} could not be reached: ${error.message}`);
      throw error;
    }
  }

  /**
   * Whether `token` is one of our invite links that can still be redeemed (issued, not used,
   * revoked or expired): one indexed look-up of its hash. `POST /peering` lets such a request
   * past the limit on strangers together (issue #14, item 7).
   */
  isRedeemable(tokenHash: string, now = Date.now()): boolean {
    return this.links.isRedeemable(tokenHash, now);
  }

  /**
   * Inviter side of `POST /peering`: the token authorizes; the request is signed with the key the
   * body names, and that key must be what the redeemer's own endpoint serves.
   */
  async acceptPeering(request: PeeringRequest, now = Date.now(), viaMailbox = false): Promise<PeeringAnswer> {
    if (!viaMailbox) return this.acceptPeeringNow(request, now, false);
    // Through a mailbox the redeemer gets no answer of its own: it is sent back (sendAnswer), the
    // refusals about the link too; nothing for a token that is not one of ours.
    const token_sha256 = request.token !== undefined ? hashToken(request.token) : request.token_sha256;
    try {
      const answer = await this.acceptPeeringNow(request, now, true);
      this.sendAnswer(request, { token_sha256, accepted: true, ...(answer.reachable !== undefined ? { reachable: answer.reachable } : {}), ...(answer.reach_error ? { reach_error: answer.reach_error } : {}), ...(answer.mailboxes ? { mailboxes: answer.mailboxes } : {}) }, answer.reachable === true);
      return answer;
    } catch (error) {
      if (error instanceof HttpError && ANSWERED_REFUSALS.has(error.code)) this.sendAnswer(request, { token_sha256, accepted: false, error: error.code, message: error.message }, false);
      throw error;
    }
  }

  private async acceptPeeringNow(request: PeeringRequest, now: number, viaMailbox: boolean): Promise<PeeringAnswer> {
    const row = this.links.find(request);
    // The same request again, carried by a mailbox (its redeemer leaves it again until answered):
    // the link was used by this very server and key, so the answer is the one it got.
    // Only while that peer is allowed and the request names where it already is: an answer never
    // goes to an endpoint this branch did not prove.
    const known = viaMailbox && row.used_at && row.used_by === request.server_name ? this.d.trust.get(request.server_name) : undefined;
    if (known && known.trust === 'allow' && known.endpoint === request.endpoint && known.tls_fingerprint === request.tls_fingerprint && this.d.keys.get(request.server_name, request.key_id)?.public_key === request.public_key) {
      const reason = this.d.pull.unreachedReason(request.server_name);
      const identity = this.d.identity();
      return { server_name: identity.serverName, key_id: identity.keyId, public_key: identity.publicKeyHex, reachable: reason === null, ...(reason !== null ? { reach_error: reason.reason ?? 'it could not be called back' } : {}), ...this.namedMailboxes() };
    }
    this.links.checkOpen(row, now);
    if (this.d.trust.get(request.server_name)?.trust === 'block') throw forbidden('origin_blocked', `${request.server_name} is blocked by this server`);
    const identity = this.d.identity();
    if (request.server_name === identity.serverName) throw badRequest('invalid_request', 'a server cannot peer with itself');
    // An existing peer's name only with its own key (the request is signed with the key its body names).
    await this.refusedWith(row.id, request.server_name, () => this.d.claims.checkPeering(request.server_name, request.key_id, request.public_key));

    // Calling the redeemer back is the first reachability probe, not a gate (issue #32): a friend
    // behind a home router cannot be called back, and its request is signed with the key it names
    // and authorized by the token. What answers there must serve that key (else refused: the
    // endpoint is someone else's); an endpoint that does not answer is recorded as never reached,
    // and nothing is pushed to it until a reach-probe through us proves it (pull-queue.ts).
    const pin = request.tls_fingerprint ?? undefined;
    const callBack = async () => {
      // The redeemer's endpoint is its word: vouch "peering" (address-policy.ts).
      const response = await this.d.http.send('GET', joinUrl(this.d.http.checkEndpoint(request.endpoint), KEYS_PATH), { accept: 'application/json' }, undefined, {
        vouch: 'peering', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS), timeoutMs: PROBE_TIMEOUT_MS, server: request.server_name, ...(pin ? { pin } : {}),
      });
      if (response.status !== 200) throw new NotReached(`${request.endpoint} answered HTTP ${response.status} for its keys, not as a Paracord node`);
      const check = checkKeysDocument(response.json, request.server_name);
      if (!check.ok) throw new PinMismatch(`its keys document is not valid: ${check.reason}`);
      if (!listsKey(check.document, request.key_id, request.public_key)) throw new PinMismatch('its endpoint does not serve the key it signed with');
      return { document: check.document, raw: response.json };
    };
    // The verdict is counted inside the link's call-back (one at a time per link): released
    // before that, a redemption sent meanwhile ran a probe of its own against a count not yet written.
    const outcome = await this.links.callingBack(row.id, async () => {
      try {
        return { keys: await callBack(), unreached: null };
      } catch (error) {
        if (error instanceof HttpError) throw error;
        // Refusals stand (403): a wrong key or keys document (the endpoint is someone else's), an
        // address this node never connects to. Anything else is a fact about the network: not reached.
        if (!(error instanceof NotReached)) {
          try {
            await this.contact(request.server_name, () => Promise.reject(error));
          } catch (mapped) {
            if (mapped instanceof HttpError && mapped.status === 403) {
              // The redeemer hears the verdict, not what we found there: an address its name
              // resolved to, a certificate's fingerprint would make a link an oracle of our network
              // (a helper's review, 2026-11-30). The owner's log keeps the words.
              this.d.log.info({ event: 'peering_callback_refused', server: request.server_name, code: mapped.code, error: cleanText(mapped.message, PEER_TEXT_MAX) }, 'a peering request was refused: its endpoint could not be used');
              // The refusal that ends the link says so, and not its verdict: one answer less about our network.
              const counted = this.links.refusedCallback(row.id, request);
              if (counted === 'ended') throw linkEnded();
              if (counted === 'closed') throw this.links.endedMeanwhile(row.id);
              throw forbidden(mapped.code, mapped.code === 'address_refused'
                ? `${request.server_name}: its endpoint is at an address this node does not connect to on a peer's word`
                : `${request.server_name}: what answers at its endpoint is not the server that signed this request`);
            }
          }
        }
        return { keys: null, unreached: cleanText(error instanceof NotReached ? error.message : classify(error, request.endpoint)[1], PEER_TEXT_MAX) };
      }
    });
    const { keys, unreached } = outcome;
    const used = await this.refusedWith(row.id, request.server_name, async () => this.d.db.transaction(() => {
      // Checked again before the token is claimed: a refused link stays unused.
      this.d.claims.checkPeeringNow(request.server_name, request.key_id, request.public_key);
      if (!this.links.claim(row.id, request.server_name, now)) return false;
      this.bind(request.server_name, request.key_id, request.public_key, request.endpoint, request.tls_fingerprint, now);
      if (keys) this.d.keys.store(keys.document, now, keys.raw);
      if (unreached !== null) this.d.pull.markUnreached(request.server_name, request.endpoint, unreached, now);
      else this.d.pull.markReached(request.server_name);
      return true;
    })());
    // What ended it meanwhile, in its own words (a revoke during the call-back was told as "used").
    if (!used) throw this.links.endedMeanwhile(row.id);
    this.d.discovery.forget(request.server_name);
    this.d.log.info({ event: 'peered', server: request.server_name, via: 'invite_link', invite: row.id, reachable: unreached === null, ...(unreached !== null ? { reach_error: unreached } : {}) }, 'a friend redeemed our invite link');
    // Its request, signed with the key it names and authorized by our token: heard from. (Signed
    // requests mark their origin seen in the federation middleware, which this route does not use.)
    this.d.trust.markSeen(request.server_name, now);
    this.d.onPeered?.(request.server_name);
    return {
      server_name: identity.serverName, key_id: identity.keyId, public_key: identity.publicKeyHex,
      // What the callback found: the redeemer switches to pull mode at once when false.
      reachable: unreached === null, ...(unreached !== null ? { reach_error: unreached } : {}),
      ...this.namedMailboxes(),
    };
  }

  /**
   * Allows and pins a peer a link names, in the caller's transaction, checked by NameClaims once
   * more: a new one is allowed; an existing one (its key proven) keeps the owner's trust decision,
   * and what its own signed link or request says about where it is replaces what we stored.
   */
  private bind(server: string, keyId: string, publicKey: string, endpoint: string, tlsFingerprint: string | null, now = Date.now()): void {
    const kind = this.d.claims.checkPeeringNow(server, keyId, publicKey);
    const where = { endpoint, endpoint_source: 'peer' as const, tls_fingerprint: tlsFingerprint };
    this.d.trust.upsert(server, kind === 'new' ? { trust: 'allow', ...where, reason: null, until_ms: null } : where, now);
    this.d.keys.pin(server, keyId, publicKey, now);
    // Peered, however (a link redeemed directly, ours redeemed by it): a request of ours left at a
    // mailbox for it is over (its row stayed, and the dashboard called it expired beside the friend).
    this.pending.done(server);
  }

  /** Runs a step of accepting a link; a refusal by NameClaims is logged for the owner (the link stays unused). */
  private async refusedWith<T>(invite: string, server: string, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      if (error instanceof HttpError && (error.code === 'already_peer' || error.code === 'name_taken')) {
        this.d.log.warn({ event: 'peering_name_refused', server, invite, code: error.code }, 'an invite link was redeemed under the name of a server already known here; refused, the link stays unused');
      }
      throw error;
    }
  }
}

class PinMismatch extends Error {}
/** The redeemer's endpoint answered, but not as a Paracord node (an HTTP error): not reached. */
class NotReached extends Error {}

function listsKey(document: RemoteKeysDocument, keyId: string, publicKey: string): boolean {
  return [document.active_key, ...document.next_keys].some((k) => k.key_id === keyId && k.public_key === publicKey);
}
