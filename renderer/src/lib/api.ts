import { createAdminClient, httpTransport, AdminError, type AdminTransport } from '../../../shared/contract/client.ts';
import { errorSentence } from './errors.ts';

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

/** Told whether each call reached the node (live.svelte.ts keeps the "node not reachable" state). */
export const reachability = { ok: () => {}, failed: () => {} };

const watched = (transport: AdminTransport): AdminTransport => async (name, input) => {
  try {
    const value = await transport(name, input);
    reachability.ok();
    return value;
  } catch (error) {
    if (error instanceof AdminError) reachability.ok();
    else reachability.failed();
    throw error;
  }
};

/** The admin API, through whichever transport this window has: IPC in the desktop app, HTTP in a browser. */
export const api = createAdminClient(watched(desktop ? ipcTransport(desktop) : httpTransport()));

export { AdminError };

/** The error in words (lib/errors.ts); the raw cause is for the "details" disclosure (ErrorNote). */
export function errorText(error: unknown): string {
  return errorSentence(error);
}
