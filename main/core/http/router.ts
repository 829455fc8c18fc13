/**
 * @koa/router, loaded through require: its ES module build does `import http from "http"`,
 * and Node's ES module facade of node:http reads every export, including the lazy WebSocket
 * getter, which loads Node's bundled undici — about 10 MB of memory for nothing (issue #6,
 * idle footprint). The CommonJS build requires http, which does not. Same class, same types.
 */
import { createRequire } from 'node:module';
import type KoaRouter from '@koa/router';

const Router = createRequire(import.meta.url)('@koa/router') as typeof KoaRouter;
type Router = KoaRouter;

export default Router;
