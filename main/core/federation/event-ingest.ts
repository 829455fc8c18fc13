/**
 * Inbound events (docs/PROTOCOL.md "Event ingest"): envelope schema → event id suffix equals
 * origin_server → sender's server equals origin_server → the sender of the request may deliver
 * it (its own events, or a host relaying events of its room) → neither the origin nor the server
 * that delivered it is blocked (admit) → envelope signature with the origin's key valid at
 * origin_ts → idempotent store, or held when either is quarantined (admit again).
 */
import { eventIdBelongsTo, isUserId, serverOf } from '../../../shared/identifiers.ts';
import { canonicalJson } from '../crypto/canonical-json.ts';
import { eventShapeViolation } from '../crypto/json-limits.ts';
import { verify } from '../crypto/ed25519.ts';
import { HttpError, badRequest, conflict, forbidden } from '../errors.ts';
import type { FederationEvents } from '../store/federation-events.ts';
import type { GroupCommit } from '../store/group-commit.ts';
import { chargedBytes, type StorageQuota } from '../trust/storage-quota.ts';
import type { TrustStore } from '../trust/trust-store.ts';
import { MAX_EVENT_CONTENT_BYTES, contentHash, envelopeSigningParts, parseEnvelope, type Envelope } from './envelope.ts';
import { keptSignature } from './kept-signature.ts';
import { isUncheckedKey, keysNotChecked, type ServerKeys, type UncheckedKeyLookup } from './keys/server-keys.ts';
import { ownValue } from '../../../shared/own-value.ts';
import { schemaIssueText } from '../util/untrusted-text.ts';
import { RELATION_TYPES } from '../rooms/event-types.ts';

export interface VerifiedEvent {
  envelope: Envelope;
  hash: string;
  /** Canonical JSON of the content, computed for the signature check and stored as is. */
  contentJson?: string;
  /** Its size in UTF-8 bytes (what the storage quota counts). */
  contentBytes?: number;
  /** Canonical JSON of `envelope.signatures` (stored as is): the one signature that verified it. */
  signaturesJson?: string;
  /** What the storage quota charges for `envelope` (storage-quota.ts chargedBytes), when computed already. */
  charge?: number;
  /**
   * What rooms authorize and apply, when it differs from the envelope (an event of a reference
   * peer read in our vocabulary: federation/reference/vocabulary.ts). The envelope is stored.
   */
  view?: Envelope;
}

const NO_KEYS: readonly string[] = [];

export interface IngestResult {
  event_id: string;
  inserted: boolean;
  /** The sender is quarantined here: the event is kept aside, not applied (yet). */
  held?: true;
}

/** How one received event ended (metrics): stored, already known, held, or refused with a code. */
export type ReceivedOutcome = { result: 'accepted' | 'duplicate' | 'held' } | { result: 'refused'; error: string };

/** The outcome of a store (an IngestResult) or of a failure (an HttpError's code; else "other"). */
export function receivedOutcome(settled: IngestResult | unknown): ReceivedOutcome {
  const r = settled as Partial<IngestResult> | null;
  if (r && typeof r === 'object' && typeof r.inserted === 'boolean') return { result: r.held ? 'held' : r.inserted ? 'accepted' : 'duplicate' };
  return { result: 'refused', error: settled instanceof HttpError ? settled.code : 'other' };
}

