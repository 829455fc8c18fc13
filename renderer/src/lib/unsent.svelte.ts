/**
 * Own messages the node has not taken yet (sending, or not sent with the reason and Retry), per
 * signed-in user and room, outside any screen: the room screen is made anew for each room and the
 * member's Account page replaces it, and a message kept inside it was lost without a word when
 * another room or page was opened, its promised resend never made (a helper's audit). Here they
 * live as long as the page; they go out by themselves once the node answers again, whatever
 * screen is open, and the room shows them again when it is opened. Each keeps its client txn_id
 * through every try, so the node stores it once (rooms/client-txns.ts). This tab also keeps them
 * across a reload (unsent-kept.ts), and the page asks before it is closed while any wait.
 */
import { untrack } from 'svelte';
import { api } from './api.ts';
import { live } from './live.svelte.ts';
import { ConnectionLost } from '../../../shared/contract/stream-transport.ts';
import { explainError, type Explained } from './errors.ts';
import { isOfflineFailure } from './offline.ts';
import { loadDraft, saveDraft } from './drafts.ts';
import { clearKept, loadKept, saveKept, tooOldToResend } from './unsent-kept.ts';

export interface Unsent {
  id: number;
  /** Whose message: only that user's page ever sends it. */
  user: string;
  room: string;
  txn: string;
  body: string;
  createdAt: number;
  /** `sent`: the node took it (`eventId`); the open room drops it once its timeline shows it. */
  state: 'sending' | 'failed' | 'unknown' | 'sent';
  eventId?: string;
  maybeStored: boolean;
  why: Explained | null;
  /** It failed for want of any answer: it goes out by itself once the node answers again. */
  offline?: boolean;
  failedAt?: number;
  /** The composer still holds its text (Room.svelte): sending that text again is this message. */
  keptInBox?: boolean;
  /** Written over a day ago (unsent-kept.ts): not sent again by itself, only by Retry. */
  tooOld?: boolean;
}

/**
 * `user`: who the page is (or, signed out under it, was last) signed in as, '' before it knows;
 * `signedIn`: whether it is now; `member`: the members' app.
 */
export const unsent = $state({ items: [] as Unsent[], user: '', signedIn: false, member: false });

let nextId = 1;
const newTxnId = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
const roomKey = (user: string, room: string) => `${user}\n${room}`;
/** Rooms on screen now: a message sent there stays (`sent`) until their timeline shows it. */
const openRooms = new Map<string, number>();
const sessionStore = () => (typeof sessionStorage === 'undefined' ? undefined : sessionStorage);

/** A new message of `user` in `room`, as the list holds it (its state is reactive). */
export function addUnsent(user: string, room: string, body: string): Unsent {
  unsent.items.push({ id: nextId++, user, room, txn: newTxnId(), body, createdAt: Date.now(), state: 'sending', maybeStored: false, why: null });
  return unsent.items[unsent.items.length - 1]!;
}

export function dropUnsent(id: number): void {
  unsent.items = unsent.items.filter((o) => o.id !== id);
}

/** The user's messages that wait or failed (not those the node took). */
export const waitingOf = (user: string): Unsent[] => unsent.items.filter((o) => o.user === user && o.state !== 'sent');

/** The room screen of `room` is on screen until the returned function is called. */
export function roomOnScreen(user: string, room: string): () => void {
  const key = roomKey(user, room);
  openRooms.set(key, (openRooms.get(key) ?? 0) + 1);
  return () => {
    const left = (openRooms.get(key) ?? 1) - 1;
    if (left > 0) openRooms.set(key, left);
    else openRooms.delete(key);
    // Stored: the timeline shows them when the room is opened again.
    if (left <= 0) unsent.items = unsent.items.filter((o) => !(o.state === 'sent' && o.user === user && o.room === room));
  };
}

/** One try of `item`, with its txn_id; true once the node stored it. */
export async function sendUnsent(item: Unsent): Promise<boolean> {
  item.state = 'sending';
  item.why = null;
  // A member's device that knows it has no network does not try: the message waits, sent once back.
  if (unsent.member && !navigator.onLine) return failed(item, new TypeError('this device is offline'));
  try {
    const { event_id } = await api.sendMessage({ room_id: item.room, body: item.body, txn_id: item.txn });
    item.eventId = event_id;
    item.state = 'sent';
  } catch (e) {
    return failed(item, e);
  }
  if (!openRooms.has(roomKey(item.user, item.room))) {
    dropUnsent(item.id);
    // The member's box of that room (kept in this browser, drafts.ts) no longer holds an unsent message.
    if (unsent.member && item.keptInBox && loadDraft(localStorage, item.user, item.room).trim() === item.body) saveDraft(localStorage, item.user, item.room, '');
  }
  return true;
}

