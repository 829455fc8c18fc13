import Router from '../../../http/router.ts';
import { isServerName } from '../../../../../shared/identifiers.ts';
import { badRequest, notFound } from '../../../errors.ts';
import type { FederationDeps } from '../../federation-deps.ts';
import { KEY_CACHE_PATH } from '../../paths.ts';

/**
 * `GET /keys/cache?server_name=` (signed): the keys document of another server exactly as we
 * fetched it (still self-signed by that server), for room members that cannot reach it.
 */
export function keyCacheRoutes(deps: FederationDeps): Router {
  const router = new Router();
  router.get(KEY_CACHE_PATH, deps.verifySignedRequest, (ctx) => {
    const server = String(ctx.query.server_name ?? '');
    if (!isServerName(server)) throw badRequest('invalid_request', 'server_name must be a server name');
    const document = deps.keys.cachedDocument(server);
    if (!document) throw notFound('not_found', `no cached keys of ${server}`);
    ctx.body = document;
  });
  return router;
}
