/**
 * The main window's hardening (docs/ARCHITECTURE.md §The desktop app), as data so it can be asserted in tests:
 * context isolation, sandbox, no Node in the page, no webview, and the rules for navigation,
 * new windows and external links.
 */
import { isAppUrl } from './app-protocol.ts';

export function mainWindowOptions(preloadPath: string) {
  return {
    width: 1200,
    height: 820,
    minWidth: 720,
    minHeight: 520,
    show: false,
    title: 'Paracord',
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webviewTag: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      spellcheck: true,
    },
  } as const;
}

/** The window may only ever show our own pages. */
export function isAllowedNavigation(url: string): boolean {
  return isAppUrl(url);
}

/** Links the user clicked that may open in the system browser: http(s) only. */
export function shouldOpenExternally(url: string): boolean {
  try {
    const protocol = new URL(url).protocol;
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

/** The CSP of the app:// pages (the same policy the node's HTTP UI sends). */
export const APP_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/**
 * The permissions the app's page may have: showing notifications (mentions) and writing to the
 * clipboard (Copy buttons). Electron grants every other request by default (camera, microphone,
 * location, …); none is used, so none is granted (a red-team review, 2026-11-30), and a page that
 * is not the app's own gets none.
 */
const PAGE_PERMISSIONS: ReadonlySet<string> = new Set(['notifications', 'clipboard-sanitized-write']);
export function allowedPermission(permission: string, requestingUrl: string): boolean {
  return PAGE_PERMISSIONS.has(permission) && isAllowedNavigation(requestingUrl);
}
