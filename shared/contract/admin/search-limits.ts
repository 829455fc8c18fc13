/**
 * A search's `unindexed` counts up to this many (more: "over"). The count reads each of them on the
 * node's main thread, during a search: 10,000 rows, a few ms (it was 100,000, tens of ms per search
 * while an index was rebuilt). Apart from messages.ts, which
 * loads zod, so that the search worker (main/core/rooms/search-worker.ts) does not load it at each
 * start.
 */
export const UNINDEXED_COUNT_CAP = 10_000;
