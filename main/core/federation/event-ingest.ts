/**
 * Inbound events (DESIGN.md §3, issue #2's chain): envelope schema → event id suffix equals
 * origin_server → sender's server equals origin_server → the event's origin is not blocked
 * → the sender of the request may deliver it (its own events, or a host relaying events of
 * its room) → envelope signature with the origin's key valid at origin_ts → idempotent store.
 */
import { eventIdBelongsTo, isUserId, serverOf } from '../../../shared/identifiers.ts';
import { canonicalJson } from '../crypto/canonical-json.ts';
import { verify } from '../crypto/ed25519.ts';
import { HttpError, badRequest, conflict, forbidden } from '../errors.ts';
import type { FederationEvents } from '../store/federation-events.ts';
import type { GroupCommit } from '../store/group-commit.ts';
import { chargedBytes, type StorageQuota } from '../trust/storage-quota.ts';
import type { TrustStore } from '../trust/trust-store.ts';
import { MAX_EVENT_CONTENT_BYTES, contentHash, envelopeSigningParts, parseEnvelope, type Envelope } from './envelope.ts';
import type { ServerKeys } from './server-keys.ts';

export interface VerifiedEvent {
  envelope: Envelope;
  hash: string;
  /** Canonical JSON of the content, computed for the signature check and stored as is. */
  contentJson?: string;
  /** Its size in UTF-8 bytes (what the storage quota counts). */
  contentBytes?: number;
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
  /** In the storing transaction, after the insert of a new event. */
  onStored?(envelope: Envelope, receivedFrom: string): void;
  /** Right after the commit of a new event, before the WAL flush (GroupCommit.run's `committed`). */
  onCommitted?(envelope: Envelope): void;
  /** Once a new event is durable (its WAL flush done): what must not leave before, such as relays. */
  onDurable?(envelope: Envelope): void;
  /** The quarantined server whose event this is (by origin or by relay), if any: then it is held. */
  holdFor?(envelope: Envelope, receivedFrom: string): string | null;
  /** In the storing transaction: keep a held event aside instead of storing it. */
  hold?(server: string, receivedFrom: string, event: VerifiedEvent): void;
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

export class EventIngest {
  private readonly trust: TrustStore;
  private readonly keys: ServerKeys;
  private readonly events: FederationEvents;
  private readonly commit: GroupCommit;
  /** Per-peer storage quota (issue #14 item 5), charged to the server that sends the event; none in unit tests that do not need it. */
  private readonly quota: StorageQuota | undefined;
  hooks: IngestHooks = {};

  private readonly verifier: { verify(signature: Buffer, message: Buffer, publicKey: Buffer): Promise<boolean> } | undefined;

  constructor(deps: { trust: TrustStore; keys: ServerKeys; events: FederationEvents; commit: GroupCommit; verifier?: EventIngest['verifier']; quota?: StorageQuota }) {
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
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
      throw badRequest('invalid_event', `event envelope is not valid: ${where}${issue?.message ?? 'schema mismatch'}`);
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
      // Only the room's host relays other servers' events (DESIGN.md §4).
      // A reference names its rooms by its bound domain (`!<guild>:<domain>`, lib.rs:269-271).
      const requesterDomain = this.hooks.domainOf?.(requestOrigin) ?? null;
      if (serverOf(envelope.room_id) !== requestOrigin && !(requesterDomain !== null && serverOf(envelope.room_id) === requesterDomain)) {
        throw forbidden('not_origin', `${requestOrigin} may not deliver events of ${origin} for a room it does not host`);
      }
      const decision = this.trust.decide(origin);
      if (!decision.allowed && decision.code === 'origin_blocked') throw forbidden('origin_blocked', decision.message);
    }
    if (!options.skipRoute) this.hooks.checkRoute?.(requestOrigin, envelope);

