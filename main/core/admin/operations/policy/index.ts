import type { AdminHandlers, HeldEvent, Policy } from '../../../../../shared/contract/admin-operations.ts';
import { conflict } from '../../../errors.ts';
import type { NodeContext } from '../../../node-context.ts';
import { membersMayCreateRooms, setMembersMayCreateRooms } from '../../../members/member-policy.ts';

type Names = 'getPolicy' | 'setPolicy' | 'listQuarantine' | 'releaseQuarantine' | 'purgeQuarantine';

export function policyOperations(node: NodeContext): Pick<AdminHandlers, Names> {
  const policy = (): Policy => ({ default: node.trust.defaultPolicy, rate_limit: node.trust.defaultRateLimit, auto_quarantine: node.trust.autoQuarantine, members_may_create_rooms: membersMayCreateRooms(node.settings) });
  return {
    getPolicy: async () => policy(),
    setPolicy: async (input) => {
      if (input.default) node.trust.setDefaultPolicy(input.default);
      if (input.rate_limit) node.trust.setDefaultRateLimit(input.rate_limit);
      if (input.auto_quarantine) node.trust.setAutoQuarantine(input.auto_quarantine);
      const membersChange = input.members_may_create_rooms !== undefined && input.members_may_create_rooms !== membersMayCreateRooms(node.settings);
      if (input.members_may_create_rooms !== undefined) setMembersMayCreateRooms(node.settings, input.members_may_create_rooms);
      node.log.info({ event: 'policy_changed', ...input }, 'federation policy changed');
      // Members' open apps offer "Create room" or not: they hear of it, and read their account again.
      if (membersChange) node.notifications.notify({ type: 'status', scope: 'members' });
      return policy();
    },
    listQuarantine: async ({ server_name }) => ({
      held: node.quarantine.list(server_name).map((row): HeldEvent => {
        const envelope = JSON.parse(row.envelope) as { event_type: string; room_id: string; sender: string; state_key?: unknown; content: { body?: unknown; key?: unknown } };
        return {
          id: row.id, origin: row.origin, received_from: row.received_from, event_id: row.event_id, received_at: row.received_at,
          event_type: envelope.event_type, room_id: envelope.room_id, sender: envelope.sender,
          ...(typeof envelope.content.body === 'string' ? { body: envelope.content.body } : {}),
          ...(typeof envelope.content.key === 'string' ? { key: envelope.content.key } : {}),
          ...(typeof envelope.state_key === 'string' ? { subject: envelope.state_key } : {}),
        };
      }),
      counts: node.quarantine.counts(),
    }),
    releaseQuarantine: async ({ server_name }) => {
      if (node.quarantine.list(server_name, 1).length === 0) throw conflict('nothing_held', `no events of ${server_name} are held`);
      return node.releaseHeld(server_name);
    },
    purgeQuarantine: async ({ server_name }) => {
      const purged = node.quarantine.purge(server_name);
      node.log.warn({ event: 'quarantine_purged', server: server_name, purged }, 'held events purged');
      return { purged };
    },
  };
}
