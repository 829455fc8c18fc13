/**
 * @koa/router, loaded through require: its ES module build does `import http from "http"`,
 * and Node's ES module facade of node:http reads every export, including the lazy WebSocket
 * getter, which loads Node's bundled undici — memory for nothing (issue #6, idle footprint;
 * node-http.ts says how much). The CommonJS build requires http, which does not. Same class,
 * same types. test/startup-modules.test.ts checks that a serving node never loads it.
 *
 * Every router of the node is case-sensitive and strict (issue #14, item 12): a route answers
 * its one spelling, never `/_PARACORD/…` or a trailing-slash variant that other checks would
 * read as a different path. The canonical-path middleware refuses such spellings even earlier.
 */
import { createRequire } from 'node:module';
import type KoaRouter from '@koa/router';

const BaseRouter = createRequire(import.meta.url)('@koa/router') as typeof KoaRouter;

const Router = class extends BaseRouter {
  constructor(options: ConstructorParameters<typeof KoaRouter>[0] = {}) {
    super({ sensitive: true, strict: true, ...options });
  }
} as typeof KoaRouter;
type Router = KoaRouter;

export default Router;
