/**
 * At most this many servers in each per-server memory that any server can add itself to by
 * signing a request (a rate limit read a second ago, when a server was last written as seen, when
 * a pull or mailbox loop last saw it, recent failures toward auto-quarantine; and the rows of
 * servers that pull from us, fetch from our mailbox or named us their mailbox): under an open
 * trust policy every server that signs is one more (a helper's review, 2026-11-29: a stranger with
 * a wildcard DNS name grew them without end). Past it, the entries that no longer change anything
 * go first, else all (each is only a shortcut or a recent count).
 */
export const MAX_SERVERS_REMEMBERED = 10_000;

/**
 * Whether one more server may be remembered in `entries` (a table's rows, mirrored in memory): at
 * MAX_SERVERS_REMEMBERED, those `stopped` says no longer change anything are forgotten first
 * (`forget`, given them all at once: one transaction), at most once a second per `pruned` (a full
 * table of current ones refuses at once); false if none had stopped.
 */
export function roomToRemember<V>(
  entries: Map<string, V>,
  now: number,
  pruned: { at: number },
  stopped: (server: string, value: V) => boolean,
  forget: (servers: readonly string[]) => void,
): boolean {
  if (entries.size < MAX_SERVERS_REMEMBERED) return true;
  if (Math.abs(now - pruned.at) < 1_000) return false;
  pruned.at = now;
  const gone = [...entries].filter(([server, value]) => stopped(server, value)).map(([server]) => server);
  forget(gone);
  for (const server of gone) entries.delete(server);
  return entries.size < MAX_SERVERS_REMEMBERED;
}
