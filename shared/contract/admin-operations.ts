/**
 * The admin contract (docs/ARCHITECTURE.md §The admin contract): every admin operation defined once — name, HTTP method
 * and path, input schema, output type. The HTTP admin API and the Electron IPC bridge are
 * both served from this table; the renderer's client is generated from it.
 *
 * An operation's input is one object: path parameters, query parameters and the JSON body
 * merged. Schemas are strict: unknown fields are refused.
 */
import { z } from 'zod';
import { EVENT_ID, KEY_ID, HEX_PUBLIC_KEY, LOCALPART, ROOM_ID, atMostCodePoints, canonicalServerName, isSafeDisplayName, isSafeReactionKey, isUserId, isUserIdOfAnyDialect } from '../identifiers.ts';
import { endpointFromAnyUrl } from '../endpoint.ts';

/** A server name as the owner types it, canonicalised (shared/identifiers.ts); numeric/hex/octal IPv4 spellings are refused. */
export const serverNameSchema = z.string().transform((s, ctx) => {
  const canonical = canonicalServerName(s);
  if (canonical === null) {
    ctx.addIssue({ code: 'custom', message: 'must be a host name (letters, digits, dots, dashes), a dotted-quad IPv4 address or a bracketed IPv6 address, with an optional :port' });
    return z.NEVER;
  }
  return canonical;
});

/** A server's address as the owner pastes it: base URL, federation URL or any link on it (shared/endpoint.ts). */
const peerAddressSchema = z.string().transform((s, ctx) => {
  const checked = endpointFromAnyUrl(s);
  if (!checked.ok) {
    ctx.addIssue({ code: 'custom', message: `must be an http(s) URL such as https://example.org:8448: ${checked.reason}` });
    return z.NEVER;
  }
  return checked.endpoint;
});

export const trustModeSchema = z.enum(['allow', 'block', 'quarantine']);
export const defaultPolicySchema = z.enum(['allowlist', 'open']);
const fingerprintSchema = z
  .string()
  .regex(/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, 'must be a SHA-256 fingerprint like AB:CD:…')
  .transform((s) => s.toUpperCase());

const userId = z.string().refine(isUserId, 'must look like @localpart:server');
const anyDialectUserId = z.string().refine(isUserIdOfAnyDialect, 'must look like @localpart:server');
const roomId = z.string().max(255).regex(ROOM_ID, 'must look like !opaque:server');
const eventId = z.string().max(255).regex(EVENT_ID, 'must look like $opaque:server');
/** The local user an operation acts as; the owner when absent. */
const actingUser = { user_id: userId.optional() };
/** Messages one `POST /rooms/:room_id/messages/batch` may carry. */
export const MAX_MESSAGES_PER_BATCH = 100;
/**
 * A client's own id for one send (docs/ARCHITECTURE.md "Admin stream"): the same id again within a
 * day answers the message stored the first time and stores nothing new, so a send can be
 * repeated safely after a connection closed before its answer.
 */
const txnId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, - or _');
// Counted without an array of its characters (issue #17: `[...s]` built one per message sent).
const messageBody = z.string().min(1, 'must not be empty').refine((s) => atMostCodePoints(s, 4000), 'must be at most 4000 characters');
const reactionKey = z
  .string()
  .min(1, 'must not be empty')
  .refine((s) => atMostCodePoints(s, 32), 'must be at most 32 characters')
  // eslint-disable-next-line no-control-regex
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must not contain control characters')
  .refine(isSafeReactionKey, 'must not contain bidi control or invisible characters');

const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  // eslint-disable-next-line no-control-regex
  .refine((s) => !/[\u0000-\u001f]/.test(s), 'must not contain control characters')
  .refine((s) => s.startsWith('/') || /^[A-Za-z]:[\\/]/.test(s), 'must be an absolute path');

const rateLimitSchema = z.strictObject({ per_second: z.number().positive().max(100_000), burst: z.number().int().positive().max(1_000_000) });

