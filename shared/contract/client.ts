/**
 * The renderer's admin client, generated from the contract: one typed function per operation.
 * It never knows its transport — HTTP here (served by the node), Electron IPC in the desktop app.
 */
import { ADMIN_API_PREFIX, adminOperations, type AdminHandlers, type AdminOperationName } from './admin-operations.ts';

export type AdminTransport = (name: AdminOperationName, input: Record<string, unknown>) => Promise<unknown>;

export class AdminError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'AdminError';
    this.status = status;
    this.code = code;
  }
}

export function createAdminClient(transport: AdminTransport): AdminHandlers {
  const client = {} as Record<AdminOperationName, (input: Record<string, unknown>) => Promise<unknown>>;
  for (const name of Object.keys(adminOperations) as AdminOperationName[]) {
    client[name] = (input = {}) => transport(name, input);
  }
  return client as unknown as AdminHandlers;
}

/** HTTP transport: path parameters into the path, the rest as query (GET) or JSON body. */
export function httpTransport(options: { baseUrl?: string; headers?: () => Record<string, string>; fetch?: typeof fetch } = {}): AdminTransport {
  const doFetch = options.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args));
  return async (name, input) => {
    const operation = adminOperations[name];
    const rest: Record<string, unknown> = { ...input };
    const path = operation.path.replace(/:([a-z_]+)/g, (_, param: string) => {
      const value = rest[param];
      delete rest[param];
      return encodeURIComponent(String(value));
    });
    let url = `${options.baseUrl ?? ''}${ADMIN_API_PREFIX}${path}`;
    const init: RequestInit = { method: operation.method, headers: { 'x-paracord-request': '1', ...(options.headers?.() ?? {}) } };
    if (operation.method === 'GET') {
      const query = new URLSearchParams();
      for (const [key, value] of Object.entries(rest)) if (value !== undefined) query.set(key, String(value));
      if ([...query].length > 0) url += `?${query}`;
    } else if (Object.keys(rest).length > 0) {
      init.body = JSON.stringify(rest);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    const response = await doFetch(url, init);
    const body = (await response.json().catch(() => ({}))) as { error?: string; message?: string };
    if (!response.ok) throw new AdminError(response.status, body.error ?? 'error', body.message ?? `HTTP ${response.status}`);
    return body;
  };
}
