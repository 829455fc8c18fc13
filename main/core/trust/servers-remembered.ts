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
