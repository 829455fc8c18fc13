// Keyboard focus management (issue #16 item 14): when the control that held focus goes away
// (a menu or inline form closes, a message is deleted, an invitation accepted), focus moves to
// the next sensible control instead of falling back to the page's start.
import { tick } from 'svelte';

type Target = HTMLElement | string | null | undefined | (() => HTMLElement | null | undefined);

function resolve(target: Target): HTMLElement | null {
  if (typeof target === 'function') return target() ?? null;
  if (typeof target === 'string') return document.querySelector<HTMLElement>(target);
  return target ?? null;
}

/**
 * Whether focus has nowhere sensible to be: on the page itself (its control was removed), on a
 * control just disabled or hidden by a closed menu, or on the main region (a fallback).
 * Focus the user moved somewhere else meanwhile is left alone.
 */
export function focusLost(): boolean {
  const element = document.activeElement as HTMLElement | null;
  if (!element || element === document.body || element.id === 'main' || !element.isConnected) return true;
  if ((element as HTMLButtonElement).disabled) return true; // the browser drops focus from it
  return typeof element.checkVisibility === 'function' && !element.checkVisibility();
}

/** After the DOM has updated, and if focus was lost, focuses the first target still on the page (else the main region). */
export async function focusAfterUpdate(...targets: Target[]): Promise<void> {
  await tick();
  if (!focusLost()) return;
  for (const target of targets) {
    const element = resolve(target);
    if (element && element.isConnected) {
      element.focus();
      return;
    }
  }
  document.getElementById('main')?.focus();
}

/** Focuses the element matching the selector once it is on the page (a screen still loading), else the main region. */
export function focusWhenPresent(selector: string, timeoutMs = 5000): void {
  const attempt = () => {
    if (!focusLost()) return true; // the user went on meanwhile
    const element = document.querySelector<HTMLElement>(selector);
    if (!element) return false;
    element.focus();
    return true;
  };
  if (attempt()) return;
  const observer = new MutationObserver(() => {
    if (attempt()) stop();
  });
  const timer = setTimeout(() => {
    stop();
    if (focusLost()) document.getElementById('main')?.focus();
  }, timeoutMs);
  function stop() {
    observer.disconnect();
    clearTimeout(timer);
  }
  observer.observe(document.body, { childList: true, subtree: true });
}

/** Svelte attachment: focuses the element as it appears (an inline form's first field). */
export const focusOnMount = (element: HTMLElement) => {
  element.focus();
};
