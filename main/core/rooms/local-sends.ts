/**
 * Our users' events (docs/PROTOCOL.md §Rooms): every local action is one group-commit job:
 * authorize → sign → store → apply → enqueue deliveries, so the outbox rows are durable exactly
 * when the event is. A large batch is signed by the crypto pool first.
 */
import { serverOf } from '../../../shared/identifiers.ts';
import { HttpError } from '../errors.ts';
import { envelopeSigningParts, envelopeWireJson, signEnvelopeParts, type Envelope, type UnsignedEnvelope } from '../federation/envelope.ts';
import type { OutboxRow } from '../outbox/outbox.ts';
import { authorizeEvent } from './authorize.ts';
import type { RoomEventType } from './event-types.ts';
import { newEventId, newRoomId } from './ids.ts';
import { SendOrder } from './send-order.ts';
import { encodeHex } from '../crypto/hex.ts';
import { referenceExtras } from '../federation/reference/vocabulary.ts';
import { ClientTxns } from './client-txns.ts';
import { RoomPart, type RoomServiceDeps } from './room-part.ts';

/** A client batch at least this large is signed by the crypto pool (a smaller one costs more in the round trip than it saves). */
const POOL_SIGNED_BATCH = 8;

/** A client's batch as the crypto pool signed it, with what signing computed on the way. */
type PoolSignedBatch = Array<{ event: Envelope; hash: string; contentJson: string }>;

/** A local event as committed: the rows queued for it, and its wire form when any were. */
interface LocalCommit {
  event: Envelope;
  queued: OutboxRow[];
  wire: string | null;
}

export class LocalSends extends RoomPart {
  /** Client transaction ids of our users' sends: a repeat is stored once (client-txns.ts). */
  private readonly clientTxns: ClientTxns;

  constructor(deps: RoomServiceDeps, clientTxns: ClientTxns) {
    super(deps);
    this.clientTxns = clientTxns;
  }

  /**
   * A local user's messages, in order (the admin API's sendMessage and sendMessages): a message
   * with a client `txn_id` already stored answers the event stored the first time and is not
   * sent again. One message goes the single-send way, several in one job.
   */
  async sendMessages(roomId: string, sender: string, messages: ReadonlyArray<{ body: string; txn_id?: string | undefined }>): Promise<string[]> {
    return this.clientTxns.once(sender, messages.map((m) => m.txn_id), async (fresh) => {
      const contents = fresh.map((i) => ({ body: messages[i]!.body, format: 'plain' }));
      const txnIds = fresh.map((i) => messages[i]!.txn_id);
      if (fresh.length === 1) return [(await this.send(roomId, 'm.message', sender, null, contents[0]!, txnIds[0])).event_id];
      return (await this.sendMany(roomId, 'm.message', sender, contents, txnIds)).map((e) => e.event_id);
    });
  }

  async createRoom(name: string, creator: string): Promise<string> {
    const roomId = newRoomId(this.server);
    await this.d.commit.run(() => {
      this.d.rooms.createRoom({ room_id: roomId, name, host_server: this.server, created_at: Date.now() });
      this.commitLocalInTransaction(roomId, 'm.member.join', creator, creator, this.d.users.joinContent(creator, { membership: 'join', role: 'owner', room_name: name }));
    });
    this.d.log.info({ event: 'room_created', room_id: roomId, creator }, 'room created');
    return roomId;
  }

  /**
   * Several events of one local user in one room, in one job (all or none), in order: one
   * transaction and, downstream, consecutive outbox rows that leave in one batch request.
   */
  async sendMany(roomId: string, type: RoomEventType, sender: string, contents: ReadonlyArray<Record<string, unknown>>, txnIds?: ReadonlyArray<string | undefined>): Promise<Envelope[]> {
    const signer = this.d.signer;
    const made = signer && contents.length >= POOL_SIGNED_BATCH
      ? await this.sendOrder.run(roomId, () => this.signBatchByPool(signer, roomId, type, sender, contents), (batch) => this.submitPoolSigned(roomId, batch, txnIds))
      : await this.sendOrder.run(
          roomId,
          () => this.d.rooms.reserveDepths(roomId, contents.length, Date.now()),
          (firstDepth) =>
            this.d.commit.run(
              () => contents.map((content, i) => this.recordTxn(this.commitLocalInTransaction(roomId, type, sender, null, content, firstDepth + i), txnIds?.[i])),
              (committed) => this.afterLocalBatch(committed),
            ),
        );
    const events = made.map((local) => local.event);
    for (const event of events) this.notifyEvent(event);
    return events;
  }

