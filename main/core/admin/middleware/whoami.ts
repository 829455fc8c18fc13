import { createHmac } from 'node:crypto';
import type { Middleware } from 'koa';
import { z } from 'zod';
import { ADMIN_API_PREFIX } from '../../../../shared/contract/admin-operations.ts';
import { badRequest } from '../../errors.ts';
import { getOnly } from './get-only.ts';

/** Unauthenticated on purpose: the CLI asks it before it sends the bearer token anywhere. */
export const WHOAMI_PATH = `${ADMIN_API_PREFIX}/whoami`;

const challengeSchema = z.string().regex(/^[0-9a-f]{32,128}$/);

/** HMAC-SHA256 of the challenge under this run's nonce (node.json, 0600), hex. */
export function whoamiProof(nonce: string, challenge: string): string {
  return createHmac('sha256', nonce).update(`paracord-node whoami\n${challenge}`).digest('hex');
}

/**
 * GET /_paracord/admin/v1/whoami?challenge=HEX → {proof, pid} (SECURITY.md item 19). Whatever
 * listens on a port a stale node.json names cannot answer it: it does not know the nonce of the
 * run that wrote node.json. Mounted after the Host check and before the bearer token check.
 */
export function whoami(nonce: () => string): Middleware {
  return getOnly(WHOAMI_PATH, 'whoami', (ctx) => {
    const challenge = challengeSchema.safeParse(ctx.query.challenge);
    if (!challenge.success) throw badRequest('bad_challenge', 'challenge must be 32 to 128 lowercase hex digits');
    ctx.body = { proof: whoamiProof(nonce(), challenge.data), pid: process.pid };
  });
}
