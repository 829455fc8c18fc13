/**
 * The part of undici the node uses — its `Agent`, its connector and its `request` API — without
 * the rest of its index (fetch, WebSocket, EventSource, caches, mocks, proxies) that
 * `import 'undici'` loads: 6 MB less RSS in a process with the node's other libraries loaded
 * (measured 2026-11-25, issue #36 goal 5). Same classes and the same request code as
 * `undici.request`: the URL is split into origin and path the way undici does it, and a call
 * without a dispatcher goes through one shared Agent (undici's would be its global one).
 * undici publishes no `exports` map; the three files are the ones its own index requires
 * (undici/index.js), checked by undici-request.test.ts against the installed version.
 */
import { createRequire } from 'node:module';
import type { Agent as UndiciAgent, Dispatcher, buildConnector as undiciBuildConnector } from 'undici';

const require = createRequire(import.meta.url);

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;
export const buildConnector = require('undici/lib/core/connect.js') as typeof undiciBuildConnector;
const requestOn = require('undici/lib/api/api-request.js') as (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

export type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & {
  method?: Dispatcher.HttpMethod;
  dispatcher?: Dispatcher;
};

let shared: UndiciAgent | undefined;

/** `undici.request(url, options)`: one request on `options.dispatcher` (or a shared Agent). */
export function request(url: string | URL, options: RequestOptions = {}): Promise<Dispatcher.ResponseData> {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  const { dispatcher, ...rest } = options;
  return requestOn.call(dispatcher ?? (shared ??= new Agent()), {
    ...rest,
    origin: parsed.origin,
    path: parsed.search ? `${parsed.pathname}${parsed.search}` : parsed.pathname,
    method: rest.method ?? (rest.body ? 'PUT' : 'GET'),
  });
}
