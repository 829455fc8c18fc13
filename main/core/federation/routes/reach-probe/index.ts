import Router from '../../../http/router.ts';
import { z } from 'zod';
import { badRequest, notFound } from '../../../errors.ts';
import { parseJsonBody } from '../../../http/read-body.ts';
import type { FederationDeps } from '../../federation-deps.ts';
import { perPeerLimit } from '../../middleware/peer-limit.ts';
import type { SignedRequestState } from '../../middleware/verify-signed-request.ts';
import { REACH_PROBE_PATH } from '../../paths.ts';

/** One probe per peer per 30 s by default (each costs us two outbound requests). */
export const DEFAULT_REACH_PROBE_INTERVAL_SECONDS = 30;

/** The probe takes nothing: where to call back is ours to know, never the caller's to say. */
const probeSchema = z.strictObject({});

/**
 * `POST /reach-probe` (signed; issue #15): calls the caller back at the endpoint we already know
 * for it and answers `{reachable, status, latency_ms, error}`. An empty body or `{}`; any field
 * (an address, a port, a path) is refused 400 before anything is contacted.
 */
export function reachProbeRoutes(deps: FederationDeps): Router {
  const router = new Router();
  router.post(REACH_PROBE_PATH, deps.verifySignedRequest, async (ctx, next) => {
    const state = ctx.state as SignedRequestState;
    const body = state.rawBody.length === 0 ? {} : parseJsonBody(state.rawBody);
    if (!probeSchema.safeParse(body).success) {
      throw badRequest('invalid_request', 'the probe body must be {} : this server calls you back only at the endpoint it already knows for you, never at one named in the request');
    }
    await next();
  }, perPeerLimit(deps.limiter, 'reach-probe', { per_second: 1 / (deps.reachProbeIntervalSeconds ?? DEFAULT_REACH_PROBE_INTERVAL_SECONDS), burst: 1 }, 'reachability probes'), async (ctx) => {
    if (!deps.reachProbe) throw notFound('not_supported', 'this server does not answer reachability probes');
    const state = ctx.state as SignedRequestState;
    ctx.body = await deps.reachProbe(state.origin, state.keyId);
  });
  return router;
}
