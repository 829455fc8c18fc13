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

/** A field the contract names one way and this API another (`expires_in_seconds`/`lifetime_seconds`): either, or both the same. */
function either<T extends object, A extends keyof T, B extends keyof T>(input: T, name: A, contractName: B): T[A] | T[B] | undefined {
  const [a, b] = [input[name], input[contractName]];
  if (a !== undefined && b !== undefined && (a as unknown) !== (b as unknown)) {
    throw badRequest('invalid_input', `${String(name)} and ${String(contractName)} name the same thing and differ: give one`);
  }
  return a ?? b;
}

export function memberOperations(node: NodeContext): Pick<AdminHandlers, Names> {
  const invite = (id: string): MemberInvite => node.members.listLinks().find((l) => l.id === id)!;
  return {
    createMemberInvite: async (input) => {
      const note = input.note ?? input.display_name;
      const lifetime_seconds = either(input, 'lifetime_seconds', 'expires_in_seconds');
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