export const adminOperations = {
  getStatus: { method: 'GET', path: '/status', input: z.strictObject({}) },
  createLoginLink: { method: 'POST', path: '/login-links', input: z.strictObject({}) },
  /** Browser sessions (issue #16 item 1): the active ones, revoke one, sign this one out. */
  listSessions: { method: 'GET', path: '/sessions', input: z.strictObject({}) },
  revokeSession: { method: 'DELETE', path: '/sessions/:id', input: z.strictObject({ id: z.string().regex(/^ses_[A-Za-z0-9_-]{1,32}$/, 'not a session id') }) },
  logout: { method: 'POST', path: '/logout', input: z.strictObject({}) },
  setup: {
    method: 'POST',
    path: '/setup',
    input: z.strictObject({
      server_name: serverNameSchema,
      /** Where friends reach this node, when not https://<server_name>:<port>. */
      public_url: z.url({ protocol: /^https?$/ }).optional(),
      /** Contents of a backed-up identity.json, to keep an existing identity. */
      identity_backup: z.string().max(64 * 1024).optional(),
      /** Your own certificate instead of a generated self-signed one (PEM file paths on this machine). */
      tls_cert_file: z.string().min(1).max(4096).optional(),
      tls_key_file: z.string().min(1).max(4096).optional(),
    }).refine((s) => (s.tls_cert_file === undefined) === (s.tls_key_file === undefined), { message: 'give the certificate and its key together', path: ['tls_cert_file'] }),
  },
  checkReachability: { method: 'POST', path: '/setup/check', input: z.strictObject({}) },
  backupIdentity: { method: 'GET', path: '/keys/backup', input: z.strictObject({}) },
  listPeers: { method: 'GET', path: '/peers', input: z.strictObject({}) },
  addPeer: {
    method: 'POST',
    path: '/peers',
    input: z
      .strictObject({
        // Optional when an endpoint is given: then the server's discovery names it.
        server_name: serverNameSchema.optional(),
        // Its base URL, its federation URL (…/_paracord/federation/v1) or any link on it: the origin is kept.
        endpoint: peerAddressSchema.optional(),
        key_id: z.string().regex(KEY_ID, 'must look like ed25519:<1-32 letters, digits or _>').optional(),
        public_key: z.string().regex(HEX_PUBLIC_KEY, 'must be 64 lowercase hex characters').optional(),
        tls_fingerprint: fingerprintSchema.optional(),
        // The owner confirms changing an existing peer's endpoint, certificate or key (else 409 already_peer).
        replace: z.literal(true).optional(),
        // The server runs the Paracord reference, this version ('0.8': v0.8.5; '3': 3.x), for when
        // its discovery is off (a 3.x one answers 404 unless its admin enables it).
        reference_version: z.enum(['0.8', '3']).optional(),
      })
      .refine((p) => p.reference_version === undefined || (p.key_id !== undefined && p.server_name !== undefined && p.endpoint !== undefined), {
        message: 'reference_version needs the server name, its endpoint and its key (key_id and public_key): its discovery may be off',
        path: ['reference_version'],
      })
      .refine((p) => (p.key_id === undefined) === (p.public_key === undefined), {
        message: 'give key_id and public_key together, or neither (to fetch them)',
        path: ['key_id'],
      })
      .refine((p) => p.server_name !== undefined || p.endpoint !== undefined, {
        message: 'give the server name, its address, or both',
        path: ['server_name'],
      }),
  },
  setPeerTrust: {
    method: 'PUT',
    path: '/peers/:server_name/trust',
    input: z.strictObject({
      server_name: serverNameSchema,
      mode: trustModeSchema,
      reason: z.string().max(500).optional(),
      until_ms: z.number().int().positive().optional(),
      /** null: back to the node's default rate limit. */
      rate_limit: rateLimitSchema.nullable().optional(),
    }),
  },
  getPolicy: { method: 'GET', path: '/policy', input: z.strictObject({}) },
  setPolicy: {
    method: 'PUT',
    path: '/policy',
    input: z
      .strictObject({
        default: defaultPolicySchema.optional(),
        rate_limit: rateLimitSchema.optional(),
        auto_quarantine: z
          .strictObject({
            signature_failures: z.number().int().min(0).max(1_000_000),
            rate_limited: z.number().int().min(0).max(100_000_000),
            window_seconds: z.number().int().min(1).max(7 * 24 * 3600),
          })
          .optional(),
      })
      .refine((p) => Object.keys(p).length > 0, 'give at least one of default, rate_limit, auto_quarantine'),
  },
  listQuarantine: { method: 'GET', path: '/quarantine', input: z.strictObject({ server_name: serverNameSchema.optional() }) },
  releaseQuarantine: { method: 'POST', path: '/quarantine/:server_name/release', input: z.strictObject({ server_name: serverNameSchema }) },
  purgeQuarantine: { method: 'POST', path: '/quarantine/:server_name/purge', input: z.strictObject({ server_name: serverNameSchema }) },

  listUsers: { method: 'GET', path: '/users', input: z.strictObject({}) },
  createUser: {
    method: 'POST',
    path: '/users',
    input: z.strictObject({ localpart: z.string().regex(LOCALPART, 'must be 1-64 of a-z 0-9 . _ = - /') }),
  },
  listRooms: { method: 'GET', path: '/rooms', input: z.strictObject({ ...actingUser }) },
  createRoom: {
    method: 'POST',
    path: '/rooms',
    input: z.strictObject({
      name: z.string().trim().min(1, 'must not be empty').max(100).refine(isSafeDisplayName, 'must not contain control, bidi or invisible characters'),
      ...actingUser,
    }),
  },
  getRoom: { method: 'GET', path: '/rooms/:room_id', input: z.strictObject({ room_id: roomId }) },
  listMessages: {
    method: 'GET',
    path: '/rooms/:room_id/messages',
    input: z.strictObject({
      room_id: roomId,
      limit: z.coerce.number().int().min(1).max(500).default(50),
      /** Only messages before this one (display order): the page above it, for scrolling up. */
      before: eventId.optional(),
      /**
       * Only the messages that changed after this `cursor` of an earlier answer (new ones, and those
       * an edit, delete or reaction named since): the answer then says `changes: true`. When that
       * cannot be told (an old cursor, more than `limit` changes, a membership or role changed) the
       * answer is the newest page, without `changes`.
       */
      since: z.string().regex(/^\d{1,15}-\d{1,10}$/, 'must be a cursor from an earlier answer').optional(),
      /**
       * With `since`: these messages are in the answer too, changed or not (own messages whose
       * delivery changed: the `delivery` notification names them). At most 100; in a query string,
       * separated by commas.
       */
      also: z.preprocess((v) => (typeof v === 'string' ? v.split(',') : v), z.array(eventId).max(100, 'at most 100 ids')).optional(),
      ...actingUser,
    })
      .refine((x) => !(x.since !== undefined && x.before !== undefined), { message: 'give either before or since, not both', path: ['since'] })
      .refine((x) => x.also === undefined || x.since !== undefined, { message: 'also needs since', path: ['also'] }),
  },
  sendMessage: { method: 'POST', path: '/rooms/:room_id/messages', input: z.strictObject({ room_id: roomId, body: messageBody, txn_id: txnId.optional(), ...actingUser }) },
  /**
   * Several messages in one request and one transaction (issue #17: a client that has more than
   * one message to send — a paste of lines, a queue flushed after reconnecting, a pipelining
   * client — pays one request, not one each). All are stored, in order, or none.
   */
  sendMessages: {
    method: 'POST',
    path: '/rooms/:room_id/messages/batch',
    input: z.strictObject({ room_id: roomId, messages: z.array(z.strictObject({ body: messageBody, txn_id: txnId.optional() })).min(1).max(MAX_MESSAGES_PER_BATCH), ...actingUser }),
  },
  editMessage: {
    method: 'PATCH',
    path: '/rooms/:room_id/messages/:event_id',
    input: z.strictObject({ room_id: roomId, event_id: eventId, body: messageBody, ...actingUser }),
  },
  deleteMessage: {
    method: 'DELETE',
    path: '/rooms/:room_id/messages/:event_id',
    input: z.strictObject({ room_id: roomId, event_id: eventId, reason: z.string().max(500).optional(), ...actingUser }),
  },
  addReaction: {
    method: 'PUT',
    path: '/rooms/:room_id/messages/:event_id/reactions/:key',
    input: z.strictObject({ room_id: roomId, event_id: eventId, key: reactionKey, ...actingUser }),
  },
  removeReaction: {
    method: 'DELETE',
    path: '/rooms/:room_id/messages/:event_id/reactions/:key',
    input: z.strictObject({ room_id: roomId, event_id: eventId, key: reactionKey, ...actingUser }),
  },
  inviteToRoom: {
    method: 'POST',
    path: '/rooms/:room_id/invites',
    input: z.strictObject({
      room_id: roomId,
      // A Paracord reference server's users may have Unicode names (the node checks that server's dialect).
      user_id: anyDialectUserId,
      inviter: userId.optional(),
      max_age_seconds: z.number().int().min(1).max(30 * 24 * 3600).optional(),
    }),
  },
  leaveRoom: { method: 'POST', path: '/rooms/:room_id/leave', input: z.strictObject({ room_id: roomId, ...actingUser }) },
  /** Join a room hosted on another server that admits us (a Paracord reference server's federated guild). */
  joinRemoteRoom: { method: 'POST', path: '/rooms/join', input: z.strictObject({ room_id: roomId, ...actingUser }) },
  // Moderation (issue #20): `actor` is the local user acting (the owner when absent); the subject
  // may be a user of a Paracord reference peer, whose ids follow its grammar (issue #20 item 8).
  removeMember: {
    method: 'POST',
    path: '/rooms/:room_id/members/:user_id/remove',
    input: z.strictObject({ room_id: roomId, user_id: anyDialectUserId, reason: z.string().max(500).optional(), ban: z.boolean().optional(), actor: userId.optional() }),
  },
  listBans: { method: 'GET', path: '/rooms/:room_id/bans', input: z.strictObject({ room_id: roomId }) },
  unbanMember: {
    method: 'DELETE',
    path: '/rooms/:room_id/bans/:user_id',
    input: z.strictObject({ room_id: roomId, user_id: anyDialectUserId, reason: z.string().max(500).optional(), actor: userId.optional() }),
  },
  setMemberRole: {
    method: 'PUT',
    path: '/rooms/:room_id/members/:user_id/role',
    input: z.strictObject({ room_id: roomId, user_id: anyDialectUserId, role: z.enum(['moderator', 'member']), actor: userId.optional() }),
  },
  markRead: { method: 'POST', path: '/rooms/:room_id/read', input: z.strictObject({ room_id: roomId, event_id: eventId, ...actingUser }) },
  searchMessages: {
    method: 'GET',
    path: '/search',
    input: z.strictObject({
      q: z.string().max(500, 'must be at most 500 characters').default(''),
      room_id: roomId.optional(),
      limit: z.coerce.number().int().min(1).max(200).default(50),
      ...actingUser,
    }),
  },
  listInvites: { method: 'GET', path: '/invites', input: z.strictObject({ ...actingUser }) },
  declineInvite: {
    method: 'POST',
    path: '/invites/:invite_id/decline',
    input: z.strictObject({ invite_id: z.string().regex(/^inv_[A-Za-z0-9_-]{1,64}$/, 'not an invite id'), ...actingUser }),
  },
  acceptInvite: {
    method: 'POST',
    path: '/invites/:invite_id/accept',
    input: z.strictObject({ invite_id: z.string().regex(/^inv_[A-Za-z0-9_-]{1,64}$/, 'not an invite id'), ...actingUser }),
  },
  createPeerInvite: {
    method: 'POST',
    path: '/invites/peer',
    input: z.strictObject({
      expires_in_seconds: z.number().int().min(1).max(90 * 24 * 3600).optional(),
      note: z.string().max(200).optional(),
    }),
  },
  listPeerInvites: { method: 'GET', path: '/invites/peer', input: z.strictObject({}) },
  revokePeerInvite: { method: 'DELETE', path: '/invites/peer/:id', input: z.strictObject({ id: z.string().regex(/^peer_[A-Za-z0-9_-]{1,32}$/, 'not a peer invite id') }) },
  redeemPeerInvite: { method: 'POST', path: '/invites/peer/redeem', input: z.strictObject({ link: z.string().min(1).max(4096) }) },
  /** Reads a friend's link without redeeming it: who it would peer with, to confirm first. */
  previewPeerInvite: { method: 'POST', path: '/invites/peer/preview', input: z.strictObject({ link: z.string().min(1).max(4096) }) },
  getKeys: { method: 'GET', path: '/keys', input: z.strictObject({}) },
  rotateKey: { method: 'POST', path: '/keys/rotate', input: z.strictObject({}) },
  announceNextKey: { method: 'POST', path: '/keys/announce', input: z.strictObject({}) },
  getQueue: {
    method: 'GET',
    path: '/queue',
    input: z.strictObject({
      state: z.enum(['pending', 'failed', 'expired']).optional(),
      destination: serverNameSchema.optional(),
      limit: z.coerce.number().int().min(1).max(5000).default(500),
    }),
  },
  retryQueueEntry: { method: 'POST', path: '/queue/:id/retry', input: z.strictObject({ id: z.coerce.number().int().positive() }) },
  dropQueueEntry: { method: 'DELETE', path: '/queue/:id', input: z.strictObject({ id: z.coerce.number().int().positive() }) },
  listAttempts: {
    method: 'GET',
    path: '/attempts',
    input: z.strictObject({ destination: serverNameSchema.optional(), limit: z.coerce.number().int().min(1).max(5000).default(200) }),
  },
  getBackupSchedule: { method: 'GET', path: '/backups/schedule', input: z.strictObject({}) },
  setBackupSchedule: {
    method: 'PUT',
    path: '/backups/schedule',
    input: z.strictObject({
      /** An absolute folder on the node's machine; backups are named paracord-<server>-<time>.pcbak. */
      dir: absolutePath,
      every: z.enum(['hourly', 'daily', 'weekly']).default('daily'),
      /** How many of the newest backups stay in the folder. */
      keep: z.number().int().min(1).max(1000).default(7),
      /** A file whose first line is the passphrase; the backups are encrypted with it. */
      passphrase_file: absolutePath.optional(),
    }),
  },
  deleteBackupSchedule: { method: 'DELETE', path: '/backups/schedule', input: z.strictObject({}) },
  listBackups: { method: 'GET', path: '/backups', input: z.strictObject({}) },
  runBackup: {
    method: 'POST',
    path: '/backups/run',
    input: z.strictObject({ out: absolutePath.optional(), passphrase_file: absolutePath.optional() }),
  },
  getReachability: { method: 'GET', path: '/reachability', input: z.strictObject({}) },
  /** A friend's node as a mailbox (issue #32): what this node holds for friends, where it fetches its own, and the owner's switch. */
  getMailbox: { method: 'GET', path: '/mailbox', input: z.strictObject({}) },
  setMailbox: { method: 'PUT', path: '/mailbox', input: z.strictObject({ enabled: z.boolean() }) },
  /** Runs a fresh self-test: asks `via` (or any reachable peer) to call this node back. */
  runReachabilityCheck: { method: 'POST', path: '/reachability/check', input: z.strictObject({ via: serverNameSchema.optional() }) },
  pauseFederation: { method: 'POST', path: '/federation/pause', input: z.strictObject({}) },
  resumeFederation: { method: 'POST', path: '/federation/resume', input: z.strictObject({}) },
} as const;

