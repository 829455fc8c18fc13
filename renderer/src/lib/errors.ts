/**
 * Every error the UI can meet, in words a hobbyist understands (issue #16 items 3 and 11). The
 * node answers `{error: <code>, message}`; a delivery failure is a line such as
 * `HTTP 403 origin_blocked: …` or `connect ECONNREFUSED 127.0.0.1:8448`. This module is the one
 * place that turns either into a sentence; the raw text stays available as "details".
 */
import { AdminError } from '../../../shared/contract/client.ts';

/** What the user reads; `details` is the raw cause, shown only behind a "details" disclosure. */
export interface Explained {
  text: string;
  details: string;
}

/** Error codes of the node (main/core/errors.ts users) and of the network, as sentences. */
export const ERROR_SENTENCES: Readonly<Record<string, string>> = {
  // reaching the node and signing in
  node_unreachable: 'Your node does not answer. Is it still running?',
  missing_token: 'You are signed out. Open a new login link (run `npx paracord-node login`).',
  invalid_token: 'You are signed out. Open a new login link (run `npx paracord-node login`).',
  missing_request_header: 'The page was refused by your node. Reload the page.',
  host_not_allowed: 'Your node only answers at its own address. Open the page through the login link.',
  setup_required: 'Your node is not set up yet: choose a server name first.',
  already_set_up: 'This node is already set up.',
  // input
  invalid_input: 'Some of what you typed is not valid. Check the highlighted field.',
  malformed_json: 'The page sent something your node could not read. Reload the page.',
  invalid_request: 'Your node could not understand that request. Reload the page and try again.',
  content_too_large: 'That is too long to send.',
  invalid_room_name: 'That room name cannot be used. Use letters, digits and spaces.',
  invalid_path: 'That folder or file path is not valid. Give a full path, like /home/me/backups.',
  invalid_backup_dir: 'That backup folder cannot be used. Check that it exists, that the node may write there, and that it is not inside the node\'s own data folder.',
  invalid_backup_out: 'A backup cannot go into the node\'s own data folder: choose a file somewhere else (another disk is best).',
  backup_schedule_from_command_line: 'The backup schedule comes from how the node was started (serve --backup-dir), and that wins: change it there and restart the node.',
  invalid_passphrase_file: 'The passphrase file cannot be read.',
  invalid_backup: 'That file is not a valid Paracord key backup.',
  invalid_certificate: 'That certificate or key file cannot be used.',
  // rooms and messages
  unknown_room: 'This room is not on your node (any more).',
  unknown_event: 'That message is not here any more.',
  unknown_target: 'That message is not here any more.',
  unknown_user: 'There is no such user on your node.',
  unknown_member: 'That person is not in this room.',
  unknown_invite: 'This invitation is not valid any more.',
  invite_expired: 'This invitation has expired. Ask for a new one.',
  not_a_member: 'You are not in this room any more.',
  not_joined: 'You are not in this room any more.',
  not_invited: 'You were not invited to this room.',
  already_joined: 'You are already in this room.',
  already_pending: 'That person is already invited.',
  not_room_host: 'Only the server that hosts this room can do that.',
  not_the_sender: 'Only the person who wrote a message can edit it.',
  not_allowed: 'You are not allowed to do that in this room.',
  message_deleted: 'That message was deleted.',
  already_reacted: 'You already reacted with that.',
  no_reaction: 'That reaction is already gone.',
  too_many_reactions: 'You have reached the most reactions one person may add to a message.',
  too_many_invites: 'That server has too many open invitations from yours. Wait until some are accepted or expire.',
  user_exists: 'That user already exists.',
  // moderation and search (issue #20)
  banned: 'That person is banned from this room.',
  not_banned: 'That person is not banned.',
  cannot_target_self: 'You cannot do that to yourself.',
  role_unchanged: 'That person already has this role.',
  empty_query: 'There are no words to search for: type letters or digits.',
  body_timeout: 'The request took too long to arrive. Try again.',
  // reference interop (issue #19)
  not_reference_host: 'That room\'s server is not a Paracord reference server peered with yours: rooms of other servers are joined by accepting their invite.',
  reference_host_read_only: 'That room is read-only here: its server cannot receive messages from yours.',
  join_refused: 'The room\'s server refused to let you join.',
  invalid_room_id: 'That is not a room id. It looks like !1234567890:friend.example.',
  unusable_server_name: 'That server\'s name cannot be used here.',
  unauthenticated_keys: 'That server\'s keys could not be checked. Enter the key its admin gives you, or use https.',
  // peering and trust
  invalid_link: 'This invite link is not valid. Ask your friend to send it again, complete.',
  link_used: 'This invite link was already used. Ask your friend for a new one.',
  link_expired: 'This invite link has expired. Ask your friend for a new one.',
  link_revoked: 'Your friend cancelled this invite link. Ask for a new one.',
  pin_mismatch: 'The server did not show the certificate the link promised. It may not be your friend\'s server: do not go on.',
  address_refused: 'That address is not allowed for a friend\'s server (a private or local address).',
  peer_unreachable: 'Your friend\'s server does not answer.',
  origin_blocked: 'The other server blocks yours.',
  rate_limited: 'Too many requests at once. It retries by itself.',
  quota_exceeded: 'The other server is full for today (its storage limit for your server).',
  not_found: 'That is not here any more.',
  bad_signature: 'The other server could not check your server\'s signature. Your keys may have changed: ask your friend to peer again.',
  invalid_auth: 'The other server could not check your server\'s signature. Your keys may have changed: ask your friend to peer again.',
  missing_auth: 'The other server asked your server to identify itself. It retries by itself.',
  wrong_destination: 'The message was addressed to another server.',
  destination_binding_required: 'The other server runs a newer Paracord that needs an update of yours.',
  depth_too_old: 'The room moved on while this was waiting; it is being sent again.',
  stale_timestamp: 'The clocks of the two computers disagree. Check the time on both.',
  replayed_request: 'The same request arrived twice and was refused. It retries by itself.',
  nothing_held: 'Nothing is waiting in quarantine for that server.',
  bad_snapshot: 'The room\'s server answered in a way yours could not read.',
  // network causes (delivery failures and calls to peers)
  ECONNREFUSED: 'Their server is offline (it refused the connection).',
  ECONNRESET: 'The connection was cut.',
  ETIMEDOUT: 'Their server did not answer in time.',
  ENOTFOUND: 'That server name is not known on the internet (DNS).',
  EAI_AGAIN: 'The name could not be looked up right now (DNS). Is this computer online?',
  EHOSTUNREACH: 'Their server cannot be reached from here (no route).',
  ENETUNREACH: 'This computer is not connected to a network.',
  CERT: 'Their server\'s certificate is not the one you trust.',
  ENOENT: 'A file the node needs is missing.',
  EACCES: 'The node may not read or write a file it needs.',
};

