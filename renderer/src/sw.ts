/**
 * The member app's service worker (issue #34 item 5), served as /app/sw.js: keeps the app shell
 * so the app opens from the home screen and offline, and nothing else — the API's answers
 * (messages, rooms, the session) never enter a cache (lib/shell-cache.ts decides).
 */
import { assetsIn, shellAction, shellKey } from './lib/shell-cache.ts';

// The DOM types the renderer is built with do not describe a worker: what this one uses.
interface FetchEventLike extends Event {
  request: Request;
  respondWith(answer: Promise<Response>): void;
  waitUntil(work: Promise<unknown>): void;
}
interface NotificationEventLike extends Event {
  notification: { close(): void; data?: { hash?: unknown } };
  waitUntil(work: Promise<unknown>): void;
}
interface WindowClientLike {
  focus(): Promise<unknown>;
  navigate(url: string): Promise<unknown>;
}
interface WorkerScope {
  registration: { scope: string };
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void>; matchAll(options: { type: 'window' }): Promise<WindowClientLike[]>; openWindow(url: string): Promise<unknown> };
  addEventListener(type: 'install' | 'activate', listener: (event: FetchEventLike) => void): void;
  addEventListener(type: 'fetch', listener: (event: FetchEventLike) => void): void;
  addEventListener(type: 'notificationclick', listener: (event: NotificationEventLike) => void): void;
}
const worker = self as unknown as WorkerScope;
const CACHE = 'paracord-app-shell';
const scope = () => worker.registration.scope;

worker.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.add(new URL('index.html', scope()).href)).catch(() => undefined).then(() => worker.skipWaiting()));
});
worker.addEventListener('activate', (event) => {
  event.waitUntil(worker.clients.claim());
});

/** Keeps the newest index.html, and of the built assets only those it loads (older builds' go). */
async function keepShell(key: string, response: Response): Promise<void> {
  const cache = await caches.open(CACHE);
  await cache.put(key, response.clone());
  if (!key.endsWith('/index.html')) return;
  const wanted = assetsIn(await response.text(), scope());
  for (const request of await cache.keys()) if (request.url.includes('/assets/') && !wanted.has(request.url)) await cache.delete(request);
}

async function networkFirst(request: Request, key: string): Promise<Response> {
  try {
    const response = await fetch(request);
    if (response.ok && response.type === 'basic') await keepShell(key, response.clone());
    return response;
  } catch (error) {
    const kept = await caches.match(key);
    if (kept) return kept;
    throw error;
  }
}

async function cacheFirst(request: Request): Promise<Response> {
  const kept = await caches.match(request);
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok && response.type === 'basic') {
    const cache = await caches.open(CACHE);
    await cache.put(request, response.clone());
  }
  return response;
}

worker.addEventListener('fetch', (event) => {
  const { request } = event;
  const action = shellAction(request, scope());
  if (action === 'pass') return;
  event.respondWith(action === 'asset' ? cacheFirst(request) : networkFirst(request, shellKey(request.url, scope(), request.mode === 'navigate')));
});

// A mention's notification shown by this worker (phones, lib/attention.ts): opens the room in the app.
worker.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const hash = typeof event.notification.data?.hash === 'string' && event.notification.data.hash.startsWith('#/') ? event.notification.data.hash : '';
  const url = new URL(hash, scope()).href;
  event.waitUntil(
    worker.clients.matchAll({ type: 'window' }).then(async (open) => {
      const client = open[0];
      if (!client) return worker.clients.openWindow(url);
      await client.focus();
      return client.navigate(url);
    }),
  );
});