export type AdminOperationName = keyof typeof adminOperations;
export type AdminInput<N extends AdminOperationName> = z.output<(typeof adminOperations)[N]['input']>;

export interface NodeStatus {
  mode: 'running' | 'setup';
  setup_required: boolean;
  server_name: string | null;
  key_id: string | null;
  public_key: string | null;
  /** The signing key as friends see it when they use your link (SHA-256, first 16 bytes). */
  key_fingerprint?: string | null;
  federation: { paused: boolean; url: string | null; tls_fingerprint: string | null };
  peers: number;
  peer_counts: { allow: number; block: number; quarantine: number };
  queue: { pending: number; failed: number };
  version: string;
  uptime_ms: number;
  /** The last backup (CLI or scheduled) and a warning when there is none, it is old or failed, or backups are not encrypted. */
  backup: { last_at: number | null; scheduled: boolean; warning: string | null };
  /** How the private keys are kept at rest: sealed by the OS keychain, or a 0600 file (with a warning where nothing better exists). */
  key_storage: { sealed_by: string | null; warning: string | null };
  /** Things the owner should look at, one sentence each (peers over their storage quota, the log cannot be written: disk full, …). */
  warnings?: string[];
  /** Can friends reach this node (issue #15); absent in setup mode. `summary`: the tray's line. */
  reachability?: Reachability & { summary: string };
}

