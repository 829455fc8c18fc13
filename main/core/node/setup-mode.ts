/**
 * Setup mode: a node without an identity yet answers only the operations the contract marks
 * `inSetup: true` (status, setup, login links and sessions); every other one waits for the
 * identity (a 409 that says how to choose a server name).
 */
import { answeredInSetup, type AdminHandlers } from '../../../shared/contract/admin-operations.ts';
import { HttpError } from '../errors.ts';

export function guardSetupMode(admin: AdminHandlers, isSetUp: () => boolean): AdminHandlers {
  return new Proxy(admin, {
    get(target, name: string) {
      const handler = target[name as keyof AdminHandlers];
      if (isSetUp() || answeredInSetup(name) || typeof handler !== 'function') return handler;
      return async () => {
        throw new HttpError(409, 'setup_required', 'this node is not set up yet: choose a server name first (POST /setup or `paracord-node init`)');
      };
    },
  });
}
