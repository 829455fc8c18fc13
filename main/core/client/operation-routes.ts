/**
 * The admin-contract operations a member may use (issue #34), served on the client API at their
 * same paths — the one place that decides what a member may do (docs/SECURITY.md "Members"):
 *  - an operation without the contract's `member` flag answers 403 owner_only;
 *  - the input field the flag names (user_id, inviter or actor) is the session's user: a request
 *    naming another answers 403 not_yours;
 *  - the room of the input's `room_id` must be one the member is in (or invited to, where the flag
 *    says 'seen'), else 404 room_not_found, the same answer as a room that does not exist;
 *  - creating rooms follows the owner's `members_may_create_rooms`;
 *  - a member lists only its own rooms (joined or invited to).
 * Past these checks the operation runs exactly as on the admin API, as that user; the rooms' own
 * rules (rooms/authorize.ts) then decide, e.g. who may moderate.
 */
import Router from '../http/router.ts';
import { adminOperations, memberUse, type AdminCallMeta, type AdminHandlers, type AdminOperationName, type AdminOutputs } from '../../../shared/contract/admin-operations.ts';
import { forbidden, notFound } from '../errors.ts';
import { checkInput, requestInput } from '../admin/admin-router.ts';
import { signedIn } from './member-http.ts';

export interface OperationDeps {
  handlers: () => AdminHandlers;
  /** The membership of a user in a room of this node (null: none, or no such room). */
  membership: (roomId: string, userId: string) => 'invite' | 'join' | 'leave' | null;
  mayCreateRooms: () => boolean;
}

export function operationRoutes(deps: OperationDeps): Router {
  const router = new Router();
  for (const name of Object.keys(adminOperations) as AdminOperationName[]) {
    const operation = adminOperations[name];
    const method = operation.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
    const use = memberUse(name);
    router[method](operation.path, async (ctx) => {
      const member = signedIn(ctx);
      if (!use) throw forbidden('owner_only', 'only the owner of this server may do that');
      const raw = await requestInput(ctx, method);
      if (use.acting) {
        const named = raw[use.acting];
        if (named !== undefined && named !== member.user_id) throw forbidden('not_yours', `you act as ${member.user_id} here; ${use.acting} may only name you`);
        raw[use.acting] = member.user_id;
      }
      const input = checkInput(name, raw) as { room_id?: unknown };
      if (typeof input.room_id === 'string' && use.room !== 'unchecked') {
        const membership = deps.membership(input.room_id, member.user_id);
        const allowed = membership === 'join' || (use.room === 'seen' && membership === 'invite');
        if (!allowed) throw notFound('room_not_found', `there is no room ${input.room_id} that you are in`);
      }
      if (name === 'createRoom' && !deps.mayCreateRooms()) throw forbidden('room_creation_off', 'the owner of this server does not let members create rooms');
      const handler = deps.handlers()[name] as (input: unknown, meta?: AdminCallMeta) => Promise<unknown>;
      const output = await handler(input, {});
      ctx.body = name === 'listRooms' ? ownRooms(output as AdminOutputs['listRooms']) : output;
    });
  }
  return router;
}

/** The rooms a member sees: those it is in or invited to (the node's other rooms are not its business). */
function ownRooms(output: AdminOutputs['listRooms']): AdminOutputs['listRooms'] {
  return { rooms: output.rooms.filter((r) => r.membership === 'join' || r.membership === 'invite') };
}