export interface PeerView {
  server_name: string;
  trust: z.infer<typeof trustModeSchema>;
  endpoint: string | null;
  tls_fingerprint: string | null;
  reason: string | null;
  until_ms: number | null;
  rate_limit: { per_second: number; burst: number } | null;
  added_at: number;
  last_seen_at: number | null;
  keys: Array<{ key_id: string; public_key: string; source: string; expired_at: number | null }>;
  /**
   * A Paracord reference reuses its key id: keys it replaced (they verify only events made before
   * replaced_at), and a changed key it served over plain http that waits for the owner's
   * confirmation (re-add the peer with key_id and public_key), with the reason in words.
   */
  replaced_keys?: Array<{ key_id: string; public_key: string; replaced_at: number }>;
  key_change?: { key_id: string; public_key: string; seen_at: number; reason: string } | null;
  /** What this peer's events take here, against its storage quota (issue #14 item 5). */
  quota?: PeerQuota;
  /**
   * How our events reach this peer (issue #15): pushed, or waiting to be pulled (it receives by
   * pull), with when it last pulled and how many wait.
   */
  /** paced: pushes wait for room in its push limit (a Paracord reference takes 120 events a minute); not a failure. */
  delivery?: { mode: 'push' | 'pull'; last_pull_at: number | null; waiting: number; paced: boolean };
  /** Which protocol dialect it speaks, from its discovery ('reference': a Paracord reference server); null when never read. */
  dialect?: 'node' | 'reference' | null;
  /** A reference peer's version ('0.8': v0.8.5, four-line signatures; '3': 3.x, bound requests); null for others. */
  reference_version?: '0.8' | '3' | null;
}

