/**
 * Inbound events (DESIGN.md §3, issue #2's chain): envelope schema → event id suffix equals
 * origin_server → sender's server equals origin_server → the event's origin is not blocked
 * → the sender of the request may deliver it (its own events, or a host relaying events of
 * its room) → envelope signature with the origin's key valid at origin_ts → idempotent store.
 */
import { serverOf } from '../../../shared/identifiers.ts';
import { verify } from '../crypto/ed25519.ts';
import { badRequest, conflict, forbidden } from '../errors.ts';
import type { FederationEvents } from '../store/federation-events.ts';
import type { GroupCommit } from '../store/group-commit.ts';
import type { TrustStore } from '../trust/trust-store.ts';
import { contentHash, envelopeSigningParts, parseEnvelope, type Envelope } from './envelope.ts';
import type { ServerKeys } from './server-keys.ts';

export interface VerifiedEvent {
  envelope: Envelope;
  hash: string;
  /** Canonical JSON of the content, computed for the signature check and stored as is. */
  contentJson?: string;
}

export interface IngestResult {
  event_id: string;
  inserted: boolean;
  /** The sender is quarantined here: the event is kept aside, not applied (yet). */
  held?: true;
}

/** What rooms add to ingest (issue #3): routing, host authorization, apply and relay. */
export interface IngestHooks {
  /** Before the signature check: may `requestOrigin` send us this room's event at all? */
  checkRoute?(requestOrigin: string, envelope: Envelope): void;
  /** In the storing transaction, before the insert of a new event. */
  authorize?(envelope: Envelope): void;
  /** In the storing transaction, after the insert of a new event. */
  onStored?(envelope: Envelope, receivedFrom: string): void;
  /** After the commit of a new event. */
  onCommitted?(envelope: Envelope): void;
  /** The quarantined server whose event this is (by origin or by relay), if any: then it is held. */
  holdFor?(envelope: Envelope, receivedFrom: string): string | null;
  /** In the storing transaction: keep a held event aside instead of storing it. */
  hold?(server: string, receivedFrom: string, event: VerifiedEvent): void;
  /** A failure proven to come from `server` (its request signature verified). */
  onAttributableFailure?(server: string, code: string): void;
  /** Wraps the writes of a batch, in its transaction (rooms coalesce their per-event updates). */
  writingBatch?<T>(write: () => T): T;
}

export class EventIngest {
  private readonly trust: TrustStore;
  private readonly keys: ServerKeys;
  private readonly events: FederationEvents;
  private readonly commit: GroupCommit;
  hooks: IngestHooks = {};

  private readonly verifier: { verify(signature: Buffer, message: Buffer, publicKey: Buffer): Promise<boolean> } | undefined;

  constructor(deps: { trust: TrustStore; keys: ServerKeys; events: FederationEvents; commit: GroupCommit; verifier?: EventIngest['verifier'] }) {
    this.verifier = deps.verifier;
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
    if (serverOf(envelope.event_id) !== origin) {
      throw forbidden('event_id_not_origin', `event id ${envelope.event_id} does not belong to its origin_server ${origin}`);
    }
    if (serverOf(envelope.sender) !== origin) {
      throw forbidden('sender_not_origin', `sender ${envelope.sender} is not a user of origin_server ${origin}`);
    }
    if (origin !== requestOrigin) {
      // Only the room's host relays other servers' events (DESIGN.md §4).
      if (serverOf(envelope.room_id) !== requestOrigin) {
        throw forbidden('not_origin', `${requestOrigin} may not deliver events of ${origin} for a room it does not host`);
      }
      const decision = this.trust.decide(origin);
      if (!decision.allowed && decision.code === 'origin_blocked') throw forbidden('origin_blocked', decision.message);
    }
    if (!options.skipRoute) this.hooks.checkRoute?.(requestOrigin, envelope);

    const { bytes, contentJson } = envelopeSigningParts(envelope);
    const signatures = envelope.signatures[origin] ?? {};
    const keyIds = Object.keys(signatures);
    if (keyIds.length === 0) throw forbidden('bad_event_signature', `event is not signed by its origin ${origin}`);
    let lastFailure = '';
    for (const keyId of keyIds) {
      // A relayed event's origin may be unreachable: its keys can then come from the relaying host.
      const via = origin !== requestOrigin ? requestOrigin : undefined;
      const lookup = await this.keys.lookup(origin, keyId, { purpose: 'event', originTs: envelope.origin_ts }, { via });
      if (!lookup.ok) {
        lastFailure = lookup.message;
        continue;
      }
      const signature = Buffer.from(signatures[keyId]!, 'hex');
      const publicKey = this.publicKeyBytes(lookup.key.public_key);
      if (this.verifier ? await this.verifier.verify(signature, bytes, publicKey) : verify(signature, bytes, publicKey)) {
        return { envelope, hash: contentHash(bytes), contentJson };
      }
      lastFailure = `signature by ${keyId} does not verify`;
    }
    this.hooks.onAttributableFailure?.(requestOrigin, 'bad_event_signature');
    throw forbidden('bad_event_signature', `event signature of ${origin} does not verify: ${lastFailure}`);
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
    const result = await this.commit.run((): IngestResult => {
      beforeStore?.();
      return this.checkBeforeWrite(event, heldBy) ?? this.write(event, receivedFrom, heldBy);
    });
    if (result.inserted && !result.held) this.hooks.onCommitted?.(event.envelope);
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
    const outcomes = await this.commit.run(() => {
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
            decided = this.checkBeforeWrite(event, holds[i]!);
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
            return { status: 'fulfilled', value: this.commit.savepoint(() => this.checkBeforeWrite(event, holds[i]!) ?? this.write(event, receivedFrom, holds[i]!)) };
          } catch (reason) {
            return { status: 'rejected', reason };
          }
        });
      }
    });
    outcomes.forEach((outcome, i) => {
      if (outcome.status === 'fulfilled' && outcome.value.inserted && !outcome.value.held) this.hooks.onCommitted?.(events[i]!.envelope);
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
  private checkBeforeWrite(event: VerifiedEvent, heldBy: string | null): IngestResult | null {
    const envelope = event.envelope;
    const known = this.events.hashOf(envelope.event_id);
    if (known !== undefined) {
      if (known === event.hash) return { event_id: envelope.event_id, inserted: false };
      throw conflict('event_id_conflict', `event ${envelope.event_id} is already stored with different content`);
    }
    if (!heldBy) this.hooks.authorize?.(envelope);
    return null;
  }

  private write(event: VerifiedEvent, receivedFrom: string, heldBy: string | null): IngestResult {
    const envelope = event.envelope;
    if (heldBy) {
      this.hooks.hold?.(heldBy, receivedFrom, event);
      return { event_id: envelope.event_id, inserted: true, held: true };
    }
    this.events.insertNew(envelope, event.hash, receivedFrom, { contentJson: event.contentJson });
    this.hooks.onStored?.(envelope, receivedFrom);
    return { event_id: envelope.event_id, inserted: true };
  }
}

/** A write of storeMany failed: its savepoint is rolled back and the events stored one by one. */
class WriteFailed extends Error {
  constructor(cause: unknown) {
    super('a write failed while storing a batch', { cause });
  }
}
