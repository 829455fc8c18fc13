/**
 * Why another server could not be reached: the `reason` of a 502 `peer_unreachable` answer of the
 * admin API (`{error, message, reason, server}`, README "Admin API"). A closed set, so a client
 * need not read the message's words; a client meeting a code it does not know (a newer node) takes
 * it as `other`. The node finds it from the failure's error codes (main/core/federation/unreachable.ts).
 */
export const UNREACHABLE_REASONS = [
  /** The name does not exist in DNS (ENOTFOUND), or resolves to no address. */
  'name_not_found',
  /** DNS could not answer just now (EAI_AGAIN): often this computer is offline. */
  'name_lookup_failed',
  /** Nothing accepts connections at its address (ECONNREFUSED): its node or machine is off, or the port is not forwarded. */
  'refused',
  /** No answer in time: connecting, or waiting for its answer. */
  'timeout',
  /** The connection was cut before the answer was whole (ECONNRESET, the other side closed). */
  'connection_cut',
  /** No route to its address from here (EHOSTUNREACH). */
  'no_route',
  /** This computer has no network for that address (ENETUNREACH). */
  'network_down',
  /** TLS failed: its certificate is not trusted, or not the one pinned for it. */
  'tls',
  /** This node does not connect to that address (a private or local one: the address policy). */
  'address_refused',
  /** The endpoint it named was never reached, so it is not called (it answers through a mailbox or by pull). */
  'never_reached',
  /** Something answered, but not as a Paracord server does (an HTTP error, a document that is not valid, another server's name). */
  'bad_answer',
  /** Any other failure (the message says what). */
  'other',
] as const;

export type UnreachableReason = (typeof UNREACHABLE_REASONS)[number];

export function isUnreachableReason(value: unknown): value is UnreachableReason {
  return typeof value === 'string' && (UNREACHABLE_REASONS as readonly string[]).includes(value);
}
