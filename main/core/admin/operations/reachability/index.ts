import type { AdminHandlers } from '../../../../../shared/contract/admin-operations.ts';
import { badRequest } from '../../../errors.ts';
import type { NodeContext } from '../../../node-context.ts';
import type { Running } from '../../../node/federation.ts';

/** docs/ARCHITECTURE.md §What outside tools rely on, "Reachability": the self-test's last result, and a fresh one on demand. */
export function reachabilityOperations(node: NodeContext, running: Running): Pick<AdminHandlers, 'getReachability' | 'runReachabilityCheck'> {
  return {
    getReachability: async () => running.reachability.status(),
    runReachabilityCheck: async ({ via }) => {
      if (via !== undefined && node.trust.get(via)?.trust !== 'allow') {
        throw badRequest('unknown_peer', `${via} is not an allowed peer of this node: add it first`);
      }
      // The GET fields, plus the probe's status and latency (what `reach-test` prints).
      return running.reachability.requested(via);
    },
  };
}