/** What rooms add to ingest (issue #3): routing, host authorization, apply and relay. */
export interface IngestHooks {
  /** Before the signature check: may `requestOrigin` send us this room's event at all? */
  checkRoute?(requestOrigin: string, envelope: Envelope): void;
  /** Before the signature check, on every path (invites and snapshots too): content bulk limits per type. */
  checkContent?(envelope: Envelope, contentBytes: number): void;
  /** In the storing transaction, before the insert of a new event. */
  authorize?(envelope: Envelope): void;
  /**
   * In the storing transaction, before the quota check of a new event: the bytes it costs beyond
   * its own row, charged with it (a reference channel room it makes, a guild membership it copies
   * into channel rooms: channel-rooms.ts copyCharge). May refuse it (429: it comes again later).
   */
  extraCharge?(envelope: Envelope): number;
  /** In the storing transaction, after the insert of a new event. */
  onStored?(envelope: Envelope, receivedFrom: string): void;
  /** Right after the commit of a new event, before the WAL flush (GroupCommit.run's `committed`). */
  onCommitted?(envelope: Envelope): void;
  /** Once a new event is durable (its WAL flush done): what must not leave before, such as relays. */
  onDurable?(envelope: Envelope): void;
  /** In the storing transaction: keep a held event aside instead of storing it. */
  hold?(server: string, receivedFrom: string, event: VerifiedEvent): void;
  /** Whether an event is held in quarantine already (a copy of it is then acknowledged, not charged again). */
  isHeld?(eventId: string): boolean;
  /** In the storing transaction, before `hold`: throws when `server`'s held events would go over their bound. */
  checkHeld?(server: string, bytes: number): void;
  /** A failure proven to come from `server` (its request signature verified). */
  onAttributableFailure?(server: string, code: string): void;
  /**
   * The id suffix bound to an origin besides its name (a reference peer's `domain`, set when the
   * owner added it); null when none. The squatting rule accepts exactly these two suffixes.
   */
  domainOf?(origin: string): string | null;
  /** Whether an origin speaks the reference dialect (its senders may use REFERENCE_USER_ID). */
  speaksReference?(origin: string): boolean;
  /** After the signature check: the event as rooms read it (reference dialect), or undefined. */
  view?(envelope: Envelope): Envelope | undefined;
  /** Wraps the writes of a batch, in its transaction (rooms coalesce their per-event updates). */
  writingBatch?<T>(write: () => T): T;
}

/**
 * Who is charged for an event (trust/storage-quota.ts): its origin when it delivers it itself or
 * is a peer of ours (it answers for its own events, whoever relays them); else the server that
 * delivered it, which vouches for an origin we do not know (its minted names share its quota).
 */
export function payerOf(trust: Pick<TrustStore, 'get'>, origin: string, receivedFrom: string): string {
  return origin === receivedFrom || trust.get(origin) !== undefined ? origin : receivedFrom;
}

export class EventIngest {
  private readonly trust: TrustStore;
  private readonly keys: ServerKeys;
  private readonly events: FederationEvents;
  private readonly commit: GroupCommit;
  /** Per-server storage quota (trust/storage-quota.ts, payerOf); none in unit tests that do not need it. */
  private readonly quota: StorageQuota | undefined;
  /** What rooms and quarantine add (IngestHooks), given when the ingest is built. */
  private readonly hooks: IngestHooks;

  private readonly verifier: { verify(signature: Buffer, message: Buffer, publicKey: Buffer): Promise<boolean> } | undefined;

  constructor(deps: { trust: TrustStore; keys: ServerKeys; events: FederationEvents; commit: GroupCommit; verifier?: EventIngest['verifier']; quota?: StorageQuota; hooks?: IngestHooks }) {
    this.hooks = deps.hooks ?? {};
    this.verifier = deps.verifier;
    this.quota = deps.quota;
    this.trust = deps.trust;
    this.keys = deps.keys;
    this.events = deps.events;
    this.commit = deps.commit;
  }

