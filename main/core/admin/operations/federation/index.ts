import { queueEntryWords, type AdminHandlers, type QueueEntry } from '../../../../../shared/contract/admin-operations.ts';
import { conflict, notFound } from '../../../errors.ts';
import type { NodeContext } from '../../../node-context.ts';
import type { OutboxRow } from '../../../outbox/outbox.ts';

type Names = 'getQueue' | 'retryQueueEntry' | 'dropQueueEntry' | 'listAttempts' | 'pauseFederation' | 'resumeFederation';

const entryOf = (node: NodeContext) => {
  const byPull = new Map<string, 'push' | 'pull'>();
  const held = new Map<string, boolean>();
  return (r: OutboxRow): QueueEntry => {
    let delivery = byPull.get(r.destination);
    if (!delivery) byPull.set(r.destination, (delivery = node.pull.isPullDestination(r.destination) ? 'pull' : 'push'));
    let isHeld = held.get(r.destination);
    if (isHeld === undefined) held.set(r.destination, (isHeld = node.trust.holdsDeliveryTo(r.destination)));
    return {
      id: r.id, destination: r.destination, event_id: r.event_id, room_id: r.room_id, state: r.state,
      attempts: r.attempts, next_attempt_at: r.next_attempt_at, last_error: r.last_error, created_at: r.created_at, updated_at: r.updated_at,
      delivery, waiting: queueEntryWords(r, delivery, isHeld),
    };
  };
};

export function federationOperations(node: NodeContext): Pick<AdminHandlers, Names> {
  return {
    getQueue: async ({ state, destination, limit }) => {
      const atMailboxes = (state === undefined || state === 'pending') ? node.mailbox.deposits.summary().filter((w) => destination === undefined || w.destination === destination) : [];
      return {
        counts: node.outbox.counts(),
        entries: node.outbox.list({ ...(state ? { state } : {}), ...(destination ? { destination } : {}) }, limit).map(entryOf(node)),
        ...(atMailboxes.length > 0 ? { at_mailboxes: atMailboxes } : {}),
      };
    },
    retryQueueEntry: async ({ id }) => {
      const before = node.outbox.get(id);
      if (!before) throw notFound('unknown_entry', `no queue entry ${id}`);
      if (before.state === 'pending') throw conflict('already_pending', `entry ${id} is already waiting to be delivered`);
      const after = node.outbox.retry(id);
      if (!after) throw conflict('already_pending', `entry ${id} is already waiting to be delivered`);
      node.log.info({ event: 'delivery_retry_requested', id, destination: after.destination, event_id: after.event_id }, 'owner asked to retry a delivery');
      node.workers.deliver(after.destination);
      node.notifications.notify({ type: 'status' });
      return entryOf(node)(after);
    },
    dropQueueEntry: async ({ id }) => {
      const row = node.outbox.get(id);
      if (!row) throw notFound('unknown_entry', `no queue entry ${id}`);
      node.outbox.drop(id);
      // A pending entry may have been the head its destination waits on: what is behind it may go now.
      if (row.state === 'pending') node.workers.deliver(row.destination);
      node.log.warn({ event: 'delivery_dropped', id, destination: row.destination, event_id: row.event_id, state: row.state }, 'owner dropped a delivery');
      node.notifications.notify({ type: 'status' });
      return { dropped: true };
    },
    listAttempts: async ({ destination, limit }) => ({ attempts: node.outbox.attempts(destination, limit) }),
    pauseFederation: async () => {
      node.setPaused(true);
      return { paused: true };
    },
    resumeFederation: async () => {
      node.setPaused(false);
      return { paused: false };
    },
  };
}
