/**
 * The bridge the renderer sees as `window.paracord` (context-isolated, sandboxed): invoke an
 * admin operation, and listen for live notifications. Nothing else of Electron or Node leaks.
 * CommonJS because sandboxed preload scripts cannot be ES modules.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { contextBridge, ipcRenderer } = require('electron') as typeof import('electron');

const ADMIN_CHANNEL = 'paracord:admin';
const NOTIFY_CHANNEL = 'paracord:notify';

contextBridge.exposeInMainWorld('paracord', {
  invoke: (name: string, input: unknown) => ipcRenderer.invoke(ADMIN_CHANNEL, name, input),
  onNotification: (listener: (notification: unknown) => void) => {
    const wrapped = (_event: unknown, notification: unknown) => listener(notification);
    ipcRenderer.on(NOTIFY_CHANNEL, wrapped);
    return () => ipcRenderer.off(NOTIFY_CHANNEL, wrapped);
  },
});
