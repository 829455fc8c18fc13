import { timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { unauthorized } from '../../errors.ts';

/** `Authorization: Bearer <DIR/admin.token>`, compared in constant time. */
export function bearerAuth(token: () => string): Middleware {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    const match = /^Bearer (\S+)$/i.exec(header);
    if (!match) throw unauthorized('missing_token', 'admin API needs "Authorization: Bearer <token>" (the token is in DATA_DIR/admin.token)');
    const given = Buffer.from(match[1]!);
    const expected = Buffer.from(token());
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw unauthorized('invalid_token', 'admin token is not valid');
    }
    await next();
  };
}