export interface PeerQuota {
  /** Bytes stored today (UTC) and the daily limit. */
  day_bytes: number;
  day_limit: number;
  /**
   * Bytes stored in total (held in quarantine included), and the total: a notice level (it refuses
   * nothing of a room) and the most a quarantined peer's held events may take (issue #37 item 8).
   */
  total_bytes: number;
  total_limit: number;
  /** The limit that refuses this peer's events now, if any ('total': its held events' bound). */
  exceeded: 'day' | 'total' | null;
  /** Events refused for the quota since the node started, and when the last one was. */
  refused_events: number;
  last_refused_at: number | null;
}

export interface AdminOutputs {
  getStatus: NodeStatus;
  createLoginLink: { login_url: string };
  listSessions: { sessions: AdminSession[] };
  revokeSession: { revoked: boolean };
  logout: { signed_out: boolean };
  declineInvite: { declined: boolean };
  previewPeerInvite: PeerInvitePreview;
  checkReachability: { reachable: boolean; url: string | null; message: string };
  backupIdentity: { identity: string };
  setup: NodeStatus;
  /** `pending`: friends' links redeemed through a mailbox, waiting for (or refused by) the friend (issue #32). */
  listPeers: { peers: PeerView[]; pending?: PendingPeering[] };
  addPeer: PeerView;
  setPeerTrust: PeerView;
  getPolicy: Policy;
  setPolicy: Policy;
  listQuarantine: { held: HeldEvent[]; counts: Record<string, number> };
  releaseQuarantine: { released: number; rejected: Array<{ event_id: string; error: string }> };
  purgeQuarantine: { purged: number };
  listUsers: { users: Array<{ user_id: string; created_at: number }> };
  createUser: { user_id: string };
  listRooms: { rooms: RoomSummary[] };
  createRoom: { room_id: string };
  getRoom: RoomSummary & RoomActions & { members: RoomMember[] };
  listMessages: {
    room_id: string;
    messages: MessageView[];
    /** Whether older messages exist before the first one (a page, not changes). */
    has_more?: boolean;
    /** Where this answer stands in the node's events: `since` of the next request. */
    cursor: string;
    /** The answer holds only the messages that changed after `since` (merge them); absent: the newest page. */
    changes?: true;
  };
  sendMessage: { event_id: string };
  /** In the order of the request's `messages`. */
  sendMessages: { event_ids: string[] };
  editMessage: { event_id: string };
  deleteMessage: { event_id: string };
  addReaction: { event_id: string };
  removeReaction: { event_id: string };
  inviteToRoom: { event_id: string };
  leaveRoom: { event_id: string };
  joinRemoteRoom: { room_id: string };
  removeMember: { event_id: string };
  listBans: { bans: RoomBan[] };
  unbanMember: { event_id: string };
  setMemberRole: { event_id: string };
  markRead: { room_id: string; event_id: string; unread: number; mentions: number };
  searchMessages: { results: SearchResult[] };
  listInvites: { invites: RoomInvite[] };
  /** `waiting_for_host`: the host could not be reached; the join waits at its mailbox and the room appears when the host answers (issue #32). */
  acceptInvite: { room_id: string; waiting_for_host?: boolean };
  getQueue: { counts: { pending: number; failed: number; expired: number }; entries: QueueEntry[] };
  createPeerInvite: { id: string; link: string; https_link: string; expires_at: number };
  listPeerInvites: { invites: PeerInvite[] };
  revokePeerInvite: PeerInvite;
  redeemPeerInvite: {
    server_name: string; endpoint: string; key_id: string; tls_fingerprint: string | null;
    /** Whether the friend could call this node back (null: its node does not say); false: this node now receives by pull. */
    reachable: boolean | null;
    /** Why it could not, in words (when reachable is false). */
    reach_error?: string;
    /**
     * The friend could not be reached: the peering request waits at this friend's node, a mailbox
     * its link named (issue #32); peered once the friend fetches it and answers (listPeers `pending`).
     */
    waiting_at?: string;
  };
  getKeys: {
    active_key: { key_id: string; public_key: string; valid_until: number };
    next_keys: Array<{ key_id: string; public_key: string }>;
    old_keys: Array<{ key_id: string; public_key: string; expired_at: number }>;
    /** Paracord reference peers: they pinned the active key once and are cut off by a rotation until their admins add us again. */
    reference_peers?: string[];
  };
  rotateKey: { key_id: string; public_key: string; previous_key_id: string; reference_peers_cut_off?: string[] };
  announceNextKey: { key_id: string; public_key: string };
  retryQueueEntry: QueueEntry;
  dropQueueEntry: { dropped: boolean };
  listAttempts: { attempts: DeliveryAttempt[] };
  getBackupSchedule: { schedule: BackupSchedule | null };
  setBackupSchedule: { schedule: BackupSchedule };
  deleteBackupSchedule: { schedule: null };
  listBackups: {
    last_backup_at: number | null;
    last_backup_file: string | null;
    last_error: string | null;
    warning: string | null;
    schedule: BackupSchedule | null;
    backups: Array<{ file: string; size: number; modified_at: number }>;
  };
  runBackup: BackupRun;
  pauseFederation: { paused: boolean };
  resumeFederation: { paused: boolean };
  getReachability: Reachability;
  getMailbox: MailboxView;
  setMailbox: MailboxView;
  runReachabilityCheck: Reachability & { status: string | null; latency_ms: number | null };
}

