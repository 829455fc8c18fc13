/**
 * The window's origin: `app://paracord/…` serves the built renderer (dist/renderer). A custom,
 * privileged scheme gives the UI a real origin (absolute asset paths, a CSP) without a local
 * web server, and lets the IPC router recognise its own pages.
 */
export const APP_SCHEME = 'app';
export const APP_HOST = 'paracord';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY = `${APP_ORIGIN}/index.html`;

/** Whether a URL is one of our own pages (IPC sender check, navigation check). */
export function isAppUrl(url: string | undefined | null): boolean {
  if (!url) return false;
  try {
    const parsed = new URL(url);
    return parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST;
  } catch {
    return false;
  }
}

/** Maps an app:// request path to a file under the renderer folder; null when it would leave it. */
export function appPathToFile(url: string, root: string, join: (...parts: string[]) => string, normalize: (p: string) => string, sep: string): string | null {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url).pathname);
  } catch {
    return null;
  }
  const file = normalize(join(root, pathname === '/' ? 'index.html' : pathname));
  return file.startsWith(root.endsWith(sep) ? root : root + sep) ? file : null;
}
