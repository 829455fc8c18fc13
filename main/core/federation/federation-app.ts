import Koa from 'koa';
import { errorHandler } from '../http/middleware/error-handler.ts';
import { InFlightRequests, trackInFlight } from '../http/middleware/in-flight.ts';
import { requestLog } from '../http/middleware/request-log.ts';
import type { FederationDeps } from './federation-deps.ts';
import { KEYS_PATH } from './server-keys.ts';
import { eventRoutes } from './routes/event/index.ts';
import { keysRoutes } from './routes/keys/index.ts';
import { wellKnownRoutes } from './routes/well-known/index.ts';
import { membershipRoutes } from './routes/membership/index.ts';
import { catchUpRoutes } from './routes/catch-up/index.ts';
import { keyCacheRoutes } from './routes/key-cache/index.ts';
import { eventsBatchRoutes } from './routes/events-batch/index.ts';
import { peeringRoutes } from './routes/peering/index.ts';

/** Requests being handled right now (shown when a shutdown has to cut them). */

/** The public federation API (CONTRACT.md "Federation API"). */
export function createFederationApp(deps: FederationDeps, inFlight: InFlightRequests = new InFlightRequests()): Koa {
  const app = new Koa();
  app.proxy = false;
  app.silent = true;
  app.use(trackInFlight(inFlight));
  app.use(errorHandler(deps.log));
  app.use(requestLog(deps.log, 'federation'));
  app.use(async (ctx, next) => {
    // Pausing stops traffic, not identity: the keys document stays available.
    if (deps.isPaused() && ctx.path.startsWith('/_paracord/federation/') && ctx.path !== KEYS_PATH) {
      ctx.status = 503;
      ctx.set('retry-after', '60');
      ctx.body = { error: 'federation_paused', message: 'federation is paused on this server; try again later' };
      return;
    }
    await next();
  });
  for (const router of [wellKnownRoutes(deps), keysRoutes(deps), keyCacheRoutes(deps), eventRoutes(deps), eventsBatchRoutes(deps), membershipRoutes(deps), catchUpRoutes(deps), peeringRoutes(deps)]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}
