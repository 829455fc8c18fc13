import { createAdminClient, httpTransport, AdminError } from '../../../shared/contract/client.ts';

/** The admin API, through whichever transport this window has (HTTP when served by the node). */
export const api = createAdminClient(
  (window as unknown as { paracord?: { invoke: Parameters<typeof createAdminClient>[0] } }).paracord?.invoke ?? httpTransport(),
);

export { AdminError };

export function errorText(error: unknown): string {
  if (error instanceof AdminError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
