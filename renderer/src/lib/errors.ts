/**
 * Every error the UI can meet, in words a hobbyist understands (issue #16 items 3 and 11). The
 * node answers `{error: <code>, message}`; a delivery failure is a line such as
 * `HTTP 403 origin_blocked: …` or `connect ECONNREFUSED 127.0.0.1:8448`. This module is the one
 * place that turns either into a sentence; the raw text stays available as "details".
 */
import { AdminError } from '../../../shared/contract/client.ts';
import { ConnectionLost } from '../../../shared/contract/stream-transport.ts';
import { fromNow } from './format.ts';
import { NOBODY_COULD_ASK, NO_PEER_CAN_TEST, NO_PEER_YET } from '../../../shared/reachability-words.ts';
import { parseMailboxAnswer } from '../../../shared/mailbox-answer.ts';
import { ownValue } from '../../../shared/own-value.ts';
import { isUnreachableReason, type UnreachableReason } from '../../../shared/contract/unreachable.ts';

/** What the user reads; `details` is the raw cause, shown only behind a "details" disclosure. */
export interface Explained {
  text: string;
  details: string;
}

/** Error codes of the node (main/core/errors.ts users) and of the network, as sentences. */
export const ERROR_SENTENCES: Readonly<Record<string, string>> = {
  // reaching the node and signing in
  node_unreachable: 'Your node does not answer. Is it still running?',
  connection_lost: 'The connection to your node closed before it answered, so it may have been done. Look before you try again.',
  missing_token: 'You are signed out. Open a new login link (run `npx paracord-node login`).',
  invalid_token: 'You are signed out. Open a new login link (run `npx paracord-node login`).',
  session_ended: 'This browser was signed out, or its session expired. Open a new login link (run `npx paracord-node login`).',
  missing_request_header: 'The page was refused by your node. Reload the page.',
  host_not_allowed: 'Your node only answers at its own address. Open the page through the login link.',
  setup_required: 'Your node is not set up yet: choose a server name first.',
  already_set_up: 'This node is already set up.',
  // input
  // Not "check the highlighted field": a form marks its field (invalidField), but the sentence is also said where none is.
  invalid_input: 'Some of what you typed is not valid.',
  malformed_json: 'The page sent something your node could not read. Reload the page.',
  malformed_frame: 'The page sent something your node could not read. Reload the page.',
  upgrade_required: 'This page talked to your node the wrong way. Reload the page.',
  bad_upgrade: 'This page talked to your node the wrong way. Reload the page.',
  page_origin_not_allowed: 'Your node only answers its own page. Open it through the login link.',
  node_stopping: 'Your node is stopping. Wait until it runs again, then try again.',
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
  join_not_asked: 'The room\'s server said one of your users joined a room they never asked to join; refused.',
  mailbox_full: 'The friend\'s node that keeps messages for this server is full for now; they wait here and are sent later.',
  mailbox_off: 'That friend\'s node no longer keeps messages for friends who cannot be reached.',
  not_a_mailbox_for: 'That friend\'s node does not keep messages for this server.',
  no_join_sent: 'This server never asked to join that room.',
  not_pending: 'This server is not waiting for that friend to answer a link.',
  mailbox_share_full: 'The friend\'s node that keeps messages for that server holds as much from this server as it allows for now; they wait here and are sent later.',
  invalid_mailbox_choice: 'A mailbox was shown a choice of mailbox that is not valid (wrong server, expired or not signed by it); nothing was kept.',
  federation_starting: 'Your node is still starting its connection to friends. Try again in a moment.',
  wrong_token: 'That answer is for another invite link.',
  // Members (issue #34).
  invalid_name: 'A user name has up to 32 characters: lowercase letters, digits, and . _ - (not first).',
  weak_passphrase: 'Choose a longer passphrase that is harder to guess: a few unrelated words work well.',
  wrong_link: 'This link is for something else (joining, or setting a new passphrase).',
  // A disabled account is refused in the same words (nothing tells it apart), so they name that case too (the UI check of 2026-11-27).
  sign_in_failed: 'That user name and passphrase do not match a member of this server, or the owner has turned this account off.',
  too_many_attempts: 'Too many attempts to sign in. Wait a few minutes, then try again.',
  passphrase_changed_recently: 'Your passphrase was just changed, or is being changed. Wait a minute, then try again.',
  passphrase_check_running: 'Your passphrase is being checked, or was a few seconds ago. Wait a few seconds, then try again.',
  bad_credentials: 'That user name and passphrase do not match a member of this server, or the owner has turned this account off.',
  /** The page's own code for a passkey refused at sign-in (SignIn.svelte): the node answers bad_credentials. */
  passkey_refused: 'This passkey does not open an account of this server any more, or the owner has turned the account off.',
  link_unusable: 'This link cannot be used: it was used already, it expired, or it was cancelled. Ask the owner of the server for a new one.',
  not_signed_in: 'You are signed out. Sign in again.',
  owner_only: 'Only the owner of this server can do that.',
  cross_site: 'The server refused a request that did not come from its own page. Reload the page.',
  not_yours: 'You can only do that as yourself.',
  room_not_found: 'This room is not here, or you are not in it.',
  not_room_moderator: 'Only the room\'s owner or one of its moderators can invite people to it.',
  wrong_passphrase: 'The current passphrase is not right.',
  unknown_link: 'There is no such member link.',
  unknown_session: 'That session has already ended.',
  federation_not_running: 'Your node has no address for others yet. Finish the setup first.',
  passkeys_unavailable: 'Passkeys work only on a private (https://) address that names the server, not on plain HTTP or an IP address.',
  passkey_not_accepted: 'That passkey could not be used. Try again.',
  passkey_exists: 'This passkey is already added.',
  too_many_passkeys: 'You have as many passkeys as you may. Remove one first.',
  unknown_passkey: 'That passkey is already gone.',
  room_creation_off: 'The owner of this server does not let members create rooms.',
  too_many_rooms: 'You have created as many rooms here as a member may.',
  member_disabled: 'That member\'s account is turned off: turn it on first (Members).',
  send_limit_reached: 'You have sent as much as a member may for now (it keeps friends\' servers from being flooded). Try again later; nothing was sent.',
  peer_held: 'Nothing is sent to that server: it is blocked or in quarantine here (Peers).',
  peer_not_allowed: 'That server is not one of your friends\' servers. Add it first (Peers).',
  invalid_host: 'This page was opened at an address the server cannot use. Open it again from its link.',
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
  not_reference_host: 'That room\'s server is not a Paracord reference server peered with yours, and only their rooms are joined by id. A room on a Paracord node is joined by its invitation: ask its owner to invite you.',
  reference_host_read_only: 'That room is read-only here: its server cannot receive messages from yours.',
  join_refused: 'The room\'s server refused to let you join.',
  invalid_room_id: 'That is not a room id. It looks like !1234567890:friend.example.',
  unusable_server_name: 'That server\'s name cannot be used here.',
  unauthenticated_keys: 'That server\'s keys could not be checked. Enter the key its admin gives you, or use https.',
  unproven_domain: 'That server uses another name (its domain) in its ids, and that name does not show the same server. Ask its admin to fix its domain.',
  name_taken: 'That name already belongs to another server here (or to yours). Nothing was changed.',
  key_id_bound: 'That key id is already bound to another key for this server. A key id never changes its key: nothing was changed.',
  // peering and trust
  invalid_link: 'This invite link is not valid. Ask your friend to send it again, complete.',
  link_used: 'This invite link was already used. Ask your friend for a new one.',
  already_peer: 'You already know that server, and this would give it another key or address than the one you know. It may not come from your friend: nothing was changed. Check with its admin before confirming such a change.',
  link_expired: 'This invite link has expired. Ask your friend for a new one.',
  link_revoked: 'Your friend cancelled this invite link. Ask for a new one.',
  link_ended: 'This invite link has ended: three attempts to use it gave an address that could not be used. Ask your friend for a new one.',
  pin_mismatch: 'The server did not show the certificate the link promised. It may not be your friend\'s server: do not go on.',
  address_refused: 'That address is not allowed for a friend\'s server (a private or local address).',
  peer_unreachable: 'That server does not answer.',
  origin_blocked: 'The other server blocks yours.',
  origin_quarantined: 'The other server has put yours on hold for review: try again once its owner ends that.',
  host_quarantined: 'You put the server that hosts this room on hold for review: its invitations wait until you end that (Peers).',
  host_blocked: 'You blocked the server that hosts this room: its invitations cannot be accepted.',
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
  // the rest of what the node can answer (test/error-sentences.test.ts reads every code from the source)
  unknown_peer: 'That server is not one of your friends\' servers. Add it first.',
  is_peer: 'That server is one of your friends\' servers: choose allow, block or quarantine for it instead of forgetting it.',
  // Refusals a restored server's recovery gives events a member served it (rooms/own-recovery.ts): logged, said here for completeness.
  not_own_event: 'That event is not one this server sent, so it was not taken back after the restore.',
  wrong_room: 'That event belongs to another room than the one asked about.',
  outside_recovery_window: 'That event was not sent between the backup and the restore, so it was not taken back.',
  favours_member: 'That invitation or role came from the server of the person it favours, so it was not taken back after the restore.',
  unknown_entry: 'That message is not waiting to be sent any more.',
  unknown_cursor: 'The other server lost track of what your server already fetched. It starts over by itself.',
  unknown_item: 'The mailbox holds no such item for your server. Your server acknowledges what it fetched without naming it.',
  unknown_key: 'The other server does not know the key your server signed with. Your keys may have changed: ask your friend to peer again.',
  keys_recently_fetched: 'The other server has not read your server\'s new key yet (it read your keys a few seconds ago). It retries by itself in a few seconds.',
  keys_unavailable: 'The other server could not read your server\'s keys just now, so it could not check this yet. Nothing is lost: it is sent again by itself in a few seconds.',
  unchecked_given_up: 'The other server could not check it: for hours it could not read the keys it was signed with, so it gave up on it.',
  key_expired: 'Your server signed with a key that has expired. It uses its current key when it tries again.',
  unknown_event_type: 'The other server does not know this kind of message.',
  unknown_operation: 'This page asked your node for something it does not know. Update the app.',
  untrusted_sender: 'This window may not control your node. Open it from the Paracord app.',
  internal_error: 'Your node had a problem doing that. Try again; if it keeps happening, look at the node\'s log.',
  storage_failed: 'Your node could not write to its disk just now (is it full?). Nothing was changed; try again, and look at the node\'s log if it keeps happening.',
  bad_request: 'Your node could not understand that request. Reload the page and try again.',
  method_not_allowed: 'Your node could not understand that request. Reload the page and try again.',
  method_not_implemented: 'Your node could not understand that request. Reload the page and try again.',
  setup_refused: 'Your node could not be set up with these settings; see details for why.',
  bad_challenge: 'The page sent something your node could not read. Reload the page.',
  body_too_large: 'That is too large to send.',
  invalid_number: 'A number in that request is too large or not valid.',
  limits_exceeded: 'That request is too large or too deeply nested.',
  backup_failed: 'The backup could not be made. Check the folder and the passphrase file.',
  invalid_invite: 'The invitation the other server sent does not match its request.',
  invalid_membership: 'The join or leave the other server sent does not match its request.',
  event_required: 'The other server left out part of its request.',
  not_a_member_server: 'Your server has nobody in that room any more.',
  not_supported: 'The other server does not offer that.',
  invalid_room: 'That room id cannot be used here.',
  invalid_event: 'A message was not valid and was refused.',
  invalid_content: 'A message had content that is not valid and was refused.',
  invalid_batch: 'A group of messages was not valid and was refused.',
  batch_too_large: 'A group of messages was too large for the other server. It sends smaller groups by itself.',
  depth_in_future: 'A message claimed a place in the room that does not exist yet and was refused.',
  event_id_conflict: 'Two different messages had the same id; the second was refused.',
  event_id_not_origin: 'A message\'s id did not match the server that made it and was refused.',
  not_origin: 'A server sent something only another server may send, and it was refused.',
  sender_not_origin: 'A message named a sender of another server and was refused.',
  state_key_mismatch: 'A member change named the wrong person and was refused.',
  bad_event_signature: 'A message\'s signature could not be checked and it was refused.',
  too_many_relayed_origins: 'The other server relayed messages from too many servers at once. It retries by itself.',
  origin_not_allowed: 'The other server has not added yours as a friend yet.',
  federation_paused: 'The other server has paused all sending and receiving. It retries by itself.',
  not_processed: 'An earlier message of the same group failed; this one is sent again.',
  peer_refused: 'The other server refused it.',
  peering_refused: 'Your friend\'s server refused to peer.',
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

/**
 * A member's page (issue #34) talks to a server someone else runs, not to "your node", and signs
 * in with a passphrase, not a login link: these codes read differently there (`wording.member`,
 * set by api.ts in member mode).
 */
export const MEMBER_SENTENCES: Readonly<Record<string, string>> = {
  // With a network the device is not to blame (a user trial: "Are you online?" under a banner
  // saying this device has a network); without one, `offline` below.
  node_unreachable: 'The server does not answer: it may be down or not reachable from here.',
  device_offline: 'This device is offline: there is no network.',
  connection_lost: 'The connection to the server closed before it answered, so it may have been done. Look before you try again.',
  missing_token: 'You are signed out. Sign in again.',
  invalid_token: 'You are signed out. Sign in again.',
  session_ended: 'You were signed out on this device. Sign in again.',
  internal_error: 'The server had a problem doing that. Try again later.',
  storage_failed: 'The server could not store that just now. Try again later.',
  unknown_room: 'This room is not here, or you are not in it.',
  unknown_user: 'There is no such user on this server.',
  // The owner's trust decisions: a member made none of them.
  host_quarantined: 'The owner of this server has put the server that hosts this room on hold for review: its invitations wait until the owner ends that.',
  host_blocked: 'The owner of this server blocked the server that hosts this room: its invitations cannot be accepted.',
  peer_held: 'The owner of this server has blocked that server or put it on hold: nothing can be sent there for now.',
  peer_not_allowed: 'The owner of this server has not added that server as a friend\'s server: nothing can be sent there.',
  // Words written for the owner, said as a member reads them (a helper's UI check of the members' app).
  name_taken: 'That user name is taken on this server, or reserved. Choose another.',
  node_stopping: 'The server is restarting. Try again in a moment.',
  peer_unreachable: 'The server that hosts this room does not answer. Try again later.',
  member_disabled: 'The owner of this server has turned this account off. Ask them to turn it on again.',
};
export const wording = { member: false };

/**
 * Why the sign-in page shows again on a page that was signed in (its session ended under it): a
 * member's session also ends by itself when it expires (member_sessions.expires_at), as the
 * owner's does.
 */
export const SESSION_ENDED_WHY = {
  owner: 'This browser\'s session ended (it expired, or it was signed out).',
  member: 'You were signed out on this device (the session expired, you signed out elsewhere, your passphrase changed, or the owner of the server ended it).',
} as const;

/**
 * Why another server could not be reached, by the `reason` of the node's 502 `peer_unreachable`
 * (shared/contract/unreachable.ts), in the words its network error's code has (ERROR_SENTENCES).
 * A server that answered, but not as a Paracord server does, or that was never reached at the
 * address it named, is not said to be silent; any other reason says only that it does not answer.
 */
export const UNREACHABLE_SENTENCES: Readonly<Record<UnreachableReason, string>> = {
  name_not_found: ERROR_SENTENCES.ENOTFOUND!,
  name_lookup_failed: ERROR_SENTENCES.EAI_AGAIN!,
  refused: ERROR_SENTENCES.ECONNREFUSED!,
  timeout: ERROR_SENTENCES.ETIMEDOUT!,
  connection_cut: ERROR_SENTENCES.ECONNRESET!,
  no_route: ERROR_SENTENCES.EHOSTUNREACH!,
  network_down: ERROR_SENTENCES.ENETUNREACH!,
  tls: ERROR_SENTENCES.CERT!,
  address_refused: ERROR_SENTENCES.address_refused!,
  never_reached: 'That server has never been reached at the address it gave (it answers only through a friend\'s mailbox or by fetching), so it cannot be asked directly. Try again once it is reachable.',
  bad_answer: 'Something answers at that address, but not as a Paracord server does. Check the address: the server\'s name and its port.',
  other: ERROR_SENTENCES.peer_unreachable!,
};

const NETWORK_CODES = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOENT', 'EACCES'];

/** Why a friend's server could not call this node back (main/core/reachability/probe-caller.ts `classify`), in words. */
const PROBE_REASONS: Array<[RegExp, string]> = [
  [/connection refused/i, 'connection refused (the router does not forward the port, or the node is not running)'],
  [/no answer from|timed? ?out/i, 'no answer in time (a router or firewall probably drops the connection)'],
  [/does not resolve/i, 'this node\'s name does not lead to an address (DNS)'],
  [/TLS failed/i, 'the certificate it was shown is not this node\'s'],
  [/no route to/i, 'there is no route to this node from there'],
  [/was cut/i, 'the connection was cut'],
  [/something else answered|the keys at|does not hold/i, 'something else answers at this node\'s address'],
  [/will not connect/i, 'this node\'s address is a private one, which friends may not call'],
];

/**
 * The reachability self-test's error (issue #15), in words (issue #16 item 11). The node's text
 * names addresses and carries raw causes; that goes to `details`. Its last sentence about testing
 * again (shared/reachability-words.ts) is already plain and stays.
 */
export function explainReachability(raw: string | null | undefined, nextTest?: { at: number | undefined; now: number }): Explained {
  const details = raw ?? '';
  if (!raw) return { text: '', details };
  const parts: string[] = [];
  let m: RegExpExecArray | null;
  // No peer yet, or none that may be asked: the status line already says so.
  if (raw.startsWith(NO_PEER_YET) || raw.startsWith(NO_PEER_CAN_TEST)) return { text: '', details };
  if (raw.startsWith(NOBODY_COULD_ASK)) parts.push('None of your friends\' servers could run the test right now. It tests again by itself.');
  else if (/ is not a peer$/.test(raw)) parts.push(ERROR_SENTENCES.unknown_peer!);
  else if ((m = /^(\S+) could not reach this node: (.*)$/s.exec(raw))) {
    const reason = PROBE_REASONS.find(([pattern]) => pattern.test(m![2]!))?.[1] ?? 'it could not connect';
    parts.push(`${m[1]} could not connect to this node: ${reason}.`);
  } else parts.push('The last test of whether friends can reach this node did not work.');
  if (/A port mapping was made .* but did not help/.test(raw)) parts.push('A port forwarding was set up on the router but did not help, so it was removed.');
  if (/Automatic setup failed/.test(raw)) parts.push('The router could not be set up automatically.');
  const again = /Testing again(?: through \S+)? in \d+ s before switching to pull mode\.$/.exec(raw);
  // Counted down from when the node will test (its sentence says how long it was when written).
  if (again) parts.push(nextTest?.at ? again[0].replace(/in \d+ s/, countdown(nextTest.at - nextTest.now)) : again[0]);
  return { text: parts.join(' '), details };
}

function countdown(ms: number): string {
  return ms >= 1_500 ? fromNow(ms, 0) : 'any moment now';
}

/**
 * The status's backup warning (main/core/backup/records.ts `summary`), in words: a failed
 * scheduled backup carries the raw error (`cannot write /path/x.pcbak: the folder … does not
 * exist`, `ENOENT: no such file or directory, open '…'`), which goes to `details`. The other
 * warnings are already sentences.
 */
export function explainBackupWarning(warning: string | null | undefined, nextTry?: { at: number | null | undefined; now: number }): Explained & { command?: string } {
  let details = warning ?? '';
  // "No backup yet: run `paracord-node backup …`, or set a backup schedule." (records.ts): said in
  // words, the command apart (shown as code), not with its backticks (a user trial; a desktop
  // user has no command line: the card's "Back up now" is named first).
  let command: string | undefined;
  details = details.replace(/No backup yet: run `([^`]+)`, or set a backup schedule\./, (_all, cmd: string) => {
    command = cmd;
    return 'No backup yet: make one with "Back up now", or set a backup schedule.';
  });
  const withCommand = (e: Explained) => (command ? { ...e, command } : e);
  // Other warnings (already sentences) come first; the failure with its raw error is last.
  const failed = /^(.*?)The last scheduled backup failed: (.*)$/s.exec(details);
  if (!failed) return withCommand({ text: details, details: '' });
  const before = failed[1]!;
  const raw = failed[2]!;
  const why = passphraseFileWords(raw)?.replace(/^The/, 'the') ?? (/passphrase/i.test(raw) ? 'the passphrase file cannot be read (or is empty).'
    : /ENOENT|does not exist|no such file/i.test(raw) ? 'the backup folder does not exist any more.'
    : /EACCES|EPERM|EROFS/.test(raw) ? 'the node may not write into the backup folder.'
    : /ENOSPC|EDQUOT/.test(raw) ? 'the disk is full.'
    : / can be written by /.test(raw) ? 'other users of this machine can write into the backup folder (they could replace a backup there).'
    : 'something went wrong while writing it.');
  // When, as the node will (its status's `next_at`): the schedule's line below says the same time.
  const next = nextTry?.at ? fromNow(nextTry.at, nextTry.now) : '';
  const again = next === '' ? 'It tries again within an hour.' : next === 'now' ? 'It tries again any moment now.' : `It tries again ${next}.`;
  return withCommand({ text: `${before}The last scheduled backup failed: ${why} ${again}`, details: raw });
}

/**
 * A backup folder the node refused (`invalid_backup_dir` with `reason` and `dir`: the admin API's
 * backups), in words with what to do; null for a reason this page does not know (the general sentence then).
 */
export function backupDirWords(reason: unknown, dir: unknown): string | null {
  const d = typeof dir === 'string' ? dir : 'that folder';
  switch (reason) {
    case 'no_such_folder': return `There is no folder ${d} on the node's machine: create it first, or give another one.`;
    case 'not_a_folder': return `${d} is not a folder (a file is in the way): give a folder.`;
    case 'not_writable': return `The node may not write into ${d}: give it write access to that folder, or choose another.`;
    case 'other_owner': return `${d} belongs to another user of this machine, who could replace or remove a backup there: choose a folder of your own.`;
    case 'writable_by_others': return `Other users of this machine can write into ${d}, so they could replace or remove a backup there. Choose a folder only you can write into, or take their write access away with the command chmod o-w,g-w ${d}`;
    case 'inside_data_dir': return `${d} is inside the node's own data folder: choose a folder somewhere else (another disk is best).`;
    default: return null;
  }
}

