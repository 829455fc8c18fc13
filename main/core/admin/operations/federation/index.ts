import type { AdminHandlers } from '../../../../../shared/contract/admin-operations.ts';
import type { NodeContext } from '../../../node-context.ts';

export function federationOperations(node: NodeContext): Pick<AdminHandlers, 'getQueue' | 'pauseFederation' | 'resumeFederation'> {
  return {
    getQueue: async () => ({
      counts: node.outbox.counts(),
      entries: node.outbox.list().map((r) => ({
        id: r.id, destination: r.destination, event_id: r.event_id, room_id: r.room_id, state: r.state,
        attempts: r.attempts, next_attempt_at: r.next_attempt_at, last_error: r.last_error, created_at: r.created_at,
      })),
    }),
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
