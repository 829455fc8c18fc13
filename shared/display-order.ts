/**
 * The order in which every server shows a room's events: (depth, origin_server, event_id).
 * One definition for the node (rooms/) and the UI (which merges changed messages into the
 * timeline it shows, renderer/src/lib/merge-changes.ts).
 */
export function compareDisplayOrder(
  a: { depth: number; origin_server: string; event_id: string },
  b: { depth: number; origin_server: string; event_id: string },
): number {
  if (a.depth !== b.depth) return a.depth - b.depth;
  if (a.origin_server !== b.origin_server) return a.origin_server < b.origin_server ? -1 : 1;
  return a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0;
}
