/**
 * The renderer's admin client, generated from the contract: one typed function per operation.
 * It never knows its transport — HTTP here (served by the node), Electron IPC in the desktop app.
 */
import { ADMIN_API_PREFIX, adminOperations, type AdminHandlers, type AdminOperationName } from './admin-operations.ts';

export type AdminTransport = (name: AdminOperationName, input: Record<string, unknown>) => Promise<unknown>;

export class AdminError extends Error {
  readonly status: number;
  readonly code: string;
  /**
   * The answer's fields besides `error` and `message` (main/core/errors.ts HttpError `details`):
   * a `peer_unreachable`'s `reason` and `server` (shared/contract/unreachable.ts), a `room_depth`.
   * Empty when the node sent none (an older node).
   */
  readonly details: Readonly<Record<string, unknown>>;
  constructor(status: number, code: string, message: string, details: Readonly<Record<string, unknown>> = {}) {
    super(message);
    this.name = 'AdminError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** An error answer's other fields (AdminError `details`): all but `error` and `message`, and the frame's own `id`, `ok` and `status`. */
export function errorDetails(answer: unknown): Record<string, unknown> {
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) return {};
  const { error: _error, message: _message, id: _id, ok: _ok, status: _status, ...rest } = answer as Record<string, unknown>;
  return rest;
}

export function createAdminClient(transport: AdminTransport): AdminHandlers {
  const client = {} as Record<AdminOperationName, (input: Record<string, unknown>) => Promise<unknown>>;
  for (const name of Object.keys(adminOperations) as AdminOperationName[]) {
    client[name] = (input = {}) => transport(name, input);
  }
  return client as unknown as AdminHandlers;
}

/** An operation as the HTTP transport needs it: its method and path (under the prefix). */
export interface HttpOperation {
  method: string;
  path: string;
}

export interface HttpTransportOptions<N extends string> {
  baseUrl?: string;
  /** The API's path prefix: the admin API's by default; a member's browser uses the client API's (issue #34). */
  prefix?: string;
  /** Whether the browser sends its cookies (fetch's default, 'same-origin', unless set). */
  credentials?: RequestInit['credentials'];
  /** The operations by name: the admin contract's by default. */
  operations?: Readonly<Record<N, HttpOperation>>;
  headers?: () => Record<string, string>;
  fetch?: typeof fetch;
}

/** HTTP transport: path parameters into the path, the rest as query (GET) or JSON body. */
export function httpTransport<N extends string = AdminOperationName>(options: HttpTransportOptions<N> = {}): (name: N, input: Record<string, unknown>) => Promise<unknown> {
  const doFetch = options.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args));
  const operations = (options.operations ?? adminOperations) as Readonly<Record<N, HttpOperation>>;
  const prefix = options.prefix ?? ADMIN_API_PREFIX;
  return async (name, input) => {
    const operation = operations[name];
    const rest: Record<string, unknown> = { ...input };
    const path = operation.path.replace(/:([a-z_]+)/g, (_, param: string) => {
      const value = rest[param];
      delete rest[param];
      return encodeURIComponent(String(value));
    });
    let url = `${options.baseUrl ?? ''}${prefix}${path}`;
    const init: RequestInit = { method: operation.method, headers: { 'x-paracord-request': '1', ...(options.headers?.() ?? {}) } };
    if (options.credentials) init.credentials = options.credentials;
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
    if (!response.ok) throw new AdminError(response.status, body.error ?? 'error', body.message ?? `HTTP ${response.status}`, errorDetails(body));
    return body;
  };
}
