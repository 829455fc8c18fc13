/**
 * The admin-contract operations on the client API over HTTP (issue #34): every operation at its
 * same path, run as the signed-in member through member-access.ts, which decides what a member may
 * do (an owner-only operation answers 403 owner_only before its input is read), under the members'
 * rate limits (member-limits.ts).
 */
import Router from '../http/router.ts';
import { adminOperations, type AdminOperationName } from '../../../shared/contract/admin-operations.ts';
import { checkInput, requestInput } from '../admin/admin-router.ts';
import { callAsMember, checkMemberMay, type MemberAccessDeps } from './member-access.ts';
import { signedIn } from './member-http.ts';
import { memberCost, takeMemberRequest, DEFAULT_MEMBER_REQUEST_LIMITS } from './member-limits.ts';

export type OperationDeps = MemberAccessDeps;

export function operationRoutes(deps: OperationDeps): Router {
  const router = new Router();
  for (const name of Object.keys(adminOperations) as AdminOperationName[]) {
    const operation = adminOperations[name];
    const method = operation.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
    router[method](operation.path, async (ctx) => {
      const member = signedIn(ctx);
      checkMemberMay(name);
      const input = checkInput(name, await requestInput(ctx, method));
      // A batch of messages weighs one per message (the request took the first token already).
      const more = memberCost(name, input) - 1;
      if (more > 0 && deps.limiter) takeMemberRequest(deps.limiter, deps.memberLimits ?? DEFAULT_MEMBER_REQUEST_LIMITS, ctx.ip, member.user_id, more);
      ctx.body = await callAsMember(deps, member.user_id, name, input);
    });
  }
  return router;
}
