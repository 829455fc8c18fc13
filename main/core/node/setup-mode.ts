/**
 * Setup mode: a node without an identity yet answers only the operations the contract marks
 * `inSetup: true` (status, setup, login links and sessions); every other one waits for the
 * identity (a 409 that says how to choose a server name). The operations on the services that
 * start with federation (`withFederation`, node/context.ts) exist once it started; before, with
 * an identity, they are refused in words too (503: federation is still starting).
 */
import { adminOperations, answeredInSetup, type AdminHandlers } from '../../../shared/contract/admin-operations.ts';
import { HttpError } from '../errors.ts';

export function guardSetupMode(always: Partial<AdminHandlers>, withFederation: () => AdminHandlers | null, isSetUp: () => boolean): AdminHandlers {
  return new Proxy(always as AdminHandlers, {
    get(target, name) {
      const all = withFederation();
      if (all) return all[name as keyof AdminHandlers];
      const handler = target[name as keyof AdminHandlers];
      if (typeof name !== 'string' || !Object.hasOwn(adminOperations, name)) return handler;
      if (!isSetUp()) {
        if (answeredInSetup(name)) return handler;
        return async () => {
          throw new HttpError(409, 'setup_required', 'this node is not set up yet: choose a server name first (POST /setup or `paracord-node init`)');
        };
      }
      if (handler) return handler;
      return async () => {
        throw new HttpError(503, 'federation_starting', 'federation is still starting on this node (rooms, peering and reachability come with it): try again in a moment');
      };
    },
  });
}
