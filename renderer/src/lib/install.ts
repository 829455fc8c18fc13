/**
 * The member app is installable on a phone's home screen (issue #34 item 5): its web app manifest,
 * linked only on a member's page (the owner's UI is no app to install), and the service worker
 * that keeps the app shell (sw.ts; never answers of the API), registered where browsers allow one.
 */
import { mayRegisterServiceWorker } from './mode.ts';

export function registerMemberShell(): void {
  const manifest = document.createElement('link');
  manifest.rel = 'manifest';
  manifest.href = 'manifest.webmanifest';
  document.head.append(manifest);
  const where = { isSecureContext: window.isSecureContext, hostname: location.hostname, hasServiceWorker: 'serviceWorker' in navigator };
  if (!mayRegisterServiceWorker('member', where)) return;
  // Relative to /app/: the worker's scope is the app, not the API beside it.
  navigator.serviceWorker.register('sw.js', { scope: './' }).catch(() => {
    // Not installable then; the app works the same.
  });
}