/** docs/ARCHITECTURE.md §What outside tools rely on, "Reachability": can peers reach this node, and how it receives. */
export interface Reachability {
  /** null: not tested yet, or no peer could be asked (`error` says why). */
  reachable: boolean | null;
  checked_at: number | null;
  via: string | null;
  endpoint: string | null;
  mode: 'push' | 'pull';
  mapping: { protocol: string; external_address: string; external_port: number; expires_at: number } | null;
  error: string | null;
  /** In pull mode: the friends whose mailboxes this node fetched from in the last 2 minutes (issue #32). */
  mailboxes?: string[];
  /**
   * Which address families the last self-test reached this node over (issue #32 item 4): true
   * reached, false tried and not reached, null not tried (the peer has no address of that family,
   * or this node publishes none). Absent before the first test, or when the peer did not say.
   */
  families?: { ipv4: boolean | null; ipv6: boolean | null };
}

export type AdminOutput<N extends AdminOperationName> = AdminOutputs[N];

export interface RoomSummary {
  room_id: string;
  name: string;
  host_server: string;
  /** Membership of the acting user (owner unless user_id is given). */
  membership: 'invite' | 'join' | 'leave' | null;
  joined_members: number;
  /** Messages by others since the acting user's read marker (after they joined); 0 when not joined. */
  unread?: number;
  /** How many of the unread messages mention the acting user. */
  mentions?: number;
}