  /**
   * Validates and verifies one envelope delivered by `requestOrigin`. Throws HttpError.
   * `skipRoute` is for callers that checked the room themselves (an invite or a join
   * snapshot, which arrive before the room is known here).
   */
  async verify(requestOrigin: string, raw: unknown, options: { skipRoute?: boolean } = {}): Promise<VerifiedEvent> {
    const parsed = parseEnvelope(raw);
    if (!parsed.success) {
      throw badRequest('invalid_event', `event envelope is not valid: ${schemaIssueText(parsed.error.issues, 'schema mismatch')}`);
    }
    const envelope = parsed.data;
    const origin = envelope.origin_server;
    if (!isUserId(envelope.sender) && !this.hooks.speaksReference?.(origin)) {
      throw badRequest('invalid_event', 'event envelope is not valid: sender: sender must look like @localpart:server');
    }
    // Squatting: the id ends with `:<origin_server>`, or with the domain the owner bound to that server.
    const domain = this.hooks.domainOf?.(origin) ?? null;
    if (!eventIdBelongsTo(envelope.event_id, origin) && !(domain !== null && eventIdBelongsTo(envelope.event_id, domain))) {
      throw forbidden('event_id_not_origin', `event id ${envelope.event_id} does not belong to its origin_server ${origin}`);
    }
    if (serverOf(envelope.sender) !== origin && !(domain !== null && serverOf(envelope.sender) === domain)) {
      throw forbidden('sender_not_origin', `sender ${envelope.sender} is not a user of origin_server ${origin}`);
    }
    if (origin !== requestOrigin) {
      // Only the room's host relays other servers' events (docs/PROTOCOL.md §Who may send what to whom).
      // A reference names its rooms by its bound domain (`!<guild>:<domain>`, lib.rs:269-271).
      const requesterDomain = this.hooks.domainOf?.(requestOrigin) ?? null;
      if (serverOf(envelope.room_id) !== requestOrigin && !(requesterDomain !== null && serverOf(envelope.room_id) === requesterDomain)) {
        throw forbidden('not_origin', `${requestOrigin} may not deliver events of ${origin} for a room it does not host`);
      }
    }
    this.admit(origin, requestOrigin);
    if (!options.skipRoute) this.hooks.checkRoute?.(requestOrigin, envelope);

    const { bytes, contentJson } = envelopeSigningParts(envelope);
    // Bulk is refused before any key lookup or signature check: refusing costs nothing.
    const contentBytes = Buffer.byteLength(contentJson);
    if (contentBytes > MAX_EVENT_CONTENT_BYTES) {
      throw new HttpError(413, 'content_too_large', `event content is ${contentBytes} bytes; at most ${MAX_EVENT_CONTENT_BYTES} are accepted`);
    }
    // The wire limits a pushed body passes, for an event from any path (an answer's events were not checked).
    const shape = eventShapeViolation(contentJson, envelope.signatures);
    if (shape) throw badRequest('limits_exceeded', `event is not within the wire limits: ${shape.message}`);
    this.hooks.checkContent?.(envelope, contentBytes);
    // A copy of an event already stored is acknowledged as before, quota or not (checkBeforeWrite):
    // whether it is stored is asked only of an event the quota would refuse (a lookup per event less).
    // A copy is the same signed bytes, not only the same id: another event under a stored id is
    // refused like one under an unknown id, or the answer would tell which ids are stored here.
    const charge = this.quota ? chargedBytes(envelope, contentBytes) : undefined;
    if (this.quota && charge !== undefined) {
      const payer = this.payerOf(origin, requestOrigin);
      if (this.quota.exceeds(payer, charge) && this.events.hashOf(envelope.event_id) !== contentHash(bytes)) this.quota.check(payer, charge);
    }
    // Own entries only: a one-label server name may be `constructor` (shared/own-value.ts).
    const signatures = ownValue(envelope.signatures, origin) ?? {};
    const keyIds = Object.keys(signatures);
    if (keyIds.length === 0) throw forbidden('bad_event_signature', `event is not signed by its origin ${origin}`);
    let lastFailure = '';
    let unchecked: UncheckedKeyLookup | null = null;
    // A reference peer reuses its key id when its key changes: a signature that fails with the
    // keys we hold makes us fetch its keys once more (rate limited), then try once again.
    for (let round = 0; round < 2; round++) {
      // What the round before could not check, the refetch between the rounds has read (or not): asked again.
      unchecked = null;
      for (const keyId of keyIds) {
        // A relayed event's origin may be unreachable: its keys can then come from the relaying host.
        const via = origin !== requestOrigin ? requestOrigin : undefined;
        const use = { purpose: 'event', originTs: envelope.origin_ts } as const;
        // A key we hold needs no wait (the common case: a promise fewer per event).
        const lookup = this.keys.lookupNow(origin, keyId, use, { via }) ?? (await this.keys.lookup(origin, keyId, use, { via }));
        if (!lookup.ok && lookup.code === 'too_many_relayed_origins') throw forbidden('too_many_relayed_origins', lookup.message);
        // After the refetch of round 0 (made after this event arrived), "read a moment ago" is a verdict:
        // they were read since the event was signed. Keys that could not be read are not.
        if (isUncheckedKey(lookup) && !(round > 0 && lookup.code === 'keys_recently_fetched')) unchecked = lookup;
        // A key it replaced verifies only events made before the replacement (reference/key-replacement.ts),
        // and only as the origin itself sends them: the time is the signer's claim, and a relayed,
        // backdated event signed with a stolen old key must not pass (review of this change).
        const replaced = origin === requestOrigin ? this.keys.replacedFor(origin, keyId, envelope.origin_ts) : NO_KEYS;
        const found = lookup.ok ? [lookup.key.public_key] : NO_KEYS;
        const candidates = replaced.length === 0 ? found : [...found, ...replaced];
        if (candidates.length === 0) {
          lastFailure = lookup.ok ? '' : lookup.message;
          continue;
        }
        const signature = Buffer.from(signatures[keyId]!, 'hex');
        for (const candidate of candidates) {
          const publicKey = this.publicKeyBytes(candidate);
          if (this.verifier ? await this.verifier.verify(signature, bytes, publicKey) : verify(signature, bytes, publicKey)) {
            const kept = keptSignature(envelope, keyId);
            const verified: VerifiedEvent = { envelope: kept.envelope, hash: contentHash(bytes), contentJson, contentBytes, signaturesJson: kept.signaturesJson };
            // The charge counts the signatures: it holds for the envelope kept only if that is the one charged.
            if (charge !== undefined && kept.envelope === envelope) verified.charge = charge;
            const view = this.hooks.view?.(verified.envelope);
            if (view) verified.view = view;
            return verified;
          }
        }
        lastFailure = `signature by ${keyId} does not verify`;
      }
      if (round > 0 || !(await this.keys.refetchAfterFailure(origin))) break;
    }
    // A key id that could not be checked yet (its server's keys were read a moment ago, it may
    // have rotated since; or they could not be read at all): the sender retries when they may be
    // read again; nobody is blamed, nothing is remembered as unknown.
    if (unchecked) throw keysNotChecked(unchecked);
    // Only the signer's own events prove a bad signature is its doing. A relayed event's failure
    // is not the relaying host's: the origin decides what each server learns of its keys (it can
    // bind one key id to two public keys, for the host and for us), so the host verified it.
    if (origin === requestOrigin) this.hooks.onAttributableFailure?.(requestOrigin, 'bad_event_signature');
    throw forbidden('bad_event_signature', `event signature of ${origin} does not verify: ${lastFailure}`);
  }