/** Why a backup passphrase file was refused (main/core/backup/passphrase-file.ts), in words; null for other reasons. */
export function passphraseFileWords(raw: string): string | null {
  const file = /the passphrase file (.+?) (?:can be changed|is not a regular|is larger than)/.exec(raw)?.[1];
  if (!file) return null;
  if (/can be changed by every user/.test(raw)) return `The passphrase file can be changed by every user of this machine: make it yours alone with the command chmod 600 ${file}, or copy it into a folder of your own.`;
  if (/is not a regular file/.test(raw)) return 'The passphrase file is not a regular file (a device, a pipe or a folder): give a file holding the passphrase.';
  return 'The passphrase file is larger than 4 KiB: it should hold one line, the passphrase.';
}

/** A delivery failure or other raw cause line, in words; unknown causes get a general sentence. */
export function explainCause(raw: string | null | undefined): Explained {
  const details = raw ?? '';
  if (!raw) return { text: '', details };
  // Something else answered at their address (a proxy's or a portal's page): retried, not refused
  // (delivery-outcomes.ts, delivery-route.ts), whatever a mailbox said after it.
  if (/^(HTTP \d{3}: )?its address answered (HTTP \d{3} )?with a page|^HTTP 2\d\d: the answer was not its receipt of the event/.test(raw)) {
    return { text: 'Something else answered at their address (their server is down or being updated). It retries by itself.', details };
  }
  // A friend's mailbox answered, not the server it keeps mail for (shared/mailbox-answer.ts).
  const carried = parseMailboxAnswer(raw);
  if (carried) {
    // Too large for the mailbox, whatever its code says: not "too large to send" (it may go another way).
    if (/^HTTP 413\b/.test(carried.answer)) return { text: `The mailbox at ${carried.mailbox} refused it as too large.`, details };
    const said = explainCause(carried.answer).text;
    const text = said.startsWith('The other server') ? said.replace('The other server', `The mailbox at ${carried.mailbox}`) : `The mailbox at ${carried.mailbox} did not take it. ${said}`;
    return { text, details };
  }
  // A group of messages refused as a whole (outbox/delivery-batches.ts): smaller groups follow by themselves.
  const batch = /^batch refused \(\d+ events\): HTTP (\d{3})/.exec(raw);
  if (batch) {
    const text = batch[1] === '404' ? 'The other server does not take groups of messages. Your server sends them one by one by itself.' : 'The other server did not take a group of messages this large. Your server sends smaller groups by itself.';
    return { text, details };
  }
  for (const code of NETWORK_CODES) if (raw.includes(code)) return { text: ERROR_SENTENCES[code]!, details };
  if (/getaddrinfo/i.test(raw)) return { text: ERROR_SENTENCES.ENOTFOUND!, details };
  if (/certificate|fingerprint|self[- ]signed|CERT_/i.test(raw)) return { text: ERROR_SENTENCES.CERT!, details };
  if (/timeout|timed out/i.test(raw)) return { text: ERROR_SENTENCES.ETIMEDOUT!, details };
  if (/fetch failed|socket|network/i.test(raw)) return { text: 'Their server could not be reached.', details };
  if (raw === 'expired') return { text: 'It waited too long and was given up.', details };
  // The browser's passkey library: this device's passkey for the account is there already.
  if (/previously registered/i.test(raw)) return { text: 'This device already has a passkey for your account (it is in the list).', details };
  const code = /\b([a-z]+(?:_[a-z]+)+)\b/.exec(raw)?.[1];
  const sentence = code ? ownValue(ERROR_SENTENCES, code) : undefined;
  if (sentence) return { text: sentence, details };
  const status = /HTTP (\d{3})/.exec(raw)?.[1];
  if (status) return { text: statusSentence(Number(status)), details };
  return { text: 'Something went wrong.', details };
}

