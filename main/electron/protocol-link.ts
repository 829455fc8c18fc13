/**
 * `paracord://` links handed to the app: by the OS on macOS (open-url), or in the command line
 * of a second instance on Windows and Linux. A peer invite link opens the redeem confirmation.
 */
import { LINK_SCHEME_PREFIX, parseLink } from '../core/peering/invite-link.ts';

export type AppLink = { kind: 'peer-invite'; link: string; server_name: string; expires_at: number } | { kind: 'invalid'; reason: string };

export function parseAppLink(url: string): AppLink {
  if (!url.startsWith(LINK_SCHEME_PREFIX)) return { kind: 'invalid', reason: 'not a paracord://peer/ link' };
  const parsed = parseLink(url);
  if (!parsed.ok) return { kind: 'invalid', reason: parsed.reason };
  return { kind: 'peer-invite', link: url, server_name: parsed.payload.server_name, expires_at: parsed.payload.expires_at };
}

/** The paracord:// link in a second instance's argv, if any. */
export function linkFromArgv(argv: readonly string[]): string | undefined {
  return argv.find((arg) => arg.startsWith('paracord://'));
}
