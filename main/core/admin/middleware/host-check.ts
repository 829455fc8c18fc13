import type { Middleware } from 'koa';
import { forbidden } from '../../errors.ts';

/**
 * DNS-rebinding guard (as Syncthing's GUI does): a loopback admin API answers only requests
 * whose Host header names a loopback address or localhost, so a web page that rebinds its
 * own name to 127.0.0.1 cannot reach it.
 */
export function hostCheck(allowedHosts: () => ReadonlySet<string>): Middleware {
  return async (ctx, next) => {
    const host = (ctx.get('host') || '').toLowerCase();
    const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
    if (!allowedHosts().has(name)) {
      throw forbidden('host_not_allowed', `the admin API only answers to a loopback Host header, not "${host}"`);
    }
    await next();
  };
}

export const LOOPBACK_HOST_NAMES: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);