    const { bytes, contentJson } = envelopeSigningParts(envelope);
    // Bulk is refused before any key lookup or signature check: refusing costs nothing.
    const contentBytes = Buffer.byteLength(contentJson);
    if (contentBytes > MAX_EVENT_CONTENT_BYTES) {
      throw new HttpError(413, 'content_too_large', `event content is ${contentBytes} bytes; at most ${MAX_EVENT_CONTENT_BYTES} are accepted`);
    }
    this.hooks.checkContent?.(envelope, contentBytes);
    // A copy of an event already stored is acknowledged as before, quota or not (checkBeforeWrite).
    // Charged to the server that makes us store it (docs/SECURITY.md item 5), not to the origin it names.
    if (this.quota && this.events.hashOf(envelope.event_id) === undefined) this.quota.check(requestOrigin, chargedBytes(contentBytes));
    const signatures = envelope.signatures[origin] ?? {};
    const keyIds = Object.keys(signatures);
    if (keyIds.length === 0) throw forbidden('bad_event_signature', `event is not signed by its origin ${origin}`);
    let lastFailure = '';
    // A reference peer reuses its key id when its key changes: a signature that fails with the
    // keys we hold makes us fetch its keys once more (rate limited), then try once again.
    for (let round = 0; round < 2; round++) {
      for (const keyId of keyIds) {
        // A relayed event's origin may be unreachable: its keys can then come from the relaying host.
        const via = origin !== requestOrigin ? requestOrigin : undefined;
        const use = { purpose: 'event', originTs: envelope.origin_ts } as const;
        // A key we hold needs no wait (the common case: a promise fewer per event).
        const lookup = this.keys.lookupNow(origin, keyId, use, { via }) ?? (await this.keys.lookup(origin, keyId, use, { via }));
        if (!lookup.ok && lookup.code === 'too_many_relayed_origins') throw forbidden('too_many_relayed_origins', lookup.message);
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
            const verified: VerifiedEvent = { envelope, hash: contentHash(bytes), contentJson, contentBytes };
            const view = this.hooks.view?.(envelope);
            if (view) verified.view = view;
            return verified;
          }
        }
        lastFailure = `signature by ${keyId} does not verify`;
      }
      if (round > 0 || !(await this.keys.refetchAfterFailure(origin))) break;
    }
    this.hooks.onAttributableFailure?.(requestOrigin, 'bad_event_signature');
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
      this.events.readTogether(() => {
        for (const raw of raws) made.push(this.verify(requestOrigin, raw));
      });
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
   */
  async store(event: VerifiedEvent, receivedFrom: string, beforeStore?: () => void, options: { release?: boolean } = {}): Promise<IngestResult> {
    const heldBy = options.release ? null : this.heldBy(event, receivedFrom);
    // onCommitted (the UI hears of it) runs at the commit, before the WAL flush; relays (onDurable)
    // and the sender's acknowledgement wait for the flush: the sender sends again if a power cut
    // takes it back, and no other server holds what we might lose.
    const result = await this.commit.run(
      (): IngestResult => {
        beforeStore?.();
        return this.checkBeforeWrite(event, receivedFrom, heldBy, options.release) ?? this.write(event, receivedFrom, heldBy, options.release);
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
    const holds = events.map((event) => this.heldBy(event, receivedFrom));
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
      const writeAll = () =>
        events.map((event, i): PromiseSettledResult<IngestResult> => {
          let decided: IngestResult | null;
          try {
            decided = this.checkBeforeWrite(event, receivedFrom, holds[i]!);
          } catch (reason) {
            return { status: 'rejected', reason };
          }
          if (decided) return { status: 'fulfilled', value: decided };
          try {
            return { status: 'fulfilled', value: this.write(event, receivedFrom, holds[i]!) };
          } catch (error) {
            throw new WriteFailed(error);
          }
        });
      try {
        return this.commit.savepoint(() => (this.hooks.writingBatch ? this.hooks.writingBatch(writeAll) : writeAll()));
      } catch (error) {
        if (!(error instanceof WriteFailed)) throw error;
        return events.map((event, i): PromiseSettledResult<IngestResult> => {
          try {
            return { status: 'fulfilled', value: this.commit.savepoint(() => this.checkBeforeWrite(event, receivedFrom, holds[i]!) ?? this.write(event, receivedFrom, holds[i]!)) };
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

  /** The quarantined server whose event this is, if any: then it is held, not applied. */
  private heldBy(event: VerifiedEvent, receivedFrom: string): string | null {
    return this.hooks.holdFor?.(event.envelope, receivedFrom) ?? null;
  }

  /**
   * In the storing transaction, before anything of the event is written (so a refusal here
   * needs no rollback): the result when nothing is to be written (a copy of a stored event),
   * null when the event is to be written; throws when it is refused.
   */
  private checkBeforeWrite(event: VerifiedEvent, receivedFrom: string, heldBy: string | null, released = false): IngestResult | null {
    const envelope = event.envelope;
    const known = this.events.hashOf(envelope.event_id);
    if (known !== undefined) {
      if (known === event.hash) return { event_id: envelope.event_id, inserted: false };
      throw conflict('event_id_conflict', `event ${envelope.event_id} is already stored with different content`);
    }
    // A released event was counted when it was held.
    if (!released) this.quota?.check(receivedFrom, this.chargeOf(event));
    if (!heldBy) this.hooks.authorize?.(event.view ?? envelope);
    return null;
  }

  /**
   * For writers that insert verified events themselves (a join snapshot), in their transaction:
   * charges the event to `receivedFrom` (the server that served it) and answers true, or false
   * when that server is over its quota (the event is then not to be stored).
   */
  chargeStored(event: VerifiedEvent, receivedFrom: string): boolean {
    if (!this.quota) return true;
    const bytes = this.chargeOf(event);
    try {
      this.quota.check(receivedFrom, bytes);
    } catch (error) {
      if (error instanceof HttpError && error.code === 'quota_exceeded') return false;
      throw error;
    }
    this.quota.charge(receivedFrom, bytes);
    return true;
  }

  /** The bytes the quota counts for an event. */
  private chargeOf(event: VerifiedEvent): number {
    return chargedBytes(event.contentBytes ?? Buffer.byteLength(event.contentJson ?? canonicalJson(event.envelope.content)));
  }

  private write(event: VerifiedEvent, receivedFrom: string, heldBy: string | null, released = false): IngestResult {
    const envelope = event.envelope;
    if (!released) this.quota?.charge(receivedFrom, this.chargeOf(event));
    if (heldBy) {
      this.hooks.hold?.(heldBy, receivedFrom, event);
      return { event_id: envelope.event_id, inserted: true, held: true };
    }
    const view = event.view ?? envelope;
    // A reference channel's message is stored in its channel room here (reference/channel-rooms.ts);
    // such rooms are never served or relayed, so the row's room is the local one.
    const stored = view.room_id !== envelope.room_id ? { ...envelope, room_id: view.room_id } : envelope;
    this.events.insertNew(stored, event.hash, receivedFrom, { contentJson: event.contentJson, relatesTo: typeof view.content.target === 'string' ? view.content.target : null });
    this.hooks.onStored?.(view, receivedFrom);
    return { event_id: envelope.event_id, inserted: true };
  }
}

/** A write of storeMany failed: its savepoint is rolled back and the events stored one by one. */
class WriteFailed extends Error {
  constructor(cause: unknown) {
    super('a write failed while storing a batch', { cause });
  }
}
