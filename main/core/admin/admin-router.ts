/**
 * The HTTP transport of the admin contract: one route per operation of
 * shared/contract/admin-operations.ts, its input (path params + query + JSON body) checked
 * by the operation's schema before the handler runs.
 */
import type { Context } from 'koa';
import Router from '../http/router.ts';
import { adminOperations, type AdminCallMeta, type AdminHandlers, type AdminOperationName } from '../../../shared/contract/admin-operations.ts';
import { badRequest } from '../errors.ts';
import { readRawBody, utf8Text } from '../http/read-body.ts';
import { formatZodError } from './format-zod-error.ts';

const ADMIN_BODY_LIMIT = 256 * 1024;

/**
 * An operation's input as the request carries it, not yet checked: the query (GET), the JSON
 * body (other methods) and the path parameters, merged in that order. Also the client API's (main/core/client/).
 */
export async function requestInput(ctx: Context & { params?: Record<string, string> }, method: string): Promise<Record<string, unknown>> {
  let body: unknown = {};
  if (method !== 'get') {
    const raw = await readRawBody(ctx, ADMIN_BODY_LIMIT);
    if (raw.length > 0) {
      // Valid UTF-8 or refused: bad bytes were replaced by U+FFFD, a passphrase among them (a review, 2026-12-01).
      const text = utf8Text(raw);
      try {
        body = JSON.parse(text);
      } catch (error) {
        throw badRequest('malformed_json', `request body is not valid JSON: ${(error as Error).message}`);
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw badRequest('invalid_input', 'request body must be a JSON object');
      }
    }
  }
  return { ...(method === 'get' ? ctx.query : {}), ...(body as object), ...ctx.params };
}

/** Checks an operation's input by its schema: the parsed value, or 400 invalid_input. */
export function checkInput(name: AdminOperationName, input: unknown): unknown {
  const parsed = adminOperations[name].input.safeParse(input);
  if (!parsed.success) throw badRequest('invalid_input', formatZodError(parsed.error));
  return parsed.data;
}

export function adminRouter(handlers: () => AdminHandlers): Router {
  const router = new Router();
  for (const name of Object.keys(adminOperations) as AdminOperationName[]) {
    const operation = adminOperations[name];
    const method = operation.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
    router[method](operation.path, async (ctx) => {
      const input = checkInput(name, await requestInput(ctx, method));
      const handler = handlers()[name] as (input: unknown, meta?: AdminCallMeta) => Promise<unknown>;
      ctx.body = await handler(input, { session_id: ctx.state.sessionId as string | undefined });
    });
  }
  return router;
}
