/**
 * The node's own bus: what one service tells the others it does not hold (docs/ARCHITECTURE.md
 * §One owner of state). The composition root (create-node.ts) builds each service once, through
 * its constructor; a service that must hear of another one built later subscribes here instead
 * of having a callback assigned into its fields. Listeners run synchronously, in the emitter's
 * call (inside its transaction, when it emits in one), and their errors reach the emitter.
 *
 * Besides events (any number of listeners, no answer), a few questions: one service answers
 * each (`answer`), and the one that asks (`answererOf`) finds none until that service exists —
 * the rooms answer once federation starts.
 *
 * Not the UI's notifications: those are NodeEvents (node-events.ts).
 */
import type { TakenLate } from '../mailbox/deposits.ts';
import { EventEmitter } from 'node:events';
import type { Envelope } from '../federation/envelope.ts';
import type { FederationWhere } from '../reachability/own-endpoints.ts';
import type { Running } from './federation.ts';

type Rows = ReadonlyArray<{ event_id: string; room_id: string }>;

export interface NodeBusEvents {
  /** A row was queued for a destination, inside the transaction that queues it (outbox.ts onQueued). */
  deliveryQueued: [destination: string];
  /**
   * A destination read these rows (acknowledged, or refused by its node's own answer; pushed, or
   * pulled and acked), inside the transaction that settles them (outbox.ts ReadListener).
   */
  readBy: [destination: string, rows: Rows, held: boolean];
  /** Rows were queued again for a destination outside a send (mailbox/deposits.ts requeue): deliver to it. */
  requeued: [destination: string];
  /** An attempt's outcome (or a pull acknowledgement) changed these rows: the UI shows deliveries. */
  deliverySettled: [rows: Rows];
  /** A server we sent a signed request to says its deliveries to us fail (http-client.ts). */
  deliveryFailing: [server: string];
  /** Peering could not reach a server at the endpoint it named (peering-service.ts onNotReached). */
  peerNotReached: [server: string, error: string];
  /** A server's quarantine was set, changed or ended (trust-store.ts onQuarantineChange). */
  quarantineChanged: [];
  /** Federation started (federation.ts): the services that start with it, for those that work on them (the admin operations). */
  federationStarted: [running: Running];
  /** The federation listener listens: where this node is reached from now on (published-endpoints.ts). */
  federationListening: [where: FederationWhere];
  /** An incoming event was stored, inside its storing transaction (event-ingest.ts onStored): rooms apply and relay it. */
  inboundStored: [event: Envelope, receivedFrom: string];
  /** An incoming event's transaction committed, before the WAL flush (event-ingest.ts onCommitted). */
  inboundCommitted: [event: Envelope];
  /** An incoming event is durable (event-ingest.ts onDurable): relays may leave. */
  inboundDurable: [event: Envelope];
}

export interface NodeBusQuestions {
  /** Before the signature check: may `requestOrigin` send us this room's event? Refuses by throwing (an HttpError). */
  routeInbound: (requestOrigin: string, event: Envelope) => void;
  /** Inside the storing transaction, before the insert: does the room's host authorize the event? Refuses by throwing. */
  authorizeInbound: (event: Envelope) => void;
  /** A room's host refused our event as too old: true when it was re-issued and is to be delivered again. */
  reissueRefused: (destination: string, eventId: string, roomDepth: unknown) => Promise<boolean>;
  /**
   * Deposits a room's host took from a mailbox after our events in them were too old for it
   * (mailbox/deposits.ts): re-issued and sent again. `settled` is called for each one done with
   * (queued again, in the same transaction, or not ours to send again); the others are told again later.
   */
  resendTakenLate: (late: ReadonlyArray<TakenLate>, settled: (row: TakenLate) => void) => Promise<void>;
}

export class NodeBus extends EventEmitter<NodeBusEvents> {
  private readonly answerers: Partial<NodeBusQuestions> = {};

  /** `answerer` answers `question` from now on; a question has one answerer. */
  answer<K extends keyof NodeBusQuestions>(question: K, answerer: NodeBusQuestions[K]): void {
    if (this.answerers[question]) throw new Error(`the node bus question ${question} has an answerer already`);
    this.answerers[question] = answerer;
  }

  /** Who answers `question`; undefined while nobody does. */
  answererOf<K extends keyof NodeBusQuestions>(question: K): NodeBusQuestions[K] | undefined {
    return this.answerers[question];
  }
}
