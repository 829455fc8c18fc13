/**
 * The local users of this server.
 * Part of the admin contract (shared/contract/admin-operations.ts).
 */
import { z } from 'zod';
import { LOCALPART } from '../../identifiers.ts';

export const userOperations = {
  listUsers: { method: 'GET', path: '/users', input: z.strictObject({}) },
  createUser: {
    method: 'POST',
    path: '/users',
    input: z.strictObject({ localpart: z.string().regex(LOCALPART, 'must be 1-64 of a-z 0-9 . _ = - /') }),
  },
} as const;

export interface UserOutputs {
  listUsers: { users: Array<{ user_id: string; created_at: number }> };
  createUser: { user_id: string };
}