  /**
   * `verify` for each envelope of a batch (a push batch, a pull page, or a lone event). The checks
   * each makes before its first wait (the duplicate lookup, the quota, the room's route) read the
   * database; they run together in one read transaction (issue #17). One promise per envelope.
   */
  verifyAll(requestOrigin: string, raws: readonly unknown[]): Array<Promise<VerifiedEvent>> {
    const made: Array<Promise<VerifiedEvent>> = [];
    try {
      const verifyEach = () => {
        for (const raw of raws) made.push(this.verify(requestOrigin, raw));
      };
      // The quota's usage is read once per server for the whole batch (nothing is charged until the batch is stored).
      this.events.readTogether(() => (this.quota ? this.quota.readingTogether(verifyEach) : verifyEach()));
    } catch (error) {
      // The read transaction failed to end: the caller gets this error, not the verifications.
      for (const verification of made) verification.catch(() => undefined);
      throw error;
    }
    return made;
  }

  /** Decoded public keys: the same few keys sign every event of a peer. */
  private readonly decodedKeys = new Map<string, Buffer>();

  private publicKeyBytes(hex: string): Buffer {
    let bytes = this.decodedKeys.get(hex);
    if (!bytes) {
      if (this.decodedKeys.size >= 1_000) this.decodedKeys.clear();
      bytes = Buffer.from(hex, 'hex');
      this.decodedKeys.set(hex, bytes);
    }
    return bytes;
  }

