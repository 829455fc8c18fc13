import type { AdminHandlers } from '../../../../../shared/contract/admin-operations.ts';
import type { NodeContext } from '../../../node-context.ts';

export function policyOperations(node: NodeContext): Pick<AdminHandlers, 'getPolicy' | 'setPolicy'> {
  return {
    getPolicy: async () => ({ default: node.trust.defaultPolicy }),
    setPolicy: async (input) => {
      node.trust.setDefaultPolicy(input.default);
      node.log.info({ event: 'policy_changed', default: input.default }, 'default federation policy changed');
      return { default: node.trust.defaultPolicy };
    },
  };
}
