/**
 * The federation policy: who may federate by default, rate limits, auto-quarantine.
 * Part of the admin contract (shared/contract/admin-operations.ts).
 */
import { z } from 'zod';
import { rateLimitSchema } from './schemas.ts';

export const defaultPolicySchema = z.enum(['allowlist', 'open']);

export const policyOperations = {
  getPolicy: { method: 'GET', path: '/policy', input: z.strictObject({}) },
  setPolicy: {
    method: 'PUT',
    path: '/policy',
    input: z
      .strictObject({
        default: defaultPolicySchema.optional(),
        rate_limit: rateLimitSchema.optional(),
        auto_quarantine: z
          .strictObject({
            signature_failures: z.number().int().min(0).max(1_000_000),
            rate_limited: z.number().int().min(0).max(100_000_000),
            window_seconds: z.number().int().min(1).max(7 * 24 * 3600),
          })
          .optional(),
        /** Whether members (issue #34) may create rooms; the owner always may. */
        members_may_create_rooms: z.boolean().optional(),
      })
      .refine((p) => Object.keys(p).length > 0, 'give at least one of default, rate_limit, auto_quarantine, members_may_create_rooms'),
  },
} as const;

export interface PolicyOutputs {
  getPolicy: Policy;
  setPolicy: Policy;
}

export interface Policy {
  default: z.infer<typeof defaultPolicySchema>;
  rate_limit: { per_second: number; burst: number };
  auto_quarantine: { signature_failures: number; rate_limited: number; window_seconds: number };
  /** Whether members (issue #34) may create rooms (default true). */
  members_may_create_rooms: boolean;
}