  private afterLocalBatch(committed: LocalCommit[]): void {
    for (const local of committed) this.rememberWire(local);
    if (committed[0]) this.kickDeliveries(committed[0].event, null);
  }

  /** Our users' events of a room enter the group commit in the order they came (send-order.ts). */
  private readonly sendOrder = new SendOrder();

  /**
   * A client's batch signed by the crypto pool (issue #17: signing was a quarter of a sending
   * node's main thread at saturation): the events are made here — ids, the time, depths reserved
   * from the room clock, their canonical form — and signed in a worker. They are authorized,
   * stored and queued afterwards, in one group-commit job as before (submitPoolSigned).
   */
  private async signBatchByPool(
    signer: NonNullable<RoomServiceDeps['signer']>,
    roomId: string,
    type: RoomEventType,
    sender: string,
    contents: ReadonlyArray<Record<string, unknown>>,
  ): Promise<PoolSignedBatch> {
    this.refuseOnReferenceHost(roomId, type);
    const identity = this.d.identity();
    const key = identity.poolSigningKey();
    const now = Date.now();
    // Reserved before the first await: a send that comes later gets later depths.
    const firstDepth = this.d.rooms.reserveDepths(roomId, contents.length, now);
    const unsigned = contents.map((content, i) => this.newLocalEvent(roomId, type, sender, null, content, firstDepth + i, now));
    const parts = unsigned.map((event) => envelopeSigningParts(event));
    const signed = await signer.sign(key, parts.map((p) => p.bytes));
    return unsigned.map((event, i) => ({
      event: { ...event, signatures: { [identity.serverName]: { [key.keyId]: encodeHex(signed[i]!.signature) } } },
      hash: encodeHex(signed[i]!.hash),
      contentJson: parts[i]!.contentJson,
    }));
  }

  /**
   * Authorizes, stores and queues a batch the pool signed: one job, all or none. The room's clock
   * is written once for the batch, not once per event (a row update per message was ~3 % of a
   * sending node's main thread at saturation).
   */
  private submitPoolSigned(roomId: string, batch: PoolSignedBatch, txnIds?: ReadonlyArray<string | undefined>): Promise<LocalCommit[]> {
    return this.d.commit.run(
      () =>
        this.d.rooms.coalescingClockUpdates(() =>
          batch.map(({ event, hash, contentJson }, i): LocalCommit => {
            const now = Date.now();
            authorizeEvent(this.d.rooms, this.d.events, event, now);
            if (this.isHost(roomId)) this.checkOrdering(event, now);
            return this.recordTxn(this.storeLocalInTransaction(event, hash, contentJson, now), txnIds?.[i]);
          }),
        ),
      (committed) => this.afterLocalBatch(committed),
    );
  }

  /** Makes, authorizes, signs, stores and queues one event of a local user. */
  async send(roomId: string, type: RoomEventType, sender: string, stateKey: string | null, content: Record<string, unknown>, txnId?: string): Promise<Envelope> {
    // Delivery starts as soon as the event is committed, while our own WAL flush runs (issue #17:
    // two flushes in a row made the user-to-user latency). A power cut in between can leave a
    // peer holding an event we lost, never the reverse: the sender hears "sent" only after the flush.
    // The rows queued go to the delivery workers with the kick: a worker that knows its queue was
    // empty sends the lone new row without reading the queue again (delivery-worker.ts).
    const { event } = await this.sendOrder.run(
      roomId,
      () => this.d.rooms.reserveDepths(roomId, 1, Date.now()),
      (depth) =>
        this.d.commit.run(
          () => this.recordTxn(this.commitLocalInTransaction(roomId, type, sender, stateKey, content, depth), txnId),
          (committed) => {
            this.rememberWire(committed);
            for (const row of committed.queued) this.d.workers.deliver(row.destination, { fresh: { row } });
          },
        ),
    );
    this.notifyEvent(event);
    return event;
  }

