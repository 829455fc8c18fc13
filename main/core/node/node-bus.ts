/**
 * The node's own bus: what one service tells the others it does not hold (docs/ARCHITECTURE.md
 * §One owner of state). The composition root (create-node.ts) builds each service once, through
 * its constructor; a service that must hear of another one built later subscribes here instead
 * of having a callback assigned into its fields. Listeners run synchronously, in the emitter's
 * call (inside its transaction, when it emits in one), and their errors reach the emitter.
 *
 * Not the UI's notifications: those are NodeEvents (node-events.ts).
 */
import { EventEmitter } from 'node:events';

type Rows = ReadonlyArray<{ event_id: string; room_id: string }>;

export interface NodeBusEvents {
  /** A row was queued for a destination, inside the transaction that queues it (outbox.ts onQueued). */
  deliveryQueued: [destination: string];
  /** A destination acknowledged these rows (pushed, or pulled and acked), inside the transaction that removes them. */
  delivered: [destination: string, rows: Rows];
  /** An attempt's outcome (or a pull acknowledgement) changed these rows: the UI shows deliveries. */
  deliverySettled: [rows: Rows];
  /** A server we sent a signed request to says its deliveries to us fail (http-client.ts). */
  deliveryFailing: [server: string];
  /** Peering could not reach a server at the endpoint it named (peering-service.ts onNotReached). */
  peerNotReached: [server: string, error: string];
  /** A server's quarantine was set, changed or ended (trust-store.ts onQuarantineChange). */
  quarantineChanged: [];
}

export class NodeBus extends EventEmitter<NodeBusEvents> {}
