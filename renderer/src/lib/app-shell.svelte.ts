/**
 * What the owner's app (App.svelte) and the member app (MemberApp.svelte) do alike around their
 * screens: the colour theme, the first question to the server asked until it answers, and what
 * follows the live stream once signed in. Each function is called while the app's root component
 * initialises (its effects live as long as the component).
 */
import { untrack } from 'svelte';
import { connectLive, live } from './live.svelte.ts';
import { loadInvitations } from './invites.svelte.ts';
import { loadRooms } from './rooms.svelte.ts';

/** The colour theme chosen in the top bar ('auto', 'light' or 'dark'), kept in localStorage. */
export const theme = $state({ choice: localStorage.getItem('theme') ?? 'auto' });

/** Applies the chosen theme to the page, now and whenever it changes. */
export function applyTheme(): void {
  $effect(() => {
    document.documentElement.dataset.theme = theme.choice;
    localStorage.setItem('theme', theme.choice);
  });
}

/** Asks `ask` until the server answers; while it does not, `failed` gets the error and it asks again every 1.5 s. */
export async function askUntilAnswered<T>(ask: () => Promise<T>, answered: (value: T) => void, failed: (error: unknown) => void): Promise<void> {
  try {
    answered(await ask());
  } catch (error) {
    failed(error);
    setTimeout(() => void askUntilAnswered(ask, answered, failed), 1500);
  }
}

/**
 * Once signed in: the live stream; once `ready` as well (set up), the pending invitations (the top
 * bar's badge), the rooms' unread counts, the window title and mention notifications, on every
 * screen. A node not set up has neither rooms nor invitations: asked during the setup, it answered
 * 409 setup_required, in the browser's console (a tester's trial).
 */
export function followSignedIn(signedIn: () => boolean, ready: () => boolean, route: () => string): void {
  $effect(() => {
    // Not the whole session or status: each new answer would ask for the invitations again.
    if (!ready()) return;
    void live.invites;
    void live.members; // an invitation ends with a membership event (notification-kinds.ts)
    void untrack(loadInvitations);
  });
  $effect(() => {
    if (signedIn()) connectLive();
  });
  const openRoomId = $derived(route().startsWith('/rooms/') ? decodeURIComponent(route().slice('/rooms/'.length)) : '');
  $effect(() => {
    if (!ready()) return;
    void live.room;
    void live.invites;
    void loadRooms(openRoomId);
  });
}
