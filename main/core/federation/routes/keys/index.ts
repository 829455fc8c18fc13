import Router from '../../../http/router.ts';
import type { FederationDeps } from '../../federation-deps.ts';
import { KEYS_PATH } from '../../paths.ts';

/**
 * GET /_paracord/federation/v1/keys — our self-signed keys document. `valid_until` is
 * computed at each request, so a running node never publishes a stale key.
 */
export function keysRoutes(deps: FederationDeps): Router {
  const router = new Router();
  router.get(KEYS_PATH, (ctx) => {
    ctx.set('cache-control', 'no-cache');
    ctx.body = deps.identity.keysDocument();
  });
  return router;
}