function statusSentence(status: number): string {
  if (status === 401 || status === 403) return 'The other server refused it.';
  if (status === 404) return 'The other server does not know this.';
  if (status === 413) return 'The other server refused it as too large.';
  if (status === 429) return ERROR_SENTENCES.rate_limited!;
  if (status >= 500) return 'The other server had a problem. It retries by itself.';
  return 'The other server refused it.';
}

/**
 * Whether a delivery's error is a server's answer that it gave the event up unchecked (a pull ack's
 * `unchecked_given_up`): it never judged the event, so "refused by" would not be true.
 */
export function isGivenUpUnchecked(raw: string | null | undefined): boolean {
  return /^HTTP \d{3} unchecked_given_up\b/.test(raw ?? '');
}

/**
 * A call that got no answer at all (fetch's TypeError, a network failure), not an answer of the
 * node nor a connection that closed under a call (ConnectionLost: it may have been done).
 */
export function isNoAnswer(error: unknown): boolean {
  if (error instanceof AdminError || error instanceof ConnectionLost) return false;
  return error instanceof TypeError || (error instanceof Error && /fetch|network|Failed to fetch/i.test(error.message));
}

/** Any error a call to the node threw, in words, with the raw cause as details. */
export function explainError(error: unknown): Explained {
  if (error instanceof AdminError) {
    const details = `${error.code} (${error.status}): ${error.message}`;
    // The server says when to try again ("too many attempts, try again in 12 minutes"): kept, in words.
    if (error.code === 'too_many_attempts') return { text: tooManyAttemptsText(error.message), details };
    const passphraseFile = error.code === 'invalid_passphrase_file' ? passphraseFileWords(error.message) : null;
    if (passphraseFile) return { text: passphraseFile, details };
    // The other server answered "not now" (paused, its limit, its failure): not a refusal, and
    // nothing retries a join or an invitation by itself (a helper's UI check of the members' app).
    if (error.code === 'peer_refused' && (error.status >= 500 || error.status === 429)) {
      const theirs = /\(([a-z][a-z0-9_]*)\)/.exec(error.message)?.[1];
      const theirSentence = theirs ? ownValue(ERROR_SENTENCES, theirs) : undefined;
      const why = theirSentence ? ` ${theirSentence.replace(/ It retries by itself\.$/, '')}` : '';
      return { text: `The other server did not take it just now.${why} Try again later.`, details };
    }
    // This node's own limit: nothing retries a request it refused (the peers' 429, which deliveries do retry, keeps its words).
    if (error.code === 'rate_limited') {
      const wait = /retry in (\d+) s/.exec(error.message)?.[1];
      return { text: `Too many requests from this device or network just now. ${wait ? `Try again in ${wait} s.` : 'Wait a moment, then try again.'}`, details };
    }
    // Why another server could not be reached, when the node says (a name that does not exist, a
    // refused connection): an invitation to a server that is no friend and does not exist read
    // "Your friend's server does not answer" (a user trial).
    if (error.code === 'peer_unreachable' && !wording.member) {
      const reason = error.details.reason;
      // A reason this page does not know (a newer node's) is told as none: it does not answer.
      if (typeof reason === 'string') return { text: isUnreachableReason(reason) ? UNREACHABLE_SENTENCES[reason] : ERROR_SENTENCES.peer_unreachable!, details };
      // An older node gives no reason: its message's words are read, only the reason in them (the
      // server's name before it could match a pattern: timeout.example).
      const cause = explainCause(error.message.replace(/^\S+ could not be reached: /, ''));
      if (cause.text !== 'Something went wrong.' && cause.text !== ERROR_SENTENCES.peer_unreachable) return { text: cause.text, details };
    }
    const memberSentence = wording.member ? ownValue(MEMBER_SENTENCES, error.code) : undefined;
    if (memberSentence) return { text: memberSentence, details };
    // Why the node refused a backup folder, when it says (a user trial: the general sentence hid the fix it gave).
    if (error.code === 'invalid_backup_dir') {
      const words = backupDirWords(error.details.reason, error.details.dir);
      if (words) return { text: words, details };
    }
    const known = ownValue(ERROR_SENTENCES, error.code);
    if (known) {
      // For input errors the node's message names the field: keep it, without the schema path noise.
      if (error.code === 'invalid_input') return { text: `${ERROR_SENTENCES.invalid_input} ${fieldHint(error.message)}`.trim(), details };
      return { text: known, details };
    }
    const cause = explainCause(error.message);
    if (cause.text !== 'Something went wrong.') return { text: cause.text, details };
    if (error.status >= 500) return { text: wording.member ? MEMBER_SENTENCES.internal_error! : 'Your node had a problem doing that. Try again; if it keeps happening, look at the node\'s log.', details };
    return { text: wording.member ? 'The server refused that.' : 'Your node refused that.', details };
  }
  const sentences = wording.member ? { ...ERROR_SENTENCES, ...MEMBER_SENTENCES } : ERROR_SENTENCES;
  if (error instanceof ConnectionLost) return { text: sentences.connection_lost!, details: error.message };
  if (isNoAnswer(error)) {
    const offline = wording.member && typeof navigator !== 'undefined' && navigator.onLine === false;
    return { text: offline ? MEMBER_SENTENCES.device_offline! : sentences.node_unreachable!, details: error instanceof Error ? error.message : String(error) };
  }
  const details = error instanceof Error ? error.message : String(error);
  const cause = explainCause(details);
  return { text: cause.text || 'Something went wrong.', details };
}