  /** In the event's transaction: its sender's client transaction id, when the send named one. */
  private recordTxn(local: LocalCommit, txnId: string | undefined): LocalCommit {
    if (txnId !== undefined) this.clientTxns.record(local.event.sender, txnId, local.event.event_id, local.event.origin_ts);
    return local;
  }

  /** After the commit: the wire form of an event queued for delivery goes to the delivery workers (outbox/wire-cache.ts). */
  private rememberWire(local: LocalCommit): void {
    if (local.wire !== null) this.d.workers.wire.remember(local.event.event_id, local.wire, local.queued.length);
  }

  /** A new event of a local user, unsigned: a fresh id, the time, the depth given. */
  private newLocalEvent(roomId: string, type: RoomEventType, sender: string, stateKey: string | null, content: Record<string, unknown>, depth: number, now: number): UnsignedEnvelope {
    return {
      event_id: newEventId(this.server),
      room_id: roomId,
      event_type: type,
      sender,
      origin_server: this.server,
      origin_ts: now,
      depth,
      state_key: stateKey,
      // In a room a reference can mirror, our events also speak its vocabulary (reference/vocabulary.ts).
      content: this.onReferenceChannel(roomId, { ...content, ...referenceExtras(roomId, this.d.rooms.room(roomId)?.name, type, content, this.d.events, now) }),
    };
  }

  /**
   * In a guild room a reference 3.x hosts, our events name the channel the room shows (its
   * /invite's default_channel_id): it takes them only for one of its real channels.
   */
  private onReferenceChannel(roomId: string, content: Record<string, unknown>): Record<string, unknown> {
    if (content.channel_id === undefined || this.referenceHost3(roomId) === null) return content;
    const channel = this.d.db
      .prepare<[string], { channel_id: string }>('SELECT channel_id FROM reference_channel_rooms WHERE room_id = ? AND guild_room_id = room_id')
      .get(roomId)?.channel_id;
    return channel !== undefined ? { ...content, channel_id: channel } : content;
  }

  /** `depth`: reserved on the send's arrival (send-order.ts); otherwise the room clock's next. */
  private commitLocalInTransaction(roomId: string, type: RoomEventType, sender: string, stateKey: string | null, content: Record<string, unknown>, depth?: number): LocalCommit {
    const now = Date.now();
    this.refuseOnReferenceHost(roomId, type);
    const unsigned = this.newLocalEvent(roomId, type, sender, stateKey, content, depth ?? this.d.rooms.nextDepth(roomId, now), now);
    authorizeEvent(this.d.rooms, this.d.events, unsigned, now);
    if (this.isHost(roomId)) this.checkOrdering(unsigned, now);
    // A fresh random id: nothing to check for a stored copy; serialised once for signing and storing.
    const { event, hash, contentJson } = signEnvelopeParts(unsigned, this.d.identity());
    return this.storeLocalInTransaction(event, hash, contentJson, now);
  }

  /** Stores, applies and queues a signed event made here (authorized), in its transaction. */
  private storeLocalInTransaction(event: Envelope, hash: string, contentJson: string, now: number): LocalCommit {
    this.d.events.insertNew(event, hash, null, { now, contentJson });
    this.d.rooms.apply(event, now);
    const queued = this.enqueueDeliveries(event, null, now);
    // Signing made the canonical content: the wire form is a concatenation now, a read and a walk later.
    return { event, queued, wire: queued.length > 0 ? envelopeWireJson(event, contentJson) : null };
  }

  /**
   * A reference host cannot take our users' chat events: it files them in a duplicate "mirror"
   * guild of its own (docs/REFERENCE-INTEROP-NOTES.md row 19). In its rooms our users read;
   * joins and leaves go through its /join and /leave (reference/reference-rooms.ts).
   */
  private refuseOnReferenceHost(roomId: string, type: string): void {
    if (!this.readOnlyHere(roomId)) return;
    const host = serverOf(roomId);
    throw new HttpError(409, 'reference_host_read_only', `${host} runs the Paracord reference server, which cannot receive ${type} events from other servers; this room is read-only here`);
  }
}
