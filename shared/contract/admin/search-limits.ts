/**
 * A search's `unindexed` counts up to this many (more: "at least"). Apart from messages.ts, which
 * loads zod, so that the search worker (main/core/rooms/search-worker.ts) does not load it at each
 * start.
 */
export const UNINDEXED_COUNT_CAP = 100_000;