function failed(item: Unsent, e: unknown): false {
  // The stream closed before the node answered: it may be stored. Say so, never "not sent".
  // Once unknown, a later refusal does not make it "not sent": an earlier try may be stored.
  if (e instanceof ConnectionLost) item.maybeStored = true;
  item.state = item.maybeStored ? 'unknown' : 'failed';
  item.why = explainError(e);
  // No answer at all (the network, or a stream cut under it): sent again once the node answers.
  item.offline = e instanceof ConnectionLost || isOfflineFailure(e, navigator.onLine);
  item.failedAt = Date.now();
  return false;
}

/**
 * Messages that failed for want of an answer (a member's device without a network, the owner's
 * node stopped) go out by themselves once the node answers again (the offline banner and the
 * message's line promise it); each keeps its txn_id, so never twice. "Answers again" is any
 * answer after the failure (`lastOkAt`), not only the page turning reachable: a send cut with
 * the stream (ConnectionLost) leaves the page reachable (a CI run of 2026-11-28). The owner's
 * "maybe not sent" waits for the owner's "Send again" (it says so).
 */
function mayResend(item: Unsent, answeredAt: number, now: number): boolean {
  if (item.user !== unsent.user || item.state === 'sending' || item.state === 'sent' || !item.offline) return false;
  if (!unsent.member && item.state !== 'failed') return false;
  if ((item.failedAt ?? 0) >= answeredAt) return false;
  if (tooOldToResend(item.createdAt, now)) {
    item.tooOld = true;
    return false;
  }
  return true;
}

/**
 * Called while the app's root component initialises: `user` is who the page is signed in as
 * (null while signed out). Restores what this tab kept of that user, keeps it on every change,
 * sends what waits once the node answers, and asks before the page goes while any wait.
 */
export function followUnsent(user: () => string | null, member: boolean): void {
  unsent.member = member;
  const restored = new Set<string>();
  $effect(() => {
    const who = user() ?? '';
    untrack(() => {
      if (who && !restored.has(who)) {
        restored.add(who);
        const now = Date.now();
        const known = new Set(unsent.items.map((o) => o.txn));
        for (const k of loadKept(sessionStore(), who)) {
          if (known.has(k.txn)) continue;
          // Not known to be stored: each is tried again at the node's first answer (one more
          // refusal at most), unless it was written too long ago to be sent again by itself.
          unsent.items.push({ id: nextId++, user: who, room: k.room, txn: k.txn, body: k.body, createdAt: k.createdAt, state: k.maybeStored ? 'unknown' : 'failed', maybeStored: k.maybeStored, why: null, offline: true, failedAt: 0, tooOld: tooOldToResend(k.createdAt, now), keptInBox: k.keptInBox === true });
        }
      }
      if (who) unsent.user = who;
      unsent.signedIn = who !== '';
    });
  });
  $effect(() => {
    const who = unsent.user;
    if (!who) return;
    // One being sent when the page goes may be stored: kept as "maybe".
    const kept = waitingOf(who).map((o) => ({ room: o.room, txn: o.txn, body: o.body, createdAt: o.createdAt, maybeStored: o.maybeStored || o.state === 'sending', keptInBox: o.keptInBox === true }));
    untrack(() => saveKept(sessionStore(), who, kept));
  });
  $effect(() => {
    if (!live.reachable || !unsent.signedIn) return;
    const answeredAt = live.lastOkAt;
    untrack(() => {
      const now = Date.now();
      for (const item of unsent.items) if (mayResend(item, answeredAt, now)) void sendUnsent(item);
    });
  });
  $effect(() => {
    if (!unsent.signedIn || waitingOf(unsent.user).length === 0) return;
    // Closing the tab loses them (a reload keeps them): the browser asks first.
    const ask = (event: BeforeUnloadEvent) => {
      event.preventDefault();
      event.returnValue = '';
    };
    window.addEventListener('beforeunload', ask);
    return () => window.removeEventListener('beforeunload', ask);
  });
}

/**
 * Signing out on purpose on this device: true when nothing waits, or the user agreed to drop what
 * does (a shared device keeps nobody's messages, as with drafts); then this tab forgets them all.
 */
export function signOutDropsUnsent(): boolean {
  const count = waitingOf(unsent.user).length;
  if (count > 0 && !confirm(`${count === 1 ? 'A message you wrote is' : `${count} messages you wrote are`} not sent yet. Signing out drops ${count === 1 ? 'it' : 'them'}: sign out anyway?`)) return false;
  unsent.items = [];
  clearKept(sessionStore());
  return true;
}
