/**
 * Messages that changed (`listMessages` with `since`: new ones, and those an edit, delete,
 * reaction or delivery changed) merged into the timeline the screen shows (issue #17: the room
 * refetched its newest 50 messages for every message a friend sent). Each changed message
 * replaces the one shown with its id, or is placed by display order; one older than every message
 * shown belongs to a page not loaded (scrolling up loads it), unless nothing older exists
 * (`complete`). Objects of messages that did not change stay the same: only they redraw.
 */
import { compareDisplayOrder } from '../../../shared/display-order.ts';

type Ordered = { event_id: string; depth: number; origin_server: string };

export function mergeChanges<T extends Ordered>(shown: readonly T[], changed: readonly T[], complete: boolean): T[] {
  if (changed.length === 0) return shown as T[];
  const oldest = shown[0];
  const before = new Map(shown.map((m) => [m.event_id, m]));
  const fresh = new Map<string, T>();
  for (const message of changed) {
    const old = before.get(message.event_id);
    if (old === undefined && !complete && oldest !== undefined && compareDisplayOrder(message, oldest) < 0) continue;
    fresh.set(message.event_id, old !== undefined && JSON.stringify(old) === JSON.stringify(message) ? old : message);
  }
  if ([...fresh].every(([id, m]) => before.get(id) === m)) return shown as T[];
  return [...shown.filter((m) => !fresh.has(m.event_id)), ...fresh.values()].sort(compareDisplayOrder);
}
