import { join, normalize, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appPathToFile, isAppUrl } from './app-protocol.ts';
import { APP_CSP, allowedPermission, isAllowedNavigation, mainWindowOptions, shouldOpenExternally } from './window-options.ts';

describe('window hardening', () => {
  it('grants the app\'s page notifications and clipboard writes only; other pages nothing', () => {
    expect(allowedPermission('notifications', 'app://paracord/index.html')).toBe(true);
    expect(allowedPermission('clipboard-sanitized-write', 'app://paracord/#/peers')).toBe(true);
    for (const permission of ['media', 'geolocation', 'clipboard-read', 'openExternal', 'fullscreen', 'midi', 'hid', 'serial', 'usb']) expect(allowedPermission(permission, 'app://paracord/index.html'), permission).toBe(false);
    expect(allowedPermission('notifications', 'https://evil.example/')).toBe(false);
    // The check handler names an origin, not a page.
    expect(allowedPermission('notifications', 'app://paracord')).toBe(true);
  });

  it('isolates the page from Node and Electron', () => {
    const options = mainWindowOptions('/app/preload.cjs');
    expect(options.webPreferences).toMatchObject({
      preload: '/app/preload.cjs', contextIsolation: true, sandbox: true, nodeIntegration: false,
      nodeIntegrationInWorker: false, nodeIntegrationInSubFrames: false, webviewTag: false, webSecurity: true,
      allowRunningInsecureContent: false,
    });
    expect(APP_CSP).toContain("script-src 'self'");
    expect(APP_CSP).toContain("frame-ancestors 'none'");
  });

  it('navigates only within the app, and opens only http(s) links outside', () => {
    expect(isAllowedNavigation('app://paracord/index.html#/rooms')).toBe(true);
    for (const url of ['https://evil.example/', 'file:///etc/passwd', 'app://other/', 'javascript:alert(1)']) expect(isAllowedNavigation(url)).toBe(false);
    expect(shouldOpenExternally('https://example.org/help')).toBe(true);
    expect(shouldOpenExternally('http://192.168.1.2:7448/')).toBe(true);
    for (const url of ['file:///etc/passwd', 'smb://host/share', 'javascript:alert(1)', 'paracord://peer/x', 'not a url']) expect(shouldOpenExternally(url)).toBe(false);
  });

  it('serves app:// paths from the renderer folder only', () => {
    const root = normalize('/opt/paracord/dist/renderer');
    expect(appPathToFile('app://paracord/', root, join, normalize, sep)).toBe(join(root, 'index.html'));
    expect(appPathToFile('app://paracord/assets/index.js', root, join, normalize, sep)).toBe(join(root, 'assets/index.js'));
    expect(appPathToFile('app://paracord/../../etc/passwd', root, join, normalize, sep)).toBe(join(root, 'etc/passwd'));
    // The URL parser resolves plain and %2e dot segments inside the root; encoded slashes would escape.
    expect(appPathToFile('app://paracord/%2e%2e/%2e%2e/etc/passwd', root, join, normalize, sep)).toBe(join(root, 'etc/passwd'));
    expect(appPathToFile('app://paracord/%2F..%2F..%2Fetc%2Fpasswd', root, join, normalize, sep)).toBeNull();
    expect(isAppUrl('app://paracord/index.html')).toBe(true);
    expect(isAppUrl('app://paracord.evil/index.html')).toBe(false);
  });
});
