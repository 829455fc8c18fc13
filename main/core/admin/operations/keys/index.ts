import type { AdminHandlers } from '../../../../../shared/contract/admin-operations.ts';
import type { NodeContext } from '../../../node-context.ts';

export function keyOperations(node: NodeContext): Pick<AdminHandlers, 'getKeys' | 'rotateKey' | 'announceNextKey'> {
  return {
    getKeys: async () => {
      const document = node.identity()!.keysDocument();
      return {
        active_key: document.active_key,
        next_keys: document.next_keys.map(({ key_id, public_key }) => ({ key_id, public_key })),
        old_keys: document.old_keys.map(({ key_id, public_key, expired_at }) => ({ key_id, public_key, expired_at })),
      };
    },
    rotateKey: async () => {
      const rotated = await node.identity()!.rotate();
      node.log.info({ event: 'key_rotated', key_id: rotated.key_id, previous_key_id: rotated.previous_key_id }, 'signing key rotated');
      node.notifications.notify({ type: 'status' });
      return rotated;
    },
    announceNextKey: async () => {
      const next = await node.identity()!.announceNextKey();
      node.log.info({ event: 'key_announced', key_id: next.key_id }, 'next signing key announced');
      return { key_id: next.key_id, public_key: next.public_key };
    },
  };
}
