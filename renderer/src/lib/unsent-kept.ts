/**
 * A signed-in user's unsent messages as this tab keeps them across a reload (sessionStorage, one
 * key per user: another account signed in on the same page never gets them). Each keeps its client
 * txn_id, which the node remembers a day (`CLIENT_TXN_RETENTION_MS`, main/core/rooms/client-txns.ts):
 * a message written longer ago than that is never sent again by itself (a copy could be stored if
 * an earlier try was). Tested in unsent-kept.test.ts.
 */
import { clearPrefixed, type DraftStorage } from './drafts.ts';

export interface KeptUnsent {
  room: string;
  txn: string;
  body: string;
  /** When it was first sent (ms): the node's memory of its txn_id starts no earlier. */
  createdAt: number;
  /** A try may have been stored (the connection closed under it, or the page went while it was sent). */
  maybeStored: boolean;
  /** The room's box still held its text when the page went (a member's box is kept, drafts.ts). */
  keptInBox?: boolean;
}

const PREFIX = 'paracord.unsent:';
/** An hour short of the node's day: the node counts from when it stored it, never earlier than the first try. */
export const RESEND_WITHIN_MS = 23 * 3600_000;

export const tooOldToResend = (createdAt: number, now: number): boolean => now - createdAt >= RESEND_WITHIN_MS;

export function saveKept(storage: DraftStorage | undefined, userId: string, items: KeptUnsent[]): void {
  try {
    if (items.length > 0) storage?.setItem(PREFIX + userId, JSON.stringify(items));
    else storage?.removeItem(PREFIX + userId);
  } catch {
    // storage refused or full: they wait only while the page stays open
  }
}

export function loadKept(storage: DraftStorage | undefined, userId: string): KeptUnsent[] {
  try {
    const parsed: unknown = JSON.parse(storage?.getItem(PREFIX + userId) ?? '[]');
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (k): k is KeptUnsent =>
        typeof k === 'object' && k !== null && typeof k.room === 'string' && typeof k.txn === 'string' && typeof k.body === 'string' && typeof k.createdAt === 'number' && typeof k.maybeStored === 'boolean' && (k.keptInBox === undefined || typeof k.keptInBox === 'boolean'),
    );
  } catch {
    return [];
  }
}

/** Every user's kept unsent messages of this tab (a sign-out on this device). */
export function clearKept(storage: DraftStorage | undefined): void {
  clearPrefixed(storage, PREFIX);
}
