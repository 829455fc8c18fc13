/**
 * The owner's member operations (issue #34 item 6) as a typed client, like the admin contract's
 * (shared/contract/client.ts createAdminClient): one function per operation of
 * shared/contract/admin/members.ts. They join the admin contract's table once the node serves them.
 */
import type { z } from 'zod';
import { memberOperations, type MemberOutputs } from '../../../shared/contract/admin-operations.ts';

export type MemberOperationName = keyof typeof memberOperations;
export type MemberAdmin = {
  [N in MemberOperationName]: (input: z.output<(typeof memberOperations)[N]['input']>) => Promise<MemberOutputs[N]>;
};

export function createMemberAdmin(transport: (name: MemberOperationName, input: Record<string, unknown>) => Promise<unknown>): MemberAdmin {
  const client = {} as Record<MemberOperationName, (input: Record<string, unknown>) => Promise<unknown>>;
  for (const name of Object.keys(memberOperations) as MemberOperationName[]) client[name] = (input = {}) => transport(name, input);
  return client as unknown as MemberAdmin;
}
