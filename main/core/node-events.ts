import { EventEmitter } from 'node:events';

/** Live notifications for the UI (admin `GET /events`, Server-Sent Events) and the tray. */
export type NodeNotification =
  /** `subject`: the user a membership or role event is about (its state_key), when it names one. */
  | { type: 'room'; room_id: string; event_id: string; event_type: string; sender: string; subject?: string }
  | { type: 'invite'; invite_id: string; room_id: string; invitee: string }
  /** The delivery of messages this server sent changed (an attempt's outcome): at most 100 ids per notification. */
  | { type: 'delivery'; room_id: string; event_ids: string[] }
  /**
   * Something `GET /status` or a peer's state shows changed. `scope: 'queue'`: only the outbox and
   * the peers' delivery state did (a delivery attempt ended, a pull-mode peer acknowledged); one
   * per attempt, so screens that show neither need not ask again (issue #17). `scope: 'federation'`:
   * the owner paused or resumed federation; members see it too (their waiting messages say so).
   * `scope: 'members'`: what the owner lets members do changed (members_may_create_rooms); members
   * see it and read their account again (a tester's trial: a member's open app kept offering "Create
   * room" after the owner turned it off, and the node refused it).
   */
  | { type: 'status'; scope?: 'queue' | 'federation' | 'members' };

/** `close`: the node is stopping (live streams end), with the grace (ms) its requests are given. */
export class NodeEvents extends EventEmitter<{ notification: [NodeNotification]; close: [graceMs?: number] }> {
  private readonly onListenerError: (error: unknown) => void;

  /** `onListenerError`: told of a listener that threw (it is not thrown to whoever notified). */
  constructor(onListenerError: (error: unknown) => void = () => {}) {
    super();
    this.onListenerError = onListenerError;
  }

  /**
   * Tells every listener (the streams, the tray), each on its own: one that throws (a stream's
   * session read from a failing database) neither keeps the others from hearing it nor throws into
   * the notifier, which is often a timer's callback, where a throw ended the node.
   */
  notify(notification: NodeNotification): void {
    for (const listener of this.rawListeners('notification') as Array<(n: NodeNotification) => void>) {
      try {
        listener.call(this, notification);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}