  /**
   * Stores a verified event durably; the promise resolves after the commit. A copy of an
   * event already stored is acknowledged without authorizing it again (it was, when stored).
   * In the storing transaction: `beforeStore` runs before the event's checks (a release takes its
   * held row first: one no longer held or wanted is not a refusal), `options.accepted` after them,
   * when the event is stored, held or known (a request's replay entry): a refused event then
   * writes nothing before it is refused, and its rollback leaves the caches as they were
   * (GroupCommit.onRollback), however many refused events a peer sends.
   */
  async store(event: VerifiedEvent, receivedFrom: string, beforeStore?: () => void, options: { release?: boolean; accepted?: () => void } = {}): Promise<IngestResult> {
    // A held event is kept as it came (its envelope): released, it is read as verify reads it (a
    // reference peer's vocabulary and channel room), else it was authorized and applied raw.
    if (options.release && event.view === undefined) {
      const view = this.hooks.view?.(event.envelope);
      if (view) event = { ...event, view };
    }
    // onCommitted (the UI hears of it) runs at the commit, before the WAL flush; relays (onDurable)
    // and the sender's acknowledgement wait for the flush: the sender sends again if a power cut
    // takes it back, and no other server holds what we might lose.
    const result = await this.commit.run(
      (): IngestResult => {
        beforeStore?.();
        const decided = this.checkBeforeWrite(event, receivedFrom, options.release);
        options.accepted?.();
        return 'event_id' in decided ? decided : this.write(event, receivedFrom, decided, options.release);
      },
      (stored) => {
        if (stored.inserted && !stored.held) this.hooks.onCommitted?.(event.view ?? event.envelope);
      },
    );
    if (result.inserted && !result.held) this.hooks.onDurable?.(event.view ?? event.envelope);
    return result;
  }

  /**
   * Stores several verified events in order, as one group-commit job: one savepoint instead of
   * one per event. An event refused by a check (conflict, authorization) gets its own error and
   * the others go on: the checks only read. Should a write fail, that savepoint is rolled back
   * and, still in the same job (so in order with the jobs queued after it), the events are
   * stored one by one, each in its own savepoint, as `store` does.
   * `beforeStoreDone`: whether `beforeStore` (in a savepoint of its own) was committed.
   */
  async storeMany(
    events: readonly VerifiedEvent[],
    receivedFrom: string,
    beforeStore?: () => void,
  ): Promise<{ outcomes: Array<PromiseSettledResult<IngestResult>>; beforeStoreDone: boolean }> {
    let beforeStoreDone = beforeStore === undefined;
    const outcomes = await this.commit.run((): Array<PromiseSettledResult<IngestResult>> => {
      if (beforeStore) {
        try {
          this.commit.savepoint(beforeStore);
          beforeStoreDone = true;
        } catch {
          // the caller does it itself afterwards (beforeStoreDone stays false)
        }
      }
      const writeAll = () => {
        // What of the batch is stored already, in one statement; each event written adds itself
        // (a copy later in the batch is known). Should anything else store one of these ids in
        // the meantime, its insert fails and the events are stored one by one below.
        const stored = this.events.hashesOf(events.map((event) => event.envelope.event_id));
        return events.map((event): PromiseSettledResult<IngestResult> => {
          let decided: IngestResult | ToWrite;
          try {
            decided = this.checkBeforeWrite(event, receivedFrom, false, stored);
          } catch (reason) {
            return { status: 'rejected', reason };
          }
          if ('event_id' in decided) return { status: 'fulfilled', value: decided };
          try {
            const written = this.write(event, receivedFrom, decided);
            if (!written.held) stored.set(event.envelope.event_id, event.hash);
            return { status: 'fulfilled', value: written };
          } catch (error) {
            throw new WriteFailed(error);
          }
        });
      };
      try {
        return this.commit.savepoint(() => (this.hooks.writingBatch ? this.hooks.writingBatch(writeAll) : writeAll()));
      } catch (error) {
        if (!(error instanceof WriteFailed)) throw error;
        return events.map((event): PromiseSettledResult<IngestResult> => {
          try {
            return {
              status: 'fulfilled',
              value: this.commit.savepoint(() => {
                const decided = this.checkBeforeWrite(event, receivedFrom);
                return 'event_id' in decided ? decided : this.write(event, receivedFrom, decided);
              }),
            };
          } catch (reason) {
            return { status: 'rejected', reason };
          }
        });
      }
    }, (committed) => {
      committed.forEach((outcome, i) => {
        if (outcome.status === 'fulfilled' && outcome.value.inserted && !outcome.value.held) this.hooks.onCommitted?.(events[i]!.view ?? events[i]!.envelope);
      });
    });
    outcomes.forEach((outcome, i) => {
      if (outcome.status === 'fulfilled' && outcome.value.inserted && !outcome.value.held) this.hooks.onDurable?.(events[i]!.view ?? events[i]!.envelope);
    });
    return { outcomes, beforeStoreDone };
  }