/** The server's "too many attempts, try again in N minutes", in the UI's words (the wait kept). */
export function tooManyAttemptsText(message: string): string {
  const minutes = /(\d+)\s*minute/.exec(message)?.[1];
  const seconds = /(\d+)\s*second/.exec(message)?.[1];
  const wait = minutes ? `${minutes} ${minutes === '1' ? 'minute' : 'minutes'}` : seconds ? `${seconds} ${seconds === '1' ? 'second' : 'seconds'}` : '';
  return wait ? `Too many attempts to sign in. Try again in ${wait}.` : ERROR_SENTENCES.too_many_attempts!;
}

/** Fields the node names in an input error, as the forms label them (a tester read "Dir:"). */
const FIELD_WORDS: Readonly<Record<string, string>> = {
  dir: 'Backup folder',
  passphrase_file: 'Passphrase file',
  keep: 'Backups to keep',
  user_id: 'User',
  room_id: 'Room id',
  // The other forms' fields, as they are labelled (lib/form-error.svelte.ts marks them).
  endpoint: 'Server address',
  key_id: 'Key id',
  public_key: 'Public key',
  tls_fingerprint: 'Certificate fingerprint',
  display_name: 'Display name',
  note: 'Who it is for',
  until_ms: 'End after',
  per_second: 'Requests per second',
  public_url: 'Public address',
  tls_cert_file: 'Certificate file',
  tls_key_file: 'Private key file',
  identity_backup: 'Identity backup',
  localpart: 'User name',
  q: 'Search',
  body: 'Message',
  members_may_create_rooms: 'Members may create rooms',
  default: 'Servers you never added',
};

