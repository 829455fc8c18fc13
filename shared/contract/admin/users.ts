/**
 * The local users of this server.
 * Part of the admin contract (shared/contract/admin-operations.ts).
 */
import { z } from 'zod';
import { LOCALPART, isSafeDisplayName } from '../../identifiers.ts';

export const userOperations = {
  listUsers: { method: 'GET', path: '/users', input: z.strictObject({}) },
  createUser: {
    method: 'POST',
    path: '/users',
    input: z.strictObject({ localpart: z.string().regex(LOCALPART, 'must be 1-64 of a-z 0-9 . _ = - /') }),
  },
  /** The owner's display name, which the owner's room joins carry (docs/PROTOCOL.md "Display names"). */
  getOwnerProfile: { method: 'GET', path: '/owner/profile', input: z.strictObject({}) },
  /** Sets it ('' or null: none). Rooms show it from the owner's next join on (a join carries the name it was made with). */
  setOwnerProfile: {
    method: 'PUT',
    path: '/owner/profile',
    input: z.strictObject({ display_name: z.string().trim().max(100).refine(isSafeDisplayName, 'must not contain control, bidi or invisible characters').nullable() }),
  },
} as const;

export interface OwnerProfile {
  user_id: string;
  display_name: string | null;
}

export interface UserOutputs {
  listUsers: { users: Array<{ user_id: string; created_at: number }> };
  createUser: { user_id: string };
  getOwnerProfile: OwnerProfile;
  setOwnerProfile: OwnerProfile;
}
