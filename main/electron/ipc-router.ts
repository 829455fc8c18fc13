/**
 * The IPC transport of the admin contract: the same operations, schemas and handlers as the
 * HTTP admin API. Every message's sender is checked (only our app:// pages), every input is
 * schema-checked, and errors come back as data `{status, error, message}` with the error's other
 * fields beside them (a `peer_unreachable`'s `reason` and `server`), as over HTTP (errors do not
 * cross IPC intact).
 */
import { adminOperations, type AdminHandlers, type AdminOperationName } from '../../shared/contract/admin-operations.ts';
import { formatZodError } from '../core/admin/format-zod-error.ts';
import { HttpError } from '../core/errors.ts';
import { errorAnswer } from '../core/http/middleware/error-handler.ts';
import { isAppUrl } from './app-protocol.ts';

export const ADMIN_CHANNEL = 'paracord:admin';
export const NOTIFY_CHANNEL = 'paracord:notify';

export type IpcResult = { ok: true; value: unknown } | { ok: false; status: number; error: string; message: string; [field: string]: unknown };

export interface IpcSender {
  /** The URL of the frame that sent the message (event.senderFrame.url). */
  url?: string | null;
}

export function createIpcRouter(options: { handlers: () => AdminHandlers; isTrustedSender?: (sender: IpcSender | null | undefined) => boolean; onError?: (error: unknown) => void }) {
  const trusted = options.isTrustedSender ?? ((sender) => isAppUrl(sender?.url));
  return async (sender: IpcSender | null | undefined, name: unknown, input: unknown): Promise<IpcResult> => {
    if (!trusted(sender)) return { ok: false, status: 403, error: 'untrusted_sender', message: 'this page may not use the admin bridge' };
    if (typeof name !== 'string' || !Object.hasOwn(adminOperations, name)) {
      return { ok: false, status: 404, error: 'unknown_operation', message: `no admin operation ${String(name).slice(0, 64)}` };
    }
    const operation = adminOperations[name as AdminOperationName];
    const parsed = operation.input.safeParse(input ?? {});
    if (!parsed.success) return { ok: false, status: 400, error: 'invalid_input', message: formatZodError(parsed.error) };
    try {
      const handler = options.handlers()[name as AdminOperationName] as (input: unknown) => Promise<unknown>;
      return { ok: true, value: await handler(parsed.data) };
    } catch (error) {
      // As over HTTP and the admin stream (errorAnswer): a message that may carry a peer's text is cleaned and cut.
      if (error instanceof HttpError) {
        const { status, body } = errorAnswer(error);
        return { ...body, ok: false, status };
      }
      options.onError?.(error);
      return { ok: false, status: 500, error: 'internal_error', message: 'the node failed to handle this request; see its log' };
    }
  };
}