  /**
   * The one decision of the ingest chain about the servers behind an event (issue #37 item 10):
   * its origin and the server that delivered it (the request's signer, the host that served a
   * join snapshot or catch-up page, the peer pulled from, the inviting host). Either blocked: 403
   * origin_blocked. Either quarantined: the event is held, and that server is answered; else null.
   * verify asks it (so a blocked server costs no signature check) and every store asks it again
   * in the storing transaction (the owner may have decided in between): push, batch, relay, pull,
   * catch-up, reference polls (store, storeMany), join snapshots and invites (storeIn).
   */
  admit(origin: string, receivedFrom: string, now = Date.now()): string | null {
    const byOrigin = this.trust.decide(origin, now);
    if (!byOrigin.allowed && byOrigin.code === 'origin_blocked') throw forbidden('origin_blocked', byOrigin.message);
    if (receivedFrom === origin) return byOrigin.allowed && byOrigin.quarantined ? origin : null;
    const byDeliverer = this.trust.decide(receivedFrom, now);
    if (!byDeliverer.allowed && byDeliverer.code === 'origin_blocked') throw forbidden('origin_blocked', byDeliverer.message);
    if (byOrigin.allowed && byOrigin.quarantined) return origin;
    return byDeliverer.allowed && byDeliverer.quarantined ? receivedFrom : null;
  }

  /** Who is charged for an event (payerOf above). */
  payerOf(origin: string, receivedFrom: string): string {
    return payerOf(this.trust, origin, receivedFrom);
  }

  /**
   * In the storing transaction, before anything of the event is written (so a refusal here
   * needs no rollback): the result when nothing is to be written (a copy of a stored or held
   * event), else whether it is to be held and by whom; throws when it is refused (blocked, over a
   * quota, not authorized). A release applies what was held (the owner decided), blocks excepted.
   * `stored`: the hashes of the stored events among the caller's (storeMany), instead of a lookup.
   */
  private checkBeforeWrite(event: VerifiedEvent, receivedFrom: string, released = false, stored?: ReadonlyMap<string, string>): IngestResult | ToWrite {
    const envelope = event.envelope;
    const known = stored ? stored.get(envelope.event_id) : this.events.hashOf(envelope.event_id);
    if (known !== undefined) {
      if (known === event.hash) return { event_id: envelope.event_id, inserted: false };
      throw conflict('event_id_conflict', `event ${envelope.event_id} is already stored with different content`);
    }
    // Asked of a release too: a block still refuses it.
    const heldBy = this.admit(envelope.origin_server, receivedFrom);
    // A released event was counted when it was held and is applied now; one held already is acknowledged as held.
    if (released) {
      this.hooks.authorize?.(event.view ?? envelope);
      // What it copies now (extraCharge) was not counted when it was held: charged at its release.
      const extra = this.hooks.extraCharge?.(event.view ?? envelope) ?? 0;
      if (extra > 0) this.quota?.check(this.payerOf(envelope.origin_server, receivedFrom), extra);
      return { heldBy: null, ...(extra > 0 ? { extra } : {}) };
    }
    if (heldBy && this.hooks.isHeld?.(envelope.event_id)) return { event_id: envelope.event_id, inserted: false, held: true };
    // A held event copies nothing (it is not applied): only its own bytes.
    const charge = this.chargeOf(event) + (heldBy ? 0 : (this.hooks.extraCharge?.(event.view ?? envelope) ?? 0));
    this.quota?.check(this.payerOf(envelope.origin_server, receivedFrom), charge);
    if (heldBy) this.hooks.checkHeld?.(heldBy, charge);
    else this.hooks.authorize?.(event.view ?? envelope);
    return { heldBy, charge };
  }

