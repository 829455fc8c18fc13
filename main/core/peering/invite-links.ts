/**
 * Our invite links (docs/PROTOCOL.md §Peering links and pinning): issued, listed, revoked, found by
 * the token (or the proof a request left at a mailbox gives instead), claimed once, and ended by
 * refused call-backs. Only a hash of each token is kept. What a redemption does with a link is
 * the peering service's (peering-service.ts).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PeerInvite } from '../../../shared/contract/admin-operations.ts';
import { MAX_REFUSED_CALLBACKS } from '../../../shared/contract/admin/peer-invites.ts';
import { canonicalJson } from '../crypto/canonical-json.ts';
import { HttpError, conflict, forbidden, notFound } from '../errors.ts';
import { encodeLink, type LinkPayload } from './invite-link.ts';
import { hashToken, peeringProof, proofKey, type PeeringRequest } from './peering-wire.ts';
import type { PeeringDeps } from './peering-service.ts';

export const DEFAULT_LINK_LIFETIME_MS = 7 * 24 * 3600_000;

export interface InviteLinkRow {
  id: string;
  token_hash: string;
  note: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  used_by: string | null;
  revoked_at: number | null;
  refused_callbacks: number;
  refused_last: string | null;
  proof_key: string | null;
}

/** What the links need of the peering service's dependencies (each as PeeringDeps says). */
export type InviteLinksDeps = Pick<PeeringDeps, 'db' | 'identity' | 'federationUrl' | 'tls' | 'log' | 'mailboxes'>;

export class InviteLinks {
  private readonly d: InviteLinksDeps;
  /** Links whose redeemer is being called back now: one call-back at a time per link (callingBack). */
  private readonly calling = new Set<string>();

  constructor(deps: InviteLinksDeps) {
    this.d = deps;
  }

  create(lifetimeMs = DEFAULT_LINK_LIFETIME_MS, note?: string, now = Date.now()): { id: string; link: string; https_link: string; expires_at: number } {
    const identity = this.d.identity();
    const token = randomBytes(32).toString('base64url');
    const id = `peer_${randomBytes(9).toString('base64url')}`;
    const expiresAt = now + lifetimeMs;
    const unsigned: Omit<LinkPayload, 'sig'> = {
      v: 1,
      server_name: identity.serverName,
      endpoint: this.d.federationUrl(),
      key_id: identity.keyId,
      public_key: identity.publicKeyHex,
      tls_fingerprint: this.d.tls()?.fingerprint256 ?? null,
      token,
      expires_at: expiresAt,
    };
    // Behind a router nobody can call through: where a friend can leave its peering request.
    const mailboxes = this.d.mailboxes?.().slice(0, 4) ?? [];
    if (mailboxes.length > 0) unsigned.mailboxes = mailboxes;
    const payload: LinkPayload = { ...unsigned, sig: identity.signHex(Buffer.from(canonicalJson(unsigned), 'utf8')) };
    this.d.db.transaction(() => {
      this.d.db.prepare('INSERT INTO peer_invites (id, token_hash, note, created_at, expires_at) VALUES (?, ?, ?, ?, ?)').run(id, hashToken(token), note ?? null, now, expiresAt);
      // The key of the proof a request left at a mailbox gives instead of the token (peering-wire.ts).
      this.d.db.prepare('INSERT INTO peer_invite_proofs (invite_id, proof_key) VALUES (?, ?)').run(id, proofKey(token));
    })();
    this.d.log.info({ event: 'peer_invite_created', id, expires_at: expiresAt }, 'peer invite link created');
    return { id, ...encodeLink(payload), expires_at: expiresAt };
  }

  list(now = Date.now()): PeerInvite[] {
    return this.d.db
      .prepare<[], InviteLinkRow>('SELECT * FROM peer_invites ORDER BY created_at DESC')
      .all()
      .map((r) => ({
        id: r.id, note: r.note, created_at: r.created_at, expires_at: r.expires_at, used_by: r.used_by, refused_callbacks: r.refused_callbacks,
        state: r.revoked_at ? 'revoked' : r.used_at ? 'used' : r.expires_at <= now ? 'expired' : 'active',
      }));
  }

  revoke(id: string, now = Date.now()): PeerInvite {
    const changed = this.d.db.prepare('UPDATE peer_invites SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL AND used_at IS NULL').run(now, id).changes;
    const view = this.list(now).find((i) => i.id === id);
    if (!view) throw notFound('unknown_invite', `no peer invite ${id}`);
    if (changed === 0 && view.state === 'used') throw conflict('link_used', 'this link was already used; remove the peer instead');
    this.d.log.info({ event: 'peer_invite_revoked', id }, 'peer invite link revoked');
    return view;
  }

  /**
   * Whether `token` is one of our invite links that can still be redeemed (issued, not used,
   * revoked or expired): one indexed look-up of its hash. `POST /peering` lets such a request
   * past the limit on strangers together (issue #14, item 7).
   */
  isRedeemable(tokenHash: string, now = Date.now()): boolean {
    return this.d.db
      .prepare<[string, number], { one: number }>('SELECT 1 AS one FROM peer_invites WHERE token_hash = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?')
      .get(tokenHash, now) !== undefined;
  }