const NETWORK_CODES = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOENT', 'EACCES'];

/** A delivery failure or other raw cause line, in words; unknown causes get a general sentence. */
export function explainCause(raw: string | null | undefined): Explained {
  const details = raw ?? '';
  if (!raw) return { text: '', details };
  for (const code of NETWORK_CODES) if (raw.includes(code)) return { text: ERROR_SENTENCES[code]!, details };
  if (/getaddrinfo/i.test(raw)) return { text: ERROR_SENTENCES.ENOTFOUND!, details };
  if (/certificate|fingerprint|self[- ]signed|CERT_/i.test(raw)) return { text: ERROR_SENTENCES.CERT!, details };
  if (/timeout|timed out/i.test(raw)) return { text: ERROR_SENTENCES.ETIMEDOUT!, details };
  if (/fetch failed|socket|network/i.test(raw)) return { text: 'Their server could not be reached.', details };
  if (raw === 'expired') return { text: 'It waited too long and was given up.', details };
  const code = /\b([a-z]+(?:_[a-z]+)+)\b/.exec(raw)?.[1];
  if (code && ERROR_SENTENCES[code]) return { text: ERROR_SENTENCES[code], details };
  const status = /HTTP (\d{3})/.exec(raw)?.[1];
  if (status) return { text: statusSentence(Number(status)), details };
  return { text: 'Something went wrong.', details };
}

function statusSentence(status: number): string {
  if (status === 401 || status === 403) return 'The other server refused it.';
  if (status === 404) return 'The other server does not know this.';
  if (status === 413) return 'It was too large for the other server.';
  if (status === 429) return ERROR_SENTENCES.rate_limited!;
  if (status >= 500) return 'The other server had a problem. It retries by itself.';
  return 'The other server refused it.';
}

/** Any error a call to the node threw, in words, with the raw cause as details. */
export function explainError(error: unknown): Explained {
  if (error instanceof AdminError) {
    const details = `${error.code} (${error.status}): ${error.message}`;
    if (ERROR_SENTENCES[error.code]) {
      // For input errors the node's message names the field: keep it, without the schema path noise.
      if (error.code === 'invalid_input') return { text: `${ERROR_SENTENCES.invalid_input} ${fieldHint(error.message)}`.trim(), details };
      return { text: ERROR_SENTENCES[error.code]!, details };
    }
    const cause = explainCause(error.message);
    if (cause.text !== 'Something went wrong.') return { text: cause.text, details };
    if (error.status >= 500) return { text: 'Your node had a problem doing that. Try again; if it keeps happening, look at the node\'s log.', details };
    return { text: 'Your node refused that.', details };
  }
  if (error instanceof TypeError || (error instanceof Error && /fetch|network|Failed to fetch/i.test(error.message))) {
    return { text: ERROR_SENTENCES.node_unreachable!, details: error instanceof Error ? error.message : String(error) };
  }
  const details = error instanceof Error ? error.message : String(error);
  const cause = explainCause(details);
  return { text: cause.text || 'Something went wrong.', details };
}

/** "server_name: must be a host name …" → "Server name: must be a host name …" (no zod paths). */
function fieldHint(message: string): string {
  const first = message.split(/;\s*/)[0] ?? '';
  const match = /^([a-z_.0-9]+):\s*(.+)$/.exec(first);
  if (!match) return '';
  const field = match[1]!.split('.').filter((part) => !/^\d+$/.test(part)).pop() ?? '';
  const label = field.replace(/_/g, ' ');
  return `${label.charAt(0).toUpperCase()}${label.slice(1)}: ${match[2]}.`.replace(/\.\.$/, '.');
}

/** The sentence only, for places that have no room for details. */
export function errorSentence(error: unknown): string {
  return explainError(error).text;
}
