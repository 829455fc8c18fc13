import type { AdminHandlers } from '../../../../../shared/contract/admin-operations.ts';
import { conflict } from '../../../errors.ts';
import type { NodeContext } from '../../../node-context.ts';

export function userOperations(node: NodeContext): Pick<AdminHandlers, 'listUsers' | 'createUser' | 'getOwnerProfile' | 'setOwnerProfile'> {
  const profile = () => {
    const userId = `@owner:${node.identity()!.serverName}`;
    return { user_id: userId, display_name: node.users.displayName(userId) };
  };
  return {
    getOwnerProfile: async () => profile(),
    setOwnerProfile: async ({ display_name }) => {
      node.users.setOwnerDisplayName(display_name === '' ? null : display_name);
      return profile();
    },
    listUsers: async () => ({ users: node.users.list().map((u) => ({ user_id: u.user_id, created_at: u.created_at })) }),
    createUser: async ({ localpart }) => {
      const result = node.users.add(localpart, node.identity()!.serverName);
      if (!result.created) throw conflict('user_exists', `${result.user_id} already exists`);
      node.log.info({ event: 'user_created', user_id: result.user_id }, 'local user created');
      return { user_id: result.user_id };
    },
  };
}
