import Koa from 'koa';
import Router from '../http/router.ts';
import { errorHandler } from '../http/middleware/error-handler.ts';
import { InFlightRequests, trackInFlight } from '../http/middleware/in-flight.ts';
import { requestLog } from '../http/middleware/request-log.ts';
import { canonicalPath } from '../http/middleware/canonical-path.ts';
import { clientAddress } from '../http/middleware/client-address.ts';
import { TrustedProxies } from '../http/client-address.ts';
import { setBodyTimeout } from '../http/read-body.ts';
import type { FederationDeps } from './federation-deps.ts';
import { eventRoutes } from './routes/event/index.ts';
import { keysRoutes } from './routes/keys/index.ts';
import { wellKnownRoutes } from './routes/well-known/index.ts';
import { membershipRoutes } from './routes/membership/index.ts';
import { catchUpRoutes } from './routes/catch-up/index.ts';
import { ownEventsRoutes } from './routes/own-events/index.ts';
import { keyCacheRoutes } from './routes/key-cache/index.ts';
import { eventsBatchRoutes } from './routes/events-batch/index.ts';
import { peeringRoutes } from './routes/peering/index.ts';
import { pullRoutes } from '../pull/routes.ts';
import { reachProbeRoutes } from './routes/reach-probe/index.ts';
import { mailboxRoutes } from '../mailbox/routes.ts';
import { DELIVERY_FAILING_HEADER } from './http-client.ts';
import { FEDERATION_ROOT, KEYS_PATH, REACH_ECHO_PATH } from './paths.ts';
import { jsonBodies } from '../http/json-body.ts';

/** The public federation API (docs/PROTOCOL.md §Endpoints). */
export function createFederationApp(deps: FederationDeps, inFlight: InFlightRequests = new InFlightRequests()): Koa {
  const app = new Koa();
  jsonBodies(app);
  app.proxy = false;
  app.silent = true;
  if (deps.bodyTimeoutMs !== undefined) setBodyTimeout(app, deps.bodyTimeoutMs);
  // Who the client is, decided once (trusted proxies), before anything reads ctx.ip.
  app.use(clientAddress(deps.trustedProxies ?? new TrustedProxies()));
  app.use(trackInFlight(inFlight));
  if (deps.observe) app.use(deps.observe);
  app.use(errorHandler(deps.log));
  app.use(requestLog(deps.log, 'federation'));
  // Before every check: one spelling per path, so the pause check and the routers agree.
  app.use(canonicalPath());
  app.use(async (ctx, next) => {
    // Pausing stops traffic, not identity: the keys document stays available, and so does the
    // echo of our own self-test's nonce (a paused node is no less reachable).
    if (deps.isPaused() && ctx.path.startsWith(`${FEDERATION_ROOT}/`) && ctx.path !== KEYS_PATH && !ctx.path.startsWith(`${REACH_ECHO_PATH}/`)) {
      ctx.status = 503;
      ctx.set('retry-after', '60');
      ctx.body = { error: 'federation_paused', message: 'federation is paused on this server; try again later' };
      return;
    }
    await next();
  });
  // A peer whose signed request we answer learns when our deliveries to it time out or are
  // refused: it then tests its own reachability (issue #15; reachability/peer-reports.ts).
  app.use(async (ctx, next) => {
    await next();
    const origin = (ctx.state as { origin?: string }).origin;
    if (origin && deps.deliveryFailingTo?.(origin)) ctx.set(DELIVERY_FAILING_HEADER, 'network');
  });
  // The members' app and API (issue #34): past the same client address, limits and path checks.
  if (deps.memberClient) app.use(deps.memberClient);
  // One router holding every route: a request is matched once, not by each of twelve routers and
  // their twelve 405 wrappers in turn (less work; within noise in single-event ingest, issue #36).
  // No resource router has middleware of its own (router.use), so mounting them changes no route.
  const routes = new Router();
  for (const router of [wellKnownRoutes(deps), keysRoutes(deps), keyCacheRoutes(deps), eventRoutes(deps), eventsBatchRoutes(deps), membershipRoutes(deps), catchUpRoutes(deps), ownEventsRoutes(deps), peeringRoutes(deps), pullRoutes(deps), reachProbeRoutes(deps), mailboxRoutes(deps)]) {
    routes.use(router.routes());
  }
  app.use(routes.routes());
  app.use(routes.allowedMethods());
  return app;
}
