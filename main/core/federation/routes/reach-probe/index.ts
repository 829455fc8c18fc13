import Router from '../../../http/router.ts';
import { z } from 'zod';
import { badRequest, notFound } from '../../../errors.ts';
import { parseJsonBody } from '../../../http/read-body.ts';
import type { FederationDeps } from '../../federation-deps.ts';
import { perPeerLimit } from '../../middleware/peer-limit.ts';
import type { SignedRequestState } from '../../middleware/verify-signed-request.ts';
import { REACH_ECHO_PATH, REACH_PROBE_PATH } from '../../paths.ts';

/** One probe per peer per 30 s by default (each costs us two outbound requests). */
export const DEFAULT_REACH_PROBE_INTERVAL_SECONDS = 30;

/** A probe's nonce: random, base64url (our nodes send 32 bytes: 43 characters). */
export const REACH_NONCE = /^[A-Za-z0-9_-]{22,86}$/;

/**
 * The probe takes nothing that says where to call back (that is ours to know, never the caller's
 * to say): only the nonce to fetch from the caller's listener when we call it back.
 */
const probeSchema = z.strictObject({ nonce: z.string().regex(REACH_NONCE).optional() });

/**
 * `POST /reach-probe` (signed; issue #15): calls the caller back at the endpoint we already know
 * for it and answers `{reachable, status, latency_ms, error}`. An empty body, `{}` or
 * `{"nonce": …}` (then the callback also fetches `GET /reach-probe/echo/<nonce>` there: the
 * caller's proof that it was reached); any other field (an address, a port, a path) is refused
 * 400 before anything is contacted.
 *
 * `GET /reach-probe/echo/<nonce>` (unsigned): answers `{nonce}` while a probe of ours that sent
 * that nonce waits for its answer, 404 otherwise; a served nonce is what makes our self-test
 * believe a "reachable" answer (reachability/reach-proof.ts).
 */
export function reachProbeRoutes(deps: FederationDeps): Router {
  const router = new Router();
  router.post(REACH_PROBE_PATH, deps.verifySignedRequest, async (ctx, next) => {
    const state = ctx.state as SignedRequestState;
    const body = state.rawBody.length === 0 ? {} : parseJsonBody(state.rawBody);
    const parsed = probeSchema.safeParse(body);
    if (!parsed.success) {
      throw badRequest('invalid_request', 'the probe body must be {} or {"nonce": "<base64url>"}: this server calls you back only at the endpoint it already knows for you, never at one named in the request');
    }
    (ctx.state as { reachNonce?: string }).reachNonce = parsed.data.nonce;
    await next();
  }, perPeerLimit(deps.limiter, 'reach-probe', { per_second: 1 / (deps.reachProbeIntervalSeconds ?? DEFAULT_REACH_PROBE_INTERVAL_SECONDS), burst: 1 }, 'reachability probes'), async (ctx) => {
    if (!deps.reachProbe) throw notFound('not_supported', 'this server does not answer reachability probes');
    const state = ctx.state as SignedRequestState & { reachNonce?: string };
    ctx.body = await deps.reachProbe(state.origin, state.keyId, state.reachNonce);
  });
  router.get(`${REACH_ECHO_PATH}/:nonce`, (ctx) => {
    const nonce = ctx.params.nonce ?? '';
    if (!REACH_NONCE.test(nonce) || !deps.reachEcho?.(nonce)) throw notFound('not_found', 'no probe of this server waits for that nonce');
    ctx.set('cache-control', 'no-store');
    ctx.body = { nonce };
  });
  return router;
}