  /**
   * The link a peering request names, by its token, or by the proof made with the link's proof
   * key (a request left at a mailbox carries no token; a link made before proofs has none):
   * 403 `invalid_token` otherwise, whatever state the link is in.
   */
  find(request: PeeringRequest): InviteLinkRow {
    const row = this.d.db
      .prepare<[string], InviteLinkRow>('SELECT i.*, p.proof_key FROM peer_invites i LEFT JOIN peer_invite_proofs p ON p.invite_id = i.id WHERE i.token_hash = ?')
      .get(request.token !== undefined ? hashToken(request.token) : request.token_sha256);
    if (!row) throw forbidden('invalid_token', 'this invite link is not valid here');
    if (request.token === undefined) {
      const expected = row.proof_key ? Buffer.from(peeringProof(row.proof_key, request), 'hex') : null;
      const given = Buffer.from(request.proof, 'hex');
      if (!expected || given.length !== expected.length || !timingSafeEqual(given, expected)) throw forbidden('invalid_token', 'this invite link is not valid here');
    }
    return row;
  }

  /**
   * Runs the call-back of a redemption of link `id`, one at a time per link: another one meanwhile
   * is 429 (a link holder sending several at once had each call-back's verdict before the count
   * ended the link), and the link is read again once it is this one's turn (an earlier one may
   * have ended or used it).
   */
  async callingBack<T>(id: string, run: () => Promise<T>): Promise<T> {
    if (this.calling.has(id)) throw new HttpError(429, 'rate_limited', 'another redemption of this invite link is being checked; try again in 10 s', { 'retry-after': '10' });
    this.calling.add(id);
    try {
      const current = this.d.db.prepare<[string], InviteLinkRow>('SELECT *, NULL AS proof_key FROM peer_invites WHERE id = ?').get(id);
      if (!current) throw forbidden('invalid_token', 'this invite link is not valid here');
      this.checkOpen(current, Date.now());
      return await run();
    } finally {
      this.calling.delete(id);
    }
  }

  /** Refuses a link that cannot be redeemed now: revoked or ended, used, expired. */
  checkOpen(row: InviteLinkRow, now: number): void {
    if (row.revoked_at) throw endedLink(row);
    if (row.used_at) throw conflict('link_used', 'this invite link was already used');
    if (row.expires_at <= now) throw new HttpError(410, 'link_expired', 'this invite link has expired');
  }

  /**
   * Claims link `id` for `server`, in the caller's transaction: single use even under a race (only
   * the first UPDATE claims it), and only while the link still holds at `at` (a redemption whose
   * call-back ends after the link's end is refused). Returns whether it was claimed.
   */
  claim(id: string, server: string, now: number, at = Date.now()): boolean {
    return this.d.db
      .prepare('UPDATE peer_invites SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?')
      .run(now, server, id, at).changes > 0;
  }

  /** What ended link `id` while a redemption was under way (a claim that failed), in its own words. */
  endedMeanwhile(id: string): HttpError {
    const ended = this.d.db.prepare<[string], { used_at: number | null; revoked_at: number | null; refused_callbacks: number }>('SELECT used_at, revoked_at, refused_callbacks FROM peer_invites WHERE id = ?').get(id);
    if (ended?.revoked_at) return endedLink(ended);
    if (!ended?.used_at) return new HttpError(410, 'link_expired', 'this invite link has expired');
    return conflict('link_used', 'this invite link was already used');
  }

  /**
   * Counts a redemption of link `id` refused at its call-back (inside callingBack); at
   * MAX_REFUSED_CALLBACKS the link ends (revoked, with the count saying why). A refused call-back
   * leaves a link unused, for a genuine redeemer whose endpoint was wrong; without an end, its
   * holder could go on naming addresses of our network, one every 10 s, to learn which answer TLS
   * (a red-team review, 2026-11-30). The same request again (a redeemer's mailbox leaves it every
   * few minutes) counts once. Returns `ended` when the link has ended now (the redeemer is told
   * `link_ended`, linkEnded, not the verdict), `closed` when it was used, revoked or ended
   * meanwhile (by a redemption whose call-back came right after this one's: told that, not the
   * verdict), else `counted`.
   */
  refusedCallback(id: string, request: Pick<PeeringRequest, 'server_name' | 'endpoint' | 'tls_fingerprint'>, now = Date.now()): 'counted' | 'ended' | 'closed' {
    const attempt = createHash('sha256').update(`${request.server_name}\n${request.endpoint}\n${request.tls_fingerprint ?? ''}`).digest('hex');
    const row = this.d.db
      .prepare<{ attempt: string; max: number; now: number; id: string }, { refused_callbacks: number; revoked_at: number | null }>(
        `UPDATE peer_invites SET
           refused_callbacks = refused_callbacks + (refused_last IS NOT @attempt),
           refused_last = @attempt,
           revoked_at = CASE WHEN refused_callbacks + (refused_last IS NOT @attempt) >= @max THEN @now ELSE revoked_at END
         WHERE id = @id AND used_at IS NULL AND revoked_at IS NULL RETURNING refused_callbacks, revoked_at`,
      )
      .get({ attempt, max: MAX_REFUSED_CALLBACKS, now, id });
    if (row === undefined) return 'closed';
    if (row.revoked_at === null) return 'counted';
    this.d.log.warn({ event: 'peer_invite_ended', id, refused_callbacks: row.refused_callbacks }, 'an invite link ended: its redemptions were refused too often (what answered at the endpoints named was not the redeemer)');
    return 'ended';
  }
}

/** The refusal of a link ended by refused call-backs. */
export const linkEnded = (): HttpError =>
  forbidden('link_ended', `this invite link has ended: ${MAX_REFUSED_CALLBACKS} attempts to use it named an endpoint that could not be used`);

/** The refusal of a link that was revoked: by its owner, or ended by refused call-backs. */
function endedLink(row: { refused_callbacks: number }): HttpError {
  return row.refused_callbacks >= MAX_REFUSED_CALLBACKS ? linkEnded() : forbidden('link_revoked', 'this invite link was revoked by its owner');
}
