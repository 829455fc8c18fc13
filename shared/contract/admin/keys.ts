/**
 * This server's signing keys: backup, rotation, the next key.
 * Part of the admin contract (shared/contract/admin-operations.ts).
 */
import { z } from 'zod';

export const keyOperations = {
  backupIdentity: { method: 'GET', path: '/keys/backup', input: z.strictObject({}) },
  getKeys: { method: 'GET', path: '/keys', input: z.strictObject({}) },
  rotateKey: { method: 'POST', path: '/keys/rotate', input: z.strictObject({}) },
  announceNextKey: { method: 'POST', path: '/keys/announce', input: z.strictObject({}) },
} as const;

export interface KeyOutputs {
  backupIdentity: { identity: string };
  getKeys: {
    active_key: { key_id: string; public_key: string; valid_until: number };
    next_keys: Array<{ key_id: string; public_key: string }>;
    old_keys: Array<{ key_id: string; public_key: string; expired_at: number }>;
    /** Paracord reference peers: they pinned the active key once and are cut off by a rotation until their admins add us again. */
    reference_peers?: string[];
  };
  rotateKey: { key_id: string; public_key: string; previous_key_id: string; reference_peers_cut_off?: string[] };
  announceNextKey: { key_id: string; public_key: string };
}