/** The node's message of an input error, split: the field (its last path part) and the broken rule. */
function invalidPart(message: string): { field: string; rule: string } | null {
  const first = message.split(/;\s*/)[0] ?? '';
  const match = /^([a-z_.0-9]+):\s*(.+)$/.exec(first);
  if (!match) return null;
  return { field: match[1]!.split('.').filter((part) => !/^\d+$/.test(part)).pop() ?? '', rule: match[2]! };
}

/**
 * The field an input error is about (`dir`, `user_id`…), for the form to mark it (aria-invalid):
 * null for any other error. The node names the first broken field.
 */
export function invalidField(error: unknown): string | null {
  if (!(error instanceof AdminError) || error.code !== 'invalid_input') return null;
  return invalidPart(error.message)?.field || null;
}

/** "rate_limit.per_second: Too small: expected number to be >0" → "Per second: must be above 0." (no schema paths, no zod wording). */
export function fieldHint(message: string): string {
  const part = invalidPart(message);
  if (!part) return '';
  const label = ownValue(FIELD_WORDS, part.field) ?? part.field.replace(/_/g, ' ');
  return `${label.charAt(0).toUpperCase()}${label.slice(1)}: ${plainRule(part.rule)}.`.replace(/\.\.$/, '.');
}

/** The node's own rules that name a format by its parts, as a person writes it. */
const RULE_WORDS: Readonly<Record<string, string>> = {
  'must be an absolute path': 'must be a full path starting with /',
  'must look like !opaque:server': 'must look like !1234567890:friend.example',
  'must look like @localpart:server': 'must look like @name:server.example (a user name, then the name of their server)',
};

