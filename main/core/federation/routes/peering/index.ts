import { createHash } from 'node:crypto';
import Router from '../../../http/router.ts';
import { z } from 'zod';
import { HEX_PUBLIC_KEY, KEY_ID, isServerName } from '../../../../../shared/identifiers.ts';
import { formatZodError } from '../../../admin/format-zod-error.ts';
import { HttpError, badRequest, conflict, forbidden, unauthorized } from '../../../errors.ts';
import { parseJsonBody, readRawBody } from '../../../http/read-body.ts';
import { hashToken } from '../../../peering/peering-service.ts';
import { DISPATCH_HEADER } from '../../../mailbox/self-dispatch.ts';
import type { Context, Next } from 'koa';
import type { FederationDeps } from '../../federation-deps.ts';
import { checkDestination, checkRequestSignatureOffThread, mailboxWeekReplay, readAuthHeaders, requestMaxAgeMs } from '../../middleware/verify-signed-request.ts';
import { normalizeEndpoint } from '../../../../../shared/endpoint.ts';
import { rateLimitByAddress, takeOverall } from '../../../http/middleware/rate-limit.ts';
import { RateLimiters, type RateLimit } from '../../../trust/rate-limiter.ts';
import { warnLimited } from '../../../log/rate-limit.ts';
import { PEERING_ANSWER_PATH, PEERING_PATH, PEER_LINK_PATH } from '../../paths.ts';
import { isNotYetError } from '../../fetched-event-failure.ts';

/** A peering request is a few hundred bytes; anything much larger is refused while read (413). */
export const PEERING_BODY_LIMIT = 16 * 1024;
/**
 * Redeeming an invite is rare (once per friend): per client address 5 at once, then one every
 * 10 s (NodeConfig `peeringRateLimit`); for everybody together 20 at once, then 2 a second,
 * except requests carrying a token of ours that can still be redeemed (issue #14, item 7: a
 * flood of strangers cannot keep a friend's redeem answering 429).
 */
export const DEFAULT_PEERING_LIMIT: RateLimit = { per_second: 0.1, burst: 5 };
export const DEFAULT_PEERING_OVERALL_LIMIT: RateLimit = { per_second: 2, burst: 20 };

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

const fieldsShape = {
  server_name: z.string().refine(isServerName, 'not a server name'),
  // The same endpoint rule as the admin API and invite links (endpoint.ts): normalised, or 400.
  endpoint: z.string().transform((value, ctx) => {
    const checked = normalizeEndpoint(value);
    if (!checked.ok) {
      ctx.addIssue({ code: 'custom', message: `endpoint: ${checked.reason}` });
      return z.NEVER;
    }
    return checked.endpoint;
  }),
  key_id: z.string().regex(KEY_ID),
  public_key: z.string().regex(HEX_PUBLIC_KEY),
  tls_fingerprint: z.string().regex(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/).nullable(),
};
const HEX64 = /^[0-9a-f]{64}$/;
/** Sent directly: the link's token. */
const directSchema = z.strictObject({ token: z.string().regex(TOKEN, 'token is not valid'), ...fieldsShape });
/** Carried by a mailbox: the token's hash and a proof made with the link's proof key (the mailbox reads it). */
const carriedSchema = z.strictObject({ token_sha256: z.string().regex(HEX64, 'must be the sha256 (hex) of the link\'s token'), proof: z.string().regex(HEX64, 'must be 64 hex characters'), ...fieldsShape });

const answerSchema = z.strictObject({
  token_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be the sha256 (hex) of the link\'s token'),
  accepted: z.boolean(),
  reachable: z.boolean().optional(),
  reach_error: z.string().max(2000).optional(),
  mailboxes: z.array(z.string().refine(isServerName, 'not a server name')).max(4).optional(),
  error: z.string().max(64).optional(),
  message: z.string().max(2000).optional(),
});

