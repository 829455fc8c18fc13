/**
 * The owner's side of members (issue #34): member links to join or to set a new passphrase, the
 * list of members, disabling (every session ends at once) and enabling one. The store is
 * members/member-store.ts; the members' own API is main/core/client/.
 */
import type { AdminHandlers } from '../../../../../shared/contract/admin-operations.ts';
import type { MemberInvite } from '../../../../../shared/contract/admin/members.ts';
import { badRequest, conflict } from '../../../errors.ts';
import type { NodeContext } from '../../../node-context.ts';

type Names = 'createMemberInvite' | 'listMemberInvites' | 'revokeMemberInvite' | 'listMembers' | 'disableMember' | 'enableMember' | 'resetMember';

/** Where a member opens a link: the member app on the federation listener, the token after `#` (never sent to a server). */
export function memberLinkUrl(node: NodeContext, purpose: 'join' | 'reset', token: string): string {
  const base = node.federationUrl();
  if (!base) throw conflict('federation_not_running', 'the node has no federation address yet; finish the setup first');
  return `${base.replace(/\/+$/, '')}/app/#/${purpose}/${token}`;
}

export function memberOperations(node: NodeContext): Pick<AdminHandlers, Names> {
  const invite = (id: string): MemberInvite => node.members.listLinks().find((l) => l.id === id)!;
  return {
    createMemberInvite: async (input) => {
      const note = input.note ?? input.display_name;
      // The contract names the lifetime expires_in_seconds, this API lifetime_seconds: either, or both the same.
      const { lifetime_seconds: ours, expires_in_seconds: contracts } = input;
      if (ours !== undefined && contracts !== undefined && ours !== contracts) throw badRequest('invalid_input', 'lifetime_seconds and expires_in_seconds name the same thing and differ: give one');
      const lifetime_seconds = ours ?? contracts;
      memberLinkUrl(node, 'join', ''); // refuses before a link is stored
      const created = node.members.createLink('join', {
        ...(note ? { note } : {}), ...(input.display_name ? { displayName: input.display_name } : {}), ...(lifetime_seconds ? { lifetimeMs: lifetime_seconds * 1000 } : {}),
      });
      node.log.info({ event: 'member_link_created', id: created.id, purpose: 'join', expires_at: created.expires_at }, 'member link created');
      return { id: created.id, link: memberLinkUrl(node, 'join', created.token), expires_at: created.expires_at };
    },
    listMemberInvites: async () => ({ invites: node.members.listLinks() }),
    revokeMemberInvite: async ({ id }) => {
      node.members.revokeLink(id);
      node.log.info({ event: 'member_link_revoked', id }, 'member link revoked');
      return invite(id);
    },
    listMembers: async () => ({ members: node.members.list() }),
    disableMember: async ({ user_id }) => {
      const member = node.members.setDisabled(user_id, true);
      node.log.info({ event: 'member_disabled', user_id }, 'member disabled: its sessions ended');
      node.notifications.notify({ type: 'status' });
      return member;
    },
    enableMember: async ({ user_id }) => {
      const member = node.members.setDisabled(user_id, false);
      node.log.info({ event: 'member_enabled', user_id }, 'member enabled');
      return member;
    },
    resetMember: async ({ user_id, lifetime_seconds }) => {
      memberLinkUrl(node, 'reset', '');
      const created = node.members.createLink('reset', { userId: user_id, ...(lifetime_seconds ? { lifetimeMs: lifetime_seconds * 1000 } : {}) });
      node.log.info({ event: 'member_link_created', id: created.id, purpose: 'reset', user_id }, 'member passphrase reset link created');
      return { id: created.id, link: memberLinkUrl(node, 'reset', created.token), expires_at: created.expires_at };
    },
  };
}
