/**
 * JSON answers without loading Node's bundled undici (issue #36 goal 5, idle memory).
 *
 * Koa 3 tests `val instanceof Response` twice for a JSON body: when `ctx.body = {...}` is set, and
 * when it writes the answer. `Response` is one of Node's lazily loaded web globals, so the first
 * JSON answer of a process loads Node's whole internal undici (1.5–2 MB of a serving node's RSS,
 * 13 MB of a bare process; the node itself speaks HTTP through the npm undici and node:http). So:
 *  - `app.response` (Koa's documented place to extend responses) gets a `body` setter that takes
 *    a plain object or array the way Koa's JSON branch does (status 200 unless one was set, no
 *    Content-Length yet, a JSON type unless one was set) and passes every other value (strings,
 *    buffers, streams, null) to Koa's own setter; middleware still reads the object back;
 *  - the app's first middleware turns such a body into its JSON text once every other
 *    middleware is done with it, so Koa writes a string (and sets its length) as for any text.
 * test/startup-modules.test.ts checks the real process; json-body.test.ts the answers.
 */
import type Koa from 'koa';

interface KoaResponseInternals {
  _body: unknown;
  _explicitStatus?: boolean;
  res: { headersSent: boolean };
  status: number;
  type: string;
  remove(field: string): void;
}

function isPlainJson(value: unknown): value is object {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function isStream(value: unknown): boolean {
  return value !== null && typeof value === 'object' && typeof (value as { pipe?: unknown }).pipe === 'function';
}

/** Gives `app` the setter and the middleware above: call right after `new Koa()`, before any `app.use`. */
export function jsonBodies(app: Koa): void {
  const koaBody = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(app.response) as object, 'body');
  if (!koaBody?.get || !koaBody.set) throw new Error("Koa's response has no body accessor: json-body.ts needs updating for this Koa version");
  const { get, set } = koaBody;
  Object.defineProperty(app.response, 'body', {
    configurable: true,
    enumerable: koaBody.enumerable,
    get,
    set(this: KoaResponseInternals, value: unknown) {
      // A stream being replaced needs Koa's clean-up: its own setter, as before.
      if (!isPlainJson(value) || isStream(this._body)) return set.call(this, value);
      this._body = value;
      if (this.res.headersSent) return;
      if (!this._explicitStatus) this.status = 200;
      this.remove('Content-Length');
      if (!this.type || !/\bjson\b/i.test(this.type)) this.type = 'json';
    },
  });
  app.use(async (ctx, next) => {
    await next();
    const body: unknown = ctx.body;
    if (isPlainJson(body)) ctx.body = JSON.stringify(body);
  });
}
