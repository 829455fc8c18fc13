/**
 * The desktop app's main process: thin glue between Electron and the node core.
 *
 * The node runs inside this main process (not a utilityProcess): the admin handlers are then
 * plain function calls for the IPC bridge, and there is one SQLite owner. The cost — a crash in
 * a native module takes the app down — is the same in a utilityProcess for the user (no node,
 * no app), and the tray shows the state either way. Decision recorded in docs/ARCHITECTURE.md.
 */
import { app, BrowserWindow, clipboard, dialog, ipcMain, Menu, nativeImage, net, Notification, protocol, session, shell, Tray } from 'electron';
import { existsSync } from 'node:fs';
import { join, normalize, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { NodeStatus } from '../../shared/contract/admin-operations.ts';
import { createNode, type ParacordNode } from '../core/node.ts';
import { DEFAULT_LISTEN, DEFAULT_LISTEN_IPV4 } from '../core/config.ts';
import { PACKAGE_ROOT } from '../core/version.ts';
import { APP_CSP, allowedPermission, isAllowedNavigation, mainWindowOptions, shouldOpenExternally } from './window-options.ts';
import { APP_ENTRY, APP_HOST, APP_SCHEME, appPathToFile } from './app-protocol.ts';
import { ADMIN_CHANNEL, NOTIFY_CHANNEL, createIpcRouter } from './ipc-router.ts';
import { linkFromArgv, parseAppLink } from './protocol-link.ts';
import { trayModel } from './tray-model.ts';
import type { TrayProblem, TrayProblemSource } from './tray-problem.ts';
import { safeStorageSealer } from './safe-storage-sealer.ts';
import { initialNotifyState, notificationsFor, waitingOf, type NotifyState } from './notifications-model.ts';

let startHidden = process.argv.includes('--hidden');
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  let node: ParacordNode | undefined;
  let window: BrowserWindow | undefined;
  let tray: Tray | undefined;
  let status: NodeStatus | null = null;
  /** What is wrong, for the tray (tray-problem.ts), by where it was met; a failed status request is cleared when the node answers again. */
  const problems: Partial<Record<TrayProblemSource, TrayProblem>> = {};
  let quitting = false;
  let pendingLink: string | undefined = linkFromArgv(process.argv);
  let notifyState: NotifyState | undefined;

  const rendererRoot = join(PACKAGE_ROOT, 'dist', 'renderer');
  const iconDir = join(PACKAGE_ROOT, 'build');

  app.setAsDefaultProtocolClient('paracord');

  /** The node started (or failed to) and the IPC handler is there: the window may be made. */
  let ready = false;

  function showWindow(): void {
    // Before then, a link or a second start waits: the window is made once ready (a window made
    // during the start had no IPC handler, and the start made a second one: a red-team review).
    if (!ready) return;
    if (!window || window.isDestroyed()) createWindow();
    window!.show();
    window!.focus();
  }

  function createWindow(): void {
    window = new BrowserWindow({ ...mainWindowOptions(join(import.meta.dirname, 'preload.cjs')), icon: join(iconDir, 'icon.png') });
    window.webContents.setWindowOpenHandler(({ url }) => {
      if (shouldOpenExternally(url)) void shell.openExternal(url);
      return { action: 'deny' };
    });
    window.webContents.on('will-navigate', (event, url) => {
      if (!isAllowedNavigation(url)) event.preventDefault();
    });
    window.on('close', (event) => {
      // Closing the window keeps the node running in the tray; Quit ends it.
      if (!quitting) {
        event.preventDefault();
        window?.hide();
      }
    });
    window.once('ready-to-show', () => {
      if (!startHidden || pendingLink) window?.show();
      if (pendingLink) openLink(pendingLink);
    });
    void window.loadURL(APP_ENTRY);
  }

  function openLink(url: string): void {
    if (!ready) {
      pendingLink = url;
      return;
    }
    pendingLink = undefined;
    const link = parseAppLink(url);
    if (link.kind !== 'peer-invite') {
      new Notification({ title: 'Paracord', body: `That link cannot be used: ${link.reason}` }).show();
      return;
    }
    showWindow();
    window?.webContents.send(NOTIFY_CHANNEL, { type: 'open-link', link: link.link, server_name: link.server_name });
  }

  /** New peers and long-failing peers, as desktop notifications (unless turned off in the tray). */
  async function checkNotifications(): Promise<void> {
    if (!node || !status || status.setup_required) return;
    const { peers } = await node.admin.listPeers({});
    if (!notifyState) {
      notifyState = initialNotifyState(peers);
      return;
    }
    const notes = notificationsFor(notifyState, peers, waitingOf(peers));
    if (notificationsOn() && Notification.isSupported()) for (const note of notes) new Notification(note).show();
  }

  const notificationsOn = () => node?.context.settings.get('desktop_notifications') !== '0';

  async function refreshTray(): Promise<void> {
    try {
      status = node ? await node.admin.getStatus({}) : null;
      delete problems.status;
    } catch (error) {
      status = null;
      problems.status = { source: 'status', raw: (error as Error).message };
    }
    void checkNotifications().catch(() => undefined);
    // Unread messages and mentions of the owner across rooms (issue #20), for the tooltip.
    const rooms = status && !status.setup_required ? await node!.admin.listRooms({}).then((r) => r.rooms, () => []) : [];
    const unread = rooms.reduce((t, r) => ({ unread: t.unread + (r.unread ?? 0), mentions: t.mentions + (r.mentions ?? 0) }), { unread: 0, mentions: 0 });
    // One line in the tray: a failed start says most, then a node that does not answer, then the keychain warning.
    const problem = problems.start ?? problems.status ?? problems.key_storage;
    const model = trayModel(status, { startAtLogin: app.getLoginItemSettings().openAtLogin, notifications: notificationsOn(), unread, ...(problem ? { problem } : {}) }, {
      openDashboard: showWindow,
      copyInviteLink: async () => clipboard.writeText((await node!.admin.createPeerInvite({})).link),
      setPaused: async (paused) => {
        await (paused ? node!.admin.pauseFederation({}) : node!.admin.resumeFederation({}));
      },
      setStartAtLogin: (enabled) => {
        app.setLoginItemSettings({ openAtLogin: enabled, args: ['--hidden'] });
        void refreshTray();
      },
      openLogsFolder: () => void shell.openPath(join(app.getPath('userData'), 'node', 'logs')),
      setNotifications: (enabled) => {
        node?.context.settings.set('desktop_notifications', enabled ? '1' : '0');
        void refreshTray();
      },
      quit: () => app.quit(),
    });
    const iconFile = join(iconDir, model.icon);
    if (!tray) tray = new Tray(existsSync(iconFile) ? iconFile : nativeImage.createEmpty());
    else tray.setImage(existsSync(iconFile) ? iconFile : nativeImage.createEmpty());
    tray.setToolTip(model.tooltip);
    // For the end-to-end test (Playwright's app.evaluate) and for debugging.
    (globalThis as { paracordTray?: { state: string; tooltip: string } }).paracordTray = { state: model.state, tooltip: model.tooltip };
    tray.setContextMenu(Menu.buildFromTemplate(model.menu));
  }

  app.on('second-instance', (_event, argv) => {
    const link = linkFromArgv(argv);
    if (link) openLink(link);
    else if (ready) showWindow();
    else startHidden = false; // shown once ready
  });
  app.on('open-url', (event, url) => {
    event.preventDefault();
    if (app.isReady()) openLink(url);
    else pendingLink = url;
  });
  app.on('before-quit', () => {
    quitting = true;
  });
  app.on('will-quit', (event) => {
    if (!node) return;
    event.preventDefault();
    const stopping = node;
    node = undefined;
    void stopping.stop().finally(() => app.exit(0));
  });
  app.on('window-all-closed', () => {
    // Stay in the tray.
  });

  void app.whenReady().then(async () => {
    const csp = { 'Content-Security-Policy': [APP_CSP] };
    session.defaultSession.setPermissionRequestHandler((_contents, permission, answer, details) => answer(allowedPermission(permission, details.requestingUrl)));
    session.defaultSession.setPermissionCheckHandler((_contents, permission, requestingOrigin) => allowedPermission(permission, requestingOrigin));
    protocol.handle(APP_SCHEME, async (request) => {
      const url = new URL(request.url);
      const file = url.host === APP_HOST ? appPathToFile(request.url, rendererRoot, join, normalize, sep) : null;
      if (!file) return new Response('not found', { status: 404 });
      const target = existsSync(file) ? file : join(rendererRoot, 'index.html');
      const response = await net.fetch(pathToFileURL(target).toString());
      return new Response(response.body, { status: response.status, headers: { ...Object.fromEntries(response.headers), ...Object.fromEntries(Object.entries(csp).map(([k, v]) => [k, v[0]!])) } });
    });

    const keys = await safeStorageSealer();
    if (keys.warning) problems.key_storage = { source: 'key_storage', raw: keys.warning };
    try {
      node = createNode({
        dataDir: join(app.getPath('userData'), 'node'),
        listen: process.env.PARACORD_LISTEN ?? DEFAULT_LISTEN,
        ...(process.env.PARACORD_LISTEN === undefined ? { listenFallback: DEFAULT_LISTEN_IPV4 } : {}),
        adminListen: process.env.PARACORD_ADMIN_LISTEN ?? '127.0.0.1:0',
        insecureHttp: process.env.PARACORD_INSECURE_HTTP === '1',
        logToStderr: !app.isPackaged,
        newIdentity: process.env.PARACORD_NEW_IDENTITY === '1',
        newDatabase: process.env.PARACORD_NEW_DATABASE === '1',
      }, {
        ...(keys.sealer ? { keySealer: keys.sealer } : {}), ...(keys.warning ? { keyStorageWarning: keys.warning } : {}),
        // The node stopped itself (its data-dir lock was taken away): say so and quit.
        onFatal: (error) => {
          dialog.showErrorBox('Paracord stopped', error.message);
          app.exit(1);
        },
      });
    } catch (error) {
      // The data directory is in use by another node, or its identity or database is lost
      // (core/startup-checks.ts): say so and stop, rather than start over silently.
      dialog.showErrorBox('Paracord cannot start', (error as Error).message);
      app.exit(1);
      return;
    }
    const router = createIpcRouter({ handlers: () => node!.admin, onError: (error) => node?.log.error({ event: 'ipc_failed', err: error }, 'IPC handler failed') });
    ipcMain.handle(ADMIN_CHANNEL, (event, name: unknown, input: unknown) => router(event.senderFrame, name, input));
    node.context.notifications.on('notification', (notification) => {
      window?.webContents.send(NOTIFY_CHANNEL, notification);
      if (notification.type === 'status' || notification.type === 'room') void refreshTray();
    });
    try {
      await node.start();
    } catch (error) {
      problems.start = { source: 'start', raw: (error as Error).message };
    }
    ready = true;
    createWindow();
    await refreshTray();
    setInterval(() => void refreshTray(), 30_000).unref();
  });
}
