import type { AdminHandlers, NodeStatus } from '../../../../../shared/contract/admin-operations.ts';
import { conflict } from '../../../errors.ts';
import type { NodeContext } from '../../../node-context.ts';
import { VERSION } from '../../../version.ts';

export function nodeStatus(node: NodeContext): NodeStatus {
  const identity = node.identity();
  const counts = { allow: 0, block: 0, quarantine: 0 };
  for (const row of node.db.prepare<[], { trust: keyof typeof counts; n: number }>('SELECT trust, COUNT(*) AS n FROM federation_servers GROUP BY trust').all()) {
    counts[row.trust] = row.n;
  }
  return {
    mode: identity ? 'running' : 'setup',
    setup_required: !identity,
    server_name: identity?.serverName ?? null,
    key_id: identity?.keyId ?? null,
    public_key: identity?.publicKeyHex ?? null,
    federation: { paused: node.isPaused(), url: node.federationUrl(), tls_fingerprint: node.tls()?.fingerprint256 ?? null },
    peers: counts.allow,
    peer_counts: counts,
    queue: (({ pending, failed }) => ({ pending, failed }))(node.outbox.counts()),
    version: VERSION,
    uptime_ms: Date.now() - node.startedAt,
  };
}

export function statusOperations(node: NodeContext): Pick<AdminHandlers, 'getStatus' | 'setup' | 'createLoginLink'> {
  return {
    getStatus: async () => nodeStatus(node),
    createLoginLink: async () => ({ login_url: node.loginUrl() }),
    setup: async ({ server_name }) => {
      if (node.identity()) throw conflict('already_set_up', `this node is already set up as ${node.identity()!.serverName}`);
      await node.completeSetup(server_name);
      return nodeStatus(node);
    },
  };
}
