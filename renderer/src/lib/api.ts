import { ADMIN_STREAM_PATH } from '../../../shared/contract/admin-operations.ts';
import { createAdminClient, httpTransport, AdminError, type AdminTransport } from '../../../shared/contract/client.ts';
import { ConnectionLost, streamTransport } from '../../../shared/contract/stream-transport.ts';
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
    // The stream closed under the call: that alone says nothing of the node (the next call will).
    else if (!(error instanceof ConnectionLost)) reachability.failed();
    throw error;
  }
};

/**
 * In a browser: the admin stream (one WebSocket for every call, issue #17), with HTTP whenever the
 * stream is not open (shared/contract/stream-transport.ts).
 */
function browserTransport(): AdminTransport {
  if (typeof WebSocket === 'undefined') return httpTransport();
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${ADMIN_STREAM_PATH}`;
  return streamTransport({ url, fallback: httpTransport() }).call;
}

/** The admin API, through whichever transport this window has: IPC in the desktop app, the stream or HTTP in a browser. */
export const api = createAdminClient(watched(desktop ? ipcTransport(desktop) : browserTransport()));

export { AdminError };

/** The error in words (lib/errors.ts); the raw cause is for the "details" disclosure (ErrorNote). */
export function errorText(error: unknown): string {
  return errorSentence(error);
}