/** Zod's wording of a broken rule, in plain words; the node's own rules (already words) pass unchanged. */
export function plainRule(rule: string): string {
  const ruleWords = ownValue(RULE_WORDS, rule);
  if (ruleWords) return ruleWords;
  let m: RegExpExecArray | null;
  if ((m = /^Too small: expected number to be >(=?)(-?[\d.]+)/.exec(rule))) return m[1] ? `must be ${m[2]} or more` : `must be above ${m[2]}`;
  if ((m = /^Too big: expected number to be <(=?)(-?[\d.]+)/.exec(rule))) return m[1] ? `must be ${m[2]} or less` : `must be below ${m[2]}`;
  if ((m = /^Too small: expected string to have >=?(\d+) characters?/.exec(rule))) return m[1] === '1' ? 'must not be empty' : `needs at least ${m[1]} characters`;
  if ((m = /^Too big: expected string to have <=?(\d+) characters?/.exec(rule))) return `may have at most ${m[1]} characters`;
  if ((m = /^Too small: expected array to have >=?(\d+) items?/.exec(rule))) return `needs at least ${m[1]}`;
  if ((m = /^Too big: expected array to have <=?(\d+) items?/.exec(rule))) return `may have at most ${m[1]}`;
  if (/^Invalid input: expected \w+, received undefined/.test(rule)) return 'is missing';
  if (/^Invalid input: expected (number|int|bigint)/.test(rule)) return 'must be a whole number';
  if (/^Invalid input: expected string/.test(rule)) return 'must be text';
  if (/^Invalid input: expected boolean/.test(rule)) return 'must be yes or no';
  if (/^Invalid option/.test(rule)) return 'is not one of the choices';
  if (/^Invalid (string|format|URL|url|email)/.test(rule)) return 'is not written the right way';
  if (/^Unrecognized key/.test(rule)) return 'does not belong here';
  if (/^(Invalid|Too small|Too big|Expected)\b/.test(rule)) return 'is not valid';
  return rule;
}
