import type { AdminHandlers } from '../../../../../shared/contract/admin-operations.ts';
import type { NodeContext } from '../../../node-context.ts';

export function peeringOperations(node: NodeContext): Pick<AdminHandlers, 'createPeerInvite' | 'listPeerInvites' | 'revokePeerInvite' | 'redeemPeerInvite'> {
  return {
    createPeerInvite: async ({ expires_in_seconds, note }) => node.peering().createInvite(expires_in_seconds === undefined ? undefined : expires_in_seconds * 1000, note),
    listPeerInvites: async () => ({ invites: node.peering().listInvites() }),
    revokePeerInvite: async ({ id }) => node.peering().revokeInvite(id),
    redeemPeerInvite: async ({ link }) => {
      const peer = await node.peering().redeem(link);
      node.notifications.notify({ type: 'status' });
      return peer;
    },
  };
}
