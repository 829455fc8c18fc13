/**
 * The admin contract (DESIGN.md §2): every admin operation defined once — name, HTTP method
 * and path, input schema, output type. The HTTP admin API and the Electron IPC bridge are
 * both served from this table; the renderer's client is generated from it.
 *
 * An operation's input is one object: path parameters, query parameters and the JSON body
 * merged. Schemas are strict: unknown fields are refused.
 */
import { z } from 'zod';
import { EVENT_ID, KEY_ID, HEX_PUBLIC_KEY, LOCALPART, ROOM_ID, USER_ID, isServerName } from '../identifiers.ts';

export const serverNameSchema = z
  .string()
  .transform((s) => s.toLowerCase())
  .refine(isServerName, 'must be a host name (lowercase letters, digits, dots, dashes) with an optional :port');

const endpointSchema = z
  .url({ protocol: /^https?$/, message: 'must be an http(s) URL such as https://example.org:8448' })
  .refine((u) => !new URL(u).search && !new URL(u).hash, 'must not have a query or fragment');

export const trustModeSchema = z.enum(['allow', 'block', 'quarantine']);
export const defaultPolicySchema = z.enum(['allowlist', 'open']);
const fingerprintSchema = z
  .string()
  .regex(/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, 'must be a SHA-256 fingerprint like AB:CD:…')
  .transform((s) => s.toUpperCase());

const userId = z.string().max(255).regex(USER_ID, 'must look like @localpart:server');
const roomId = z.string().max(255).regex(ROOM_ID, 'must look like !opaque:server');
const eventId = z.string().max(255).regex(EVENT_ID, 'must look like $opaque:server');
/** The local user an operation acts as; the owner when absent. */
const actingUser = { user_id: userId.optional() };
const messageBody = z.string().min(1, 'must not be empty').refine((s) => [...s].length <= 4000, 'must be at most 4000 characters');
const reactionKey = z
  .string()
  .min(1, 'must not be empty')
  .refine((s) => [...s].length <= 32, 'must be at most 32 characters')
  // eslint-disable-next-line no-control-regex
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must not contain control characters');

const rateLimitSchema = z.strictObject({ per_second: z.number().positive().max(100_000), burst: z.number().int().positive().max(1_000_000) });

export const adminOperations = {
  getStatus: { method: 'GET', path: '/status', input: z.strictObject({}) },
  createLoginLink: { method: 'POST', path: '/login-links', input: z.strictObject({}) },
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
        server_name: serverNameSchema,
        endpoint: endpointSchema.optional(),
        key_id: z.string().regex(KEY_ID, 'must look like ed25519:<1-32 letters, digits or _>').optional(),
        public_key: z.string().regex(HEX_PUBLIC_KEY, 'must be 64 lowercase hex characters').optional(),
        tls_fingerprint: fingerprintSchema.optional(),
      })
      .refine((p) => (p.key_id === undefined) === (p.public_key === undefined), {
        message: 'give key_id and public_key together, or neither (to fetch them)',
        path: ['key_id'],
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
      rate_limit: rateLimitSchema.optional(),
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
    input: z.strictObject({ name: z.string().trim().min(1, 'must not be empty').max(100), ...actingUser }),
  },
  getRoom: { method: 'GET', path: '/rooms/:room_id', input: z.strictObject({ room_id: roomId }) },
  listMessages: {
    method: 'GET',
    path: '/rooms/:room_id/messages',
    input: z.strictObject({ room_id: roomId, limit: z.coerce.number().int().min(1).max(500).default(50), ...actingUser }),
  },
  sendMessage: { method: 'POST', path: '/rooms/:room_id/messages', input: z.strictObject({ room_id: roomId, body: messageBody, ...actingUser }) },
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
      user_id: userId,
      inviter: userId.optional(),
      max_age_seconds: z.number().int().min(1).max(30 * 24 * 3600).optional(),
    }),
  },
  leaveRoom: { method: 'POST', path: '/rooms/:room_id/leave', input: z.strictObject({ room_id: roomId, ...actingUser }) },
  listInvites: { method: 'GET', path: '/invites', input: z.strictObject({ ...actingUser }) },
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
  federation: { paused: boolean; url: string | null; tls_fingerprint: string | null };
  peers: number;
  peer_counts: { allow: number; block: number; quarantine: number };
  queue: { pending: number; failed: number };
  version: string;
  uptime_ms: number;
  /** How the private keys are kept at rest: sealed by the OS keychain, or a 0600 file (with a warning where nothing better exists). */
  key_storage: { sealed_by: string | null; warning: string | null };
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
}

export interface AdminOutputs {
  getStatus: NodeStatus;
  createLoginLink: { login_url: string };
  checkReachability: { reachable: boolean; url: string | null; message: string };
  backupIdentity: { identity: string };
  setup: NodeStatus;
  listPeers: { peers: PeerView[] };
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
  getRoom: RoomSummary & { members: RoomMember[] };
  listMessages: { room_id: string; messages: MessageView[] };
  sendMessage: { event_id: string };
  editMessage: { event_id: string };
  deleteMessage: { event_id: string };
  addReaction: { event_id: string };
  removeReaction: { event_id: string };
  inviteToRoom: { event_id: string };
  leaveRoom: { event_id: string };
  listInvites: { invites: RoomInvite[] };
  acceptInvite: { room_id: string };
  getQueue: { counts: { pending: number; failed: number; expired: number }; entries: QueueEntry[] };
  createPeerInvite: { id: string; link: string; https_link: string; expires_at: number };
  listPeerInvites: { invites: PeerInvite[] };
  revokePeerInvite: PeerInvite;
  redeemPeerInvite: { server_name: string; endpoint: string; key_id: string; tls_fingerprint: string | null };
  getKeys: { active_key: { key_id: string; public_key: string; valid_until: number }; next_keys: Array<{ key_id: string; public_key: string }>; old_keys: Array<{ key_id: string; public_key: string; expired_at: number }> };
  rotateKey: { key_id: string; public_key: string; previous_key_id: string };
  announceNextKey: { key_id: string; public_key: string };
  retryQueueEntry: QueueEntry;
  dropQueueEntry: { dropped: boolean };
  listAttempts: { attempts: DeliveryAttempt[] };
  pauseFederation: { paused: boolean };
  resumeFederation: { paused: boolean };
}

export type AdminOutput<N extends AdminOperationName> = AdminOutputs[N];

export interface RoomSummary {
  room_id: string;
  name: string;
  host_server: string;
  /** Membership of the acting user (owner unless user_id is given). */
  membership: 'invite' | 'join' | 'leave' | null;
  joined_members: number;
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
  reactions: Record<string, string[]>;
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

export interface PeerInvite {
  id: string;
  note: string | null;
  created_at: number;
  expires_at: number;
  state: 'active' | 'used' | 'expired' | 'revoked';
  used_by: string | null;
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
}

/** One function per operation: what both transports call. */
export type AdminHandlers = { [N in AdminOperationName]: (input: AdminInput<N>) => Promise<AdminOutput<N>> };

export const ADMIN_API_PREFIX = '/_paracord/admin/v1';
