import { createAdminClient, httpTransport, AdminError, type AdminTransport } from '../../../shared/contract/client.ts';

type IpcResult = { ok: true; value: unknown } | { ok: false; status: number; error: string; message: string };
interface DesktopBridge {
  invoke(name: string, input: unknown): Promise<IpcResult>;
  onNotification(listener: (notification: { type: string; [key: string]: unknown }) => void): () => void;
}

/** In the desktop app the preload script provides this bridge; in a browser it is absent. */
export const desktop = (window as unknown as { paracord?: DesktopBridge }).paracord;

const ipcTransport = (bridge: DesktopBridge): AdminTransport => async (name, input) => {
  const result = await bridge.invoke(name, input);
  if (!result.ok) throw new AdminError(result.status, result.error, result.message);
  return result.value;
};

/** The admin API, through whichever transport this window has: IPC in the desktop app, HTTP in a browser. */
export const api = createAdminClient(desktop ? ipcTransport(desktop) : httpTransport());

export { AdminError };

export function errorText(error: unknown): string {
  if (error instanceof AdminError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
