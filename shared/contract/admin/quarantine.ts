/**
 * Events held from quarantined peers, for the owner to release or purge.
 * Part of the admin contract (shared/contract/admin-operations.ts).
 */
import { z } from 'zod';
import { serverNameSchema } from './schemas.ts';

export const quarantineOperations = {
  listQuarantine: { method: 'GET', path: '/quarantine', input: z.strictObject({ server_name: serverNameSchema.optional() }) },
  releaseQuarantine: { method: 'POST', path: '/quarantine/:server_name/release', input: z.strictObject({ server_name: serverNameSchema }) },
  purgeQuarantine: { method: 'POST', path: '/quarantine/:server_name/purge', input: z.strictObject({ server_name: serverNameSchema }) },
} as const;

export interface QuarantineOutputs {
  listQuarantine: { held: HeldEvent[]; counts: Record<string, number> };
  /** `kept`: events still held, because one could not be stored now (it and the later ones, in order); a later release takes them. */
  releaseQuarantine: { released: number; rejected: Array<{ event_id: string; error: string }>; kept: number };
  purgeQuarantine: { purged: number };
}

export interface HeldEvent {
  id: number;
  origin: string;
  received_from: string;
  event_id: string;
  event_type: string;
  room_id: string;
  sender: string;
  received_at: number;
  /** Message text, when the event has one, for the review screen. */
  body?: string;
  /** A reaction's key, for the review screen. */
  key?: string;
  /** The user a membership or role event is about (its state_key), for the review screen. */
  subject?: string;
}
