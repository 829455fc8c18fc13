/**
 * The HTTP transport of the admin contract: one route per operation of
 * shared/contract/admin-operations.ts, its input (path params + query + JSON body) checked
 * by the operation's schema before the handler runs.
 */
import Router from '../http/router.ts';
import { adminOperations, type AdminCallMeta, type AdminHandlers, type AdminOperationName } from '../../../shared/contract/admin-operations.ts';
import { badRequest } from '../errors.ts';
import { readRawBody } from '../http/read-body.ts';
import { formatZodError } from './format-zod-error.ts';

const ADMIN_BODY_LIMIT = 256 * 1024;

export function adminRouter(handlers: () => AdminHandlers): Router {
  const router = new Router();
  for (const name of Object.keys(adminOperations) as AdminOperationName[]) {
    const operation = adminOperations[name];
    const method = operation.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
    router[method](operation.path, async (ctx) => {
      let body: unknown = {};
      if (method !== 'get') {
        const raw = await readRawBody(ctx, ADMIN_BODY_LIMIT);
        if (raw.length > 0) {
          try {
            body = JSON.parse(raw.toString('utf8'));
          } catch (error) {
            throw badRequest('malformed_json', `request body is not valid JSON: ${(error as Error).message}`);
          }
          if (typeof body !== 'object' || body === null || Array.isArray(body)) {
            throw badRequest('invalid_input', 'request body must be a JSON object');
          }
        }
      }
      const input = { ...(method === 'get' ? ctx.query : {}), ...(body as object), ...ctx.params };
      const parsed = operation.input.safeParse(input);
      if (!parsed.success) throw badRequest('invalid_input', formatZodError(parsed.error));
      const handler = handlers()[name] as (input: unknown, meta?: AdminCallMeta) => Promise<unknown>;
      ctx.body = await handler(parsed.data, { session_id: ctx.state.sessionId as string | undefined });
    });
  }
  return router;
}