  /**
   * For writers that store a verified event in their own transaction and apply it themselves (a
   * join snapshot, an invite): the decisions of `store` — a copy already stored is 'known'; the
   * chain's admission (blocked: 403; quarantined: held, 'held', or with `hold: false` refused 403
   * origin_quarantined, for what cannot wait in quarantine); the quota (throws quota_exceeded) —
   * then the event is charged and inserted: 'stored'. No authorization or room hooks.
   */
  storeIn(event: VerifiedEvent, receivedFrom: string, options: { hold?: boolean } = {}): 'stored' | 'known' | 'held' {
    const envelope = event.envelope;
    const known = this.events.hashOf(envelope.event_id);
    if (known !== undefined) {
      if (known === event.hash) return 'known';
      throw conflict('event_id_conflict', `event ${envelope.event_id} is already stored with different content`);
    }
    const heldBy = this.admit(envelope.origin_server, receivedFrom);
    if (heldBy && options.hold === false) {
      throw forbidden('origin_quarantined', `${heldBy} is quarantined by this server: its ${envelope.event_type} is not accepted until the owner ends the quarantine`);
    }
    if (heldBy && this.hooks.isHeld?.(envelope.event_id)) return 'held';
    const bytes = this.chargeOf(event);
    this.quota?.check(this.payerOf(envelope.origin_server, receivedFrom), bytes);
    if (heldBy) this.hooks.checkHeld?.(heldBy, bytes);
    this.write(event, receivedFrom, { heldBy, charge: bytes }, false, false);
    return heldBy ? 'held' : 'stored';
  }

  /** The bytes the quota counts for an event: all it takes here (storage-quota.ts chargedBytes). */
  private chargeOf(event: VerifiedEvent): number {
    return event.charge ?? chargedBytes(event.envelope, event.contentBytes ?? Buffer.byteLength(event.contentJson ?? canonicalJson(event.envelope.content)));
  }

  private write(event: VerifiedEvent, receivedFrom: string, decided: ToWrite, released = false, hooks = true): IngestResult {
    const envelope = event.envelope;
    const heldBy = decided.heldBy;
    if (!released) this.quota?.charge(this.payerOf(envelope.origin_server, receivedFrom), decided.charge ?? this.chargeOf(event));
    else if (decided.extra) this.quota?.charge(this.payerOf(envelope.origin_server, receivedFrom), decided.extra);
    if (heldBy) {
      this.hooks.hold?.(heldBy, receivedFrom, event);
      return { event_id: envelope.event_id, inserted: true, held: true };
    }
    const view = event.view ?? envelope;
    // A reference channel's message is stored in its channel room here (reference/channel-rooms.ts);
    // such rooms are never served or relayed, so the row's room is the local one.
    const stored = view.room_id !== envelope.room_id ? { ...envelope, room_id: view.room_id } : envelope;
    this.events.insertNew(stored, event.hash, receivedFrom, {
      contentJson: event.contentJson,
      signaturesJson: event.signaturesJson,
      // Only an edit, a delete or a reaction relates to another event: a message's `target` (a
      // field its schema ignores) is the sender's word about nothing (a red team, 2026-12-01).
      relatesTo: RELATION_TYPES.has(view.event_type) && typeof view.content.target === 'string' ? view.content.target : null,
    });
    if (hooks) this.hooks.onStored?.(view, receivedFrom);
    return { event_id: envelope.event_id, inserted: true };
  }
}

/** What checkBeforeWrite decided for an event to write: stored, or held by that server. */
interface ToWrite {
  heldBy: string | null;
  /** What the quota charges for it (chargeOf), computed once for the check and the charge; absent for a release. */
  charge?: number;
  /** A release: what it copies now (extraCharge), charged then. */
  extra?: number;
}

/** A write of storeMany failed: its savepoint is rolled back and the events stored one by one. */
class WriteFailed extends Error {
  constructor(cause: unknown) {
    super('a write failed while storing a batch', { cause });
  }
}
