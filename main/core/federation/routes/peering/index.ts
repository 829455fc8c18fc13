import { createHash } from 'node:crypto';
import Router from '../../../http/router.ts';
import { z } from 'zod';
import { HEX_PUBLIC_KEY, KEY_ID, isServerName } from '../../../../../shared/identifiers.ts';
import { formatZodError } from '../../../admin/format-zod-error.ts';
import { badRequest, conflict, forbidden } from '../../../errors.ts';
import { parseJsonBody, readRawBody } from '../../../http/read-body.ts';
import { HTTPS_LINK_PATH } from '../../../peering/invite-link.ts';
import { PEERING_PATH } from '../../../peering/peering-service.ts';
import type { FederationDeps } from '../../federation-deps.ts';
import { checkRequestSignature, readAuthHeaders } from '../../middleware/verify-signed-request.ts';

const peeringSchema = z.strictObject({
  token: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'token is not valid'),
  server_name: z.string().refine(isServerName, 'not a server name'),
  endpoint: z.url({ protocol: /^https?$/ }),
  key_id: z.string().regex(KEY_ID),
  public_key: z.string().regex(HEX_PUBLIC_KEY),
  tls_fingerprint: z.string().regex(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/).nullable(),
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
  router.post(PEERING_PATH, async (ctx) => {
    const auth = readAuthHeaders(ctx, Date.now());
    const raw = await readRawBody(ctx);
    const parsed = peeringSchema.safeParse(parseJsonBody(raw));
    if (!parsed.success) throw badRequest('invalid_request', formatZodError(parsed.error));
    const body = parsed.data;
    if (auth.origin !== body.server_name || auth.keyId !== body.key_id) {
      throw forbidden('not_origin', 'the request must be signed by the server and key named in its body');
    }
    checkRequestSignature(ctx, auth, raw, body.public_key);
    if (deps.replay.claim(auth.signature)) throw conflict('replayed_request', 'this exact signed request was already received');
    try {
      ctx.body = await deps.peering().acceptPeering(body);
    } finally {
      await deps.commit.run(() => deps.replay.record(auth.signature, auth.origin, auth.requestTs));
      deps.replay.release(auth.signature);
    }
  });
  router.get(HTTPS_LINK_PATH, (ctx) => {
    ctx.set('content-security-policy', `default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${LANDING_SCRIPT_HASH}'`);
    ctx.set('referrer-policy', 'no-referrer');
    ctx.type = 'text/html';
    ctx.body = LANDING_PAGE;
  });
  return router;
}