/** The landing page of the https form of an invite link: it hands the fragment to the app. */
const LANDING_SCRIPT = `const p=location.hash.slice(1);const a=document.getElementById('open');if(/^[A-Za-z0-9_-]+$/.test(p)){a.href='paracord://peer/'+p;document.getElementById('link').textContent='paracord://peer/'+p;}else{document.getElementById('msg').textContent='This link is incomplete. Ask your friend to send it again.';}`;
const LANDING_SCRIPT_HASH = createHash('sha256').update(LANDING_SCRIPT).digest('base64');
const LANDING_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Paracord peer invite</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}code{word-break:break-all;background:#8882;padding:.1rem .3rem;border-radius:.2rem}a.button{display:inline-block;padding:.6rem 1rem;border-radius:.4rem;background:#3b5bdb;color:#fff;text-decoration:none}</style></head>
<body><h1>You are invited to peer with a Paracord server</h1><p id="msg">If the Paracord app is installed, this opens it and asks you to confirm.</p>
<p><a class="button" id="open" href="#">Open in Paracord</a></p><p>Or paste this link into your node's “Redeem a link” box (or run <code>paracord-node peer redeem LINK</code>):</p><p><code id="link"></code></p>
<script>${LANDING_SCRIPT}</script></body></html>`;

/**
 * `POST /peering` — a friend redeems our invite link. Not behind the usual origin checks (we
 * do not know the friend yet): the request is signed with the key its body names, and the
 * single-use token is the authorization.
 */
export function peeringRoutes(deps: FederationDeps): Router {
  const router = new Router();
  /**
   * Records the request as seen, unless a mailbox carried it and it was answered "not yet" (429,
   * 5xx): its copy is handed over again then (mailbox/carried-retries.ts), and must not be 409.
   */
  const recordUnlessNotYet = async (ctx: Context, auth: { signature: string; origin: string; requestTs: number }, carried: boolean, failure: unknown): Promise<void> => {
    try {
      // A carried request refused `invalid_token` (no link of ours has that token, or the proof does
      // not match it) sends nothing back and charges no one: handed over again it changes nothing,
      // so it is remembered as a direct one is. A mailbox could otherwise make up such requests under
      // any name, each kept for a week.
      const week = mailboxWeekReplay(ctx, carried, auth.origin) && !(failure instanceof HttpError && failure.code === 'invalid_token');
      if (!(carried && failure !== undefined && isNotYetError(failure))) await deps.commit.run(() => deps.replay.record(auth.signature, auth.origin, auth.requestTs, week));
    } finally {
      deps.replay.release(auth.signature);
    }
  };
  // Anybody may call this: limited per address before anything is read or parsed, the body
  // capped, the signature checked off the main thread (issue #14, item 7).
  const limiter = deps.limiter ?? new RateLimiters();
  const refused = (address: string, reason: 'address' | 'overall') =>
    warnLimited(deps.log, `peering_rate_limited ${reason === 'overall' ? 'overall' : address}`, { event: 'peering_rate_limited', address, reason }, 'peering requests refused: over the rate limit');
  const limit = rateLimitByAddress({
    limiter,
    name: 'peering',
    perAddress: deps.peeringLimit ?? DEFAULT_PEERING_LIMIT,
    onRefused: (ctx) => refused(ctx.ip, 'address'),
  });
  // A request a mailbox carried, handed over by this process (mailbox/self-dispatch.ts): it may be
  // as old as a mailbox keeps things and must be bound to us; the per-address limit (all such
  // requests come from 127.0.0.1) does not apply: the mailbox limited its depositor.
  const dispatched = (ctx: Context) => deps.isDispatched?.(ctx.get(DISPATCH_HEADER)) === true;
  const authOf = (ctx: Context) => {
    const carried = dispatched(ctx);
    const now = Date.now();
    // Its age counts from when it was kept here, as on every other carried route.
    const auth = readAuthHeaders(ctx, now, requestMaxAgeMs(ctx, carried, now));
    if (carried && auth.destination === undefined) throw unauthorized('invalid_auth', 'a request carried by a mailbox must be bound to its destination');
    checkDestination(auth, deps.identity.serverName);
    return { auth, carried };
  };
  const limitUnlessCarried = (ctx: Context, next: Next) => (dispatched(ctx) ? next() : limit(ctx, next));

  router.post(PEERING_PATH, limitUnlessCarried, async (ctx) => {
    const { auth, carried } = authOf(ctx);
    const raw = await readRawBody(ctx, PEERING_BODY_LIMIT);
    const json = parseJsonBody(raw);
    // The limit on everybody together, before the schema, the signature and the redeemer's keys;
    // a token we issued and that can still be redeemed (one indexed look-up) goes past it. A
    // carried request is not a stranger's: the mailbox took it from one of its peers, limited there.
    const token = (json as { token?: unknown } | null)?.token;
    if (!carried && !(typeof token === 'string' && TOKEN.test(token) && deps.peering().isRedeemable(hashToken(token)))) {
      takeOverall(limiter, 'peering', DEFAULT_PEERING_OVERALL_LIMIT, () => refused(ctx.ip, 'overall'));
    }
    // A mailbox must never see a link's token: a carried request gives a proof instead.
    if (carried && token !== undefined) throw badRequest('invalid_request', 'a peering request left at a mailbox must not carry the link\'s token (token_sha256 and proof instead)');
    const parsed = (carried || token === undefined ? carriedSchema : directSchema).safeParse(json);
    if (!parsed.success) throw badRequest('invalid_request', formatZodError(parsed.error));
    const body = parsed.data;
    if (auth.origin !== body.server_name || auth.keyId !== body.key_id) {
      throw forbidden('not_origin', 'the request must be signed by the server and key named in its body');
    }
    await checkRequestSignatureOffThread(ctx, auth, raw, body.public_key, deps.verifier);
    if (deps.replay.claim(auth.signature)) throw conflict('replayed_request', 'this exact signed request was already received');
    let failure: unknown;
    try {
      ctx.body = await deps.peering().acceptPeering(body, Date.now(), carried);
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      await recordUnlessNotYet(ctx, auth, carried, failure);
    }
  });

  /**
   * `POST /peering/answer` — the inviter's answer to a peering request we left at its mailbox
   * (issue #32). Only from a server we wait for, signed with the key its link named.
   */
  router.post(PEERING_ANSWER_PATH, limitUnlessCarried, async (ctx) => {
    const { auth, carried } = authOf(ctx);
    const raw = await readRawBody(ctx, PEERING_BODY_LIMIT);
    // One answer for "not waited for", "another key" and "a bad signature": a stranger learns
    // nothing of who we wait for, or with which key.
    const refused = () => forbidden('not_pending', `${deps.identity.serverName} waits for no answer from ${auth.origin} signed this way`);
    const key = deps.peering().pendingKey(auth.origin);
    if (!key || auth.keyId !== key.key_id) throw refused();
    await checkRequestSignatureOffThread(ctx, auth, raw, key.public_key, deps.verifier).catch(() => {
      throw refused();
    });
    const parsed = answerSchema.safeParse(parseJsonBody(raw));
    if (!parsed.success) throw badRequest('invalid_request', formatZodError(parsed.error));
    if (deps.replay.claim(auth.signature)) throw conflict('replayed_request', 'this exact signed request was already received');
    let failure: unknown;
    try {
      const { token_sha256, accepted, reachable, reach_error, mailboxes, error, message } = parsed.data;
      ctx.body = deps.peering().takeAnswer(auth.origin, {
        token_sha256, accepted, ...(reachable !== undefined ? { reachable } : {}), ...(reach_error !== undefined ? { reach_error } : {}), ...(mailboxes !== undefined ? { mailboxes } : {}),
        ...(error !== undefined ? { error } : {}), ...(message !== undefined ? { message } : {}),
      });
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      await recordUnlessNotYet(ctx, auth, carried, failure);
    }
  });
  router.get(PEER_LINK_PATH, (ctx) => {
    ctx.set('content-security-policy', `default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${LANDING_SCRIPT_HASH}'`);
    ctx.set('referrer-policy', 'no-referrer');
    ctx.type = 'text/html';
    ctx.body = LANDING_PAGE;
  });
  return router;
}