/**
 * What the acting user may do in a room as a whole, by the rules the node enforces (issue #16
 * item 7): the UI offers the composer and reactions only when the node would take them.
 */
export interface RoomActions {
  /** Send a message (joined, not banned, and the room's host takes our events). */
  can_send: boolean;
  /** Add or remove reactions (the same conditions as sending). */
  can_react: boolean;
  /** Leave: only while joined. */
  can_leave: boolean;
  /** The room's host is a Paracord reference server: our users read it and send nothing into it. */
  read_only: boolean;
}

export interface RoomBan {
  user_id: string;
  by: string;
  reason: string | null;
  /** ms, the ban event's time as the host decided. */
  at: number;
}

export interface SearchResult {
  room_id: string;
  event_id: string;
  sender: string;
  body: string;
  origin_ts: number;
  /** The body HTML-escaped, each match in <mark>…</mark>. */
  highlight: string;
}

export interface RoomMember {
  user_id: string;
  membership: 'invite' | 'join' | 'leave';
  role: 'owner' | 'moderator' | 'member';
}

export interface MessageView {
  event_id: string;
  sender: string;
  origin_server: string;
  origin_ts: number;
  depth: number;
  body?: string;
  edited: boolean;
  deleted: boolean;
  /** Who deleted the message, when it was not its sender (a moderator). */
  deleted_by?: string;
  reactions: Record<string, string[]>;
  /** What the acting user may do with it, by the same rules the node enforces (issue #16 item 7). */
  can_edit?: boolean;
  can_delete?: boolean;
  /** Delivery of a message sent from this server, from its outbox rows (issue #16 item 5). */
  delivery?: MessageDelivery;
}

export interface MessageDelivery {
  /** delivered: no server left to reach; waiting: some still to reach; refused: a server refused it for good. */
  state: 'delivered' | 'waiting' | 'refused';
  /** Servers still to reach (pending), and those that refused it, with their reason. */
  pending_servers: string[];
  refused: Array<{ server: string; reason: string }>;
  /** The soonest next try among the pending ones, and the last error seen. */
  next_attempt_at: number | null;
  last_error: string | null;
}

export interface AdminSession {
  id: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  user_agent: string | null;
  /** The session this request came with. */
  current: boolean;
}

export interface PeerInvitePreview {
  server_name: string;
  endpoint: string;
  key_id: string;
  /** The inviter's signing key as a short fingerprint to compare out of band (SHA-256, first 16 bytes, hex pairs). */
  key_fingerprint: string;
  tls_fingerprint: string | null;
  expires_at: number;
  /** Already a peer: redeeming would refresh what we know of it. */
  already_peer: boolean;
}

