import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import type { Context, Middleware } from 'koa';
import { badRequest } from '../../errors.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json', '.woff2': 'font/woff2',
  '.webmanifest': 'application/manifest+json', '.txt': 'text/plain; charset=utf-8',
};

/** The UI's content security policy: only our own scripts, no framing, no plugins. */
export const UI_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/**
 * Serves the built renderer (dist/renderer) for every GET outside the API: files by path, and
 * index.html for anything else (the UI routes itself). Paths cannot leave the folder.
 */
export function staticUi(root: string, apiPrefix: string): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'GET' || ctx.path.startsWith(apiPrefix) || ctx.path === '/login') return next();
    sendUiFile(ctx, root, ctx.path);
  };
}

/**
 * Answers with the file of the built UI at `path` (relative to `root`, percent-encoded as in a URL),
 * or index.html when there is none (`indexFallback`, the default) or 404. Also the member app's
 * (main/core/client/client-app.ts, at /app/).
 */
export function sendUiFile(ctx: Context, root: string, path: string, indexFallback = true): void {
  const index = join(root, 'index.html');
  if (!existsSync(index)) {
    ctx.status = 503;
    ctx.type = 'text/plain';
    ctx.body = 'The UI is not built: run `npm run build` in the paracord-node folder.';
    return;
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    throw badRequest('invalid_path', 'the path is not valid percent-encoding');
  }
  const requested = normalize(join(root, decoded));
  const found = requested.startsWith(root + sep) && existsSync(requested) && statSync(requested).isFile() ? requested : null;
  if (!found && !indexFallback) return; // 404 from the error handler
  const file = found ?? index;
  ctx.set('content-security-policy', UI_CSP);
  ctx.set('x-frame-options', 'DENY');
  ctx.set('referrer-policy', 'no-referrer');
  ctx.set('cache-control', file.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
  ctx.type = TYPES[extname(file)] ?? 'application/octet-stream';
  ctx.body = readFileSync(file);
}
