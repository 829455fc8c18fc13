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
        reference_peers: referencePeers(node),
      };
    },
    rotateKey: async () => {
      const rotated = await node.identity()!.rotate();
      node.log.info({ event: 'key_rotated', key_id: rotated.key_id, previous_key_id: rotated.previous_key_id }, 'signing key rotated');
      const cutOff = referencePeers(node);
      if (cutOff.length > 0) {
        node.log.warn({ event: 'reference_peers_cut_off', servers: cutOff }, 'Paracord reference peers pinned the previous key: their admins must add this server again');
      }
      node.notifications.notify({ type: 'status' });
      return { ...rotated, reference_peers_cut_off: cutOff };
    },
    announceNextKey: async () => {
      const next = await node.identity()!.announceNextKey();
      node.log.info({ event: 'key_announced', key_id: next.key_id }, 'next signing key announced');
      return { key_id: next.key_id, public_key: next.public_key };
    },
  };
}

/**
 * Paracord reference peers (allowed): each pinned our keys[0] once when its admin added us and
 * refuses us after a rotation (crates/paracord-api/src/routes/federation.rs:2495-2516).
 */
function referencePeers(node: NodeContext): string[] {
  return node.dialects.references().map((r) => r.server_name).filter((server) => node.trust.get(server)?.trust !== 'block');
}