export interface RoomInvite {
  invite_id: string;
  room_id: string;
  room_name: string;
  host_server: string;
  inviter: string;
  invitee: string;
  expires_at: number;
}

export interface Policy {
  default: z.infer<typeof defaultPolicySchema>;
  rate_limit: { per_second: number; burst: number };
  auto_quarantine: { signature_failures: number; rate_limited: number; window_seconds: number };
}

export interface HeldEvent {
  id: number;
  origin: string;
  received_from: string;
  event_id: string;
  event_type: string;
  room_id: string;
  sender: string;
  received_at: number;
  /** Message text, when the event has one, for the review screen. */
  body?: string;
}

/** A friend's link redeemed while the friend could not be reached: the request waits at a mailbox (issue #32). */
export interface PendingPeering {
  server_name: string;
  /** The friend's node that holds the request (a mailbox its link named), null while being left there. */
  waiting_at: string | null;
  requested_at: number;
  expires_at: number;
  answered_at: number | null;
  /** The friend refused the link, in its words; null while waiting. */
  error: string | null;
}

export interface PeerInvite {
  id: string;
  note: string | null;
  created_at: number;
  expires_at: number;
  state: 'active' | 'used' | 'expired' | 'revoked';
  used_by: string | null;
}

export interface BackupSchedule {
  dir: string;
  every: 'hourly' | 'daily' | 'weekly';
  keep: number;
  passphrase_file?: string | undefined;
}

export interface BackupRun {
  file: string;
  size: number;
  server_name: string;
  key_id: string;
  created_at: number;
  encrypted: boolean;
  warnings: string[];
}

export interface DeliveryAttempt {
  id: number;
  destination: string;
  event_id: string;
  /** HTTP status; null for a network error. */
  status: number | null;
  error: string | null;
  latency_ms: number;
  batch_size: number;
  attempted_at: number;
}

export interface QueueEntry {
  id: number;
  destination: string;
  event_id: string;
  room_id: string;
  state: 'pending' | 'failed' | 'expired';
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  /** How it reaches its destination: pushed, or fetched by it (pull mode, issue #32). */
  delivery: 'push' | 'pull';
  /** Where it waits, in words ("waiting for bob.example to fetch it"). */
  waiting: string;
}

/** GET /mailbox: what this node holds for friends who cannot be reached, and what it fetches for itself. */
export interface MailboxView {
  /** "Let friends use this node as their mailbox" (on by default). */
  enabled: boolean;
  /** Per friend: requests waiting here for it to fetch them, in words too ("Holding 120 messages for bob.example"). */
  holding: Array<{ server_name: string; items: number; bytes: number; oldest_at: number; text: string }>;
  /** The mailboxes this node fetches from while nobody can reach it. */
  sources: Array<{ server_name: string; last_fetch_at: number | null; last_error: string | null }>;
}

/** Where a queue entry waits, in words (GET /queue `waiting`, the dashboard). */
export function queueEntryWords(entry: Pick<QueueEntry, 'destination' | 'state' | 'attempts'>, delivery: 'push' | 'pull'): string {
  if (entry.state === 'failed') return `not delivered: ${entry.destination} refused it`;
  if (entry.state === 'expired') return `not delivered: ${entry.destination} could not be reached for too long`;
  if (delivery === 'pull') return `waiting for ${entry.destination} to fetch it`;
  return entry.attempts > 0 ? `waiting to be sent to ${entry.destination} again (tried ${entry.attempts} ${entry.attempts === 1 ? 'time' : 'times'})` : `being sent to ${entry.destination}`;
}

/** One function per operation: what both transports call. */
export type AdminHandlers = { [N in AdminOperationName]: (input: AdminInput<N>, meta?: AdminCallMeta) => Promise<AdminOutput<N>> };

/** What a transport knows about the caller: the browser session of an HTTP request (none over IPC or the bearer token). */
export interface AdminCallMeta {
  session_id?: string | undefined;
}

export const ADMIN_API_PREFIX = '/_paracord/admin/v1';
/** The admin contract over one WebSocket (main/core/admin/stream/, shared/contract/stream-transport.ts). */
export const ADMIN_STREAM_PATH = `${ADMIN_API_PREFIX}/stream`;
/**
 * Whether the request's own session cookie is valid, answered without credentials:
 * `{session: 'valid' | 'ended' | 'none'}` (main/core/admin/middleware/session-state.ts).
 */
export const ADMIN_SESSION_PATH = `${ADMIN_API_PREFIX}/session`;
