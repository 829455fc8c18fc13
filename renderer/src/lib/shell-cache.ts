/**
 * What the member app's service worker (sw.ts) does with each request (issue #34 item 5): it keeps
 * the app shell only — index.html, the built assets, the manifest and icon — so the app opens from
 * the home screen; every request to the API (messages, rooms, the session) goes to the network
 * untouched, never into a cache. Pure functions: shell-cache.test.ts.
 */
export type ShellAction =
  /** index.html (any page of the app), the manifest, the icons: the network first, the kept copy when offline. */
  | 'shell'
  /** A built asset (its name carries its content's hash): the kept copy first. */
  | 'asset'
  /** Not the worker's business: the browser fetches it as if there were no worker. */
  | 'pass';

const SHELL_FILES = new Set(['', 'index.html', 'manifest.webmanifest', 'icon.svg', 'icon-512.png']);

export function shellAction(request: { method: string; url: string; mode?: string }, scope: string): ShellAction {
  if (request.method !== 'GET') return 'pass';
  let url: URL;
  let base: URL;
  try {
    url = new URL(request.url);
    base = new URL(scope);
  } catch {
    return 'pass';
  }
  if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) return 'pass';
  if (url.pathname.includes('/_paracord/')) return 'pass';
  const rest = url.pathname.slice(base.pathname.length);
  if (request.mode === 'navigate') return 'shell';
  if (SHELL_FILES.has(rest)) return 'shell';
  if (/^assets\/[^/]+$/.test(rest)) return 'asset';
  return 'pass';
}

/** The cache key of a shell request: every page of the app is index.html (the app routes itself by its hash). */
export function shellKey(url: string, scope: string, navigate: boolean): string {
  if (navigate) return new URL('index.html', scope).href;
  const plain = new URL(url);
  plain.search = '';
  plain.hash = '';
  return plain.pathname === new URL(scope).pathname ? new URL('index.html', scope).href : plain.href;
}

/** The assets an index.html loads (its scripts, styles, preloads): what the cache keeps of the built assets. */
export function assetsIn(indexHtml: string, scope: string): Set<string> {
  const urls = new Set<string>();
  for (const match of indexHtml.matchAll(/(?:src|href)="([^"]*assets\/[^"]+)"/g)) urls.add(new URL(match[1]!, scope).href);
  return urls;
}
