/**
 * The admin contract (docs/ARCHITECTURE.md "The admin contract"): every admin operation defined once — name, HTTP method
 * and path, input schema, output type. The HTTP admin API and the Electron IPC bridge are
 * both served from this table; the renderer's client is generated from it.
 *
 * An operation's input is one object: path parameters, query parameters and the JSON body
 * merged. Schemas are strict: unknown fields are refused. `inSetup: true` marks the few
 * operations a node without an identity yet answers (setup mode, main/core/node/setup-mode.ts);
 * `member: …` the operations a member of this server may use too (memberUse below).
 *
 * Each resource's operations, with their schemas and output types, are in shared/contract/admin/
 * (one file per resource); this file joins them into the one table and re-exports them.
 */
import type { z } from 'zod';
import type { MemberUse } from './admin/schemas.ts';
import { nodeOperations, type NodeOutputs } from './admin/node.ts';
import { sessionOperations, type SessionOutputs } from './admin/sessions.ts';
import { peerOperations, type PeerOutputs } from './admin/peers.ts';
import { policyOperations, type PolicyOutputs } from './admin/policy.ts';
import { quarantineOperations, type QuarantineOutputs } from './admin/quarantine.ts';
import { userOperations, type UserOutputs } from './admin/users.ts';
import { roomOperations, type RoomOutputs } from './admin/rooms.ts';
import { messageOperations, type MessageOutputs } from './admin/messages.ts';
import { inviteOperations, type InviteOutputs } from './admin/invites.ts';
import { peerInviteOperations, type PeerInviteOutputs } from './admin/peer-invites.ts';
import { keyOperations, type KeyOutputs } from './admin/keys.ts';
import { queueOperations, type QueueOutputs } from './admin/queue.ts';
import { backupOperations, type BackupOutputs } from './admin/backups.ts';
import { reachabilityOperations, type ReachabilityOutputs } from './admin/reachability.ts';
import { mailboxOperations, type MailboxOutputs } from './admin/mailbox.ts';
import { memberOperations, type MemberOutputs } from './admin/members.ts';

export { serverNameSchema, type MemberUse } from './admin/schemas.ts';
export type { NodeStatus } from './admin/node.ts';
export type { AdminSession } from './admin/sessions.ts';
export { trustModeSchema, type PeerView, type PeerDelivery, type PeerQuota } from './admin/peers.ts';
export { defaultPolicySchema, type Policy } from './admin/policy.ts';
export type { HeldEvent } from './admin/quarantine.ts';
export { MAX_ROOM_NAME_LENGTH, type RoomSummary, type RoomActions, type RoomBan, type RoomMember, type RoomWait } from './admin/rooms.ts';
export { MAX_MESSAGES_PER_BATCH, MAX_MESSAGE_CHARS, MAX_REACTION_KEY_CHARS, type SearchResult, type MessageView, type MessageDelivery, type ChangeDelivery } from './admin/messages.ts';
export type { RoomInvite } from './admin/invites.ts';
export type { PeerInvitePreview, PeerInvite, PendingPeering } from './admin/peer-invites.ts';
export { type DeliveryAttempt, type QueueEntry, queueEntryWords } from './admin/queue.ts';
export type { BackupSchedule, BackupRun } from './admin/backups.ts';
export type { Reachability } from './admin/reachability.ts';
export type { MailboxView } from './admin/mailbox.ts';
export type { MemberInvite, MemberView, MemberLinkCreated } from './admin/members.ts';
export type { OwnerProfile } from './admin/users.ts';

export const adminOperations = {
  ...nodeOperations,
  ...sessionOperations,
  ...keyOperations,
  ...peerOperations,
  ...policyOperations,
  ...quarantineOperations,
  ...userOperations,
  ...roomOperations,
  ...messageOperations,
  ...inviteOperations,
  ...peerInviteOperations,
  ...queueOperations,
  ...backupOperations,
  ...reachabilityOperations,
  ...mailboxOperations,
  ...memberOperations,
} as const;

export type AdminOperationName = keyof typeof adminOperations;

/** Whether an operation is answered in setup mode, before the node has an identity (`inSetup: true`). */
export function answeredInSetup(name: string): boolean {
  const operation = (adminOperations as Record<string, { inSetup?: boolean } | undefined>)[name];
  return operation?.inSetup === true;
}

/**
 * Whether a member of this server (issue #34) may use an operation, and as which input field
 * (`member: …`, shared/contract/admin/schemas.ts MemberUse); undefined: the owner's only.
 */
export function memberUse(name: string): MemberUse | undefined {
  const operation = (adminOperations as Record<string, { member?: MemberUse } | undefined>)[name];
  return operation?.member;
}

/** Where the members' API is served, on the federation listener (main/core/client/): the flagged operations at their same paths. */
export const CLIENT_API_PREFIX = '/_paracord/client/v1';
/** The members' stream: the admin stream's frames and subprotocol, the member's operations and the notifications of its rooms only. */
export const CLIENT_STREAM_PATH = `${CLIENT_API_PREFIX}/stream`;

export type AdminInput<N extends AdminOperationName> = z.output<(typeof adminOperations)[N]['input']>;

/** What each operation answers (the output types are with their resource in shared/contract/admin/). */
export interface AdminOutputs
  extends NodeOutputs,
    SessionOutputs,
    KeyOutputs,
    PeerOutputs,
    PolicyOutputs,
    QuarantineOutputs,
    UserOutputs,
    RoomOutputs,
    MessageOutputs,
    InviteOutputs,
    PeerInviteOutputs,
    QueueOutputs,
    BackupOutputs,
    ReachabilityOutputs,
    MailboxOutputs,
    MemberOutputs {}

export type AdminOutput<N extends AdminOperationName> = AdminOutputs[N];

/** One function per operation: what both transports call. */
export type AdminHandlers = { [N in AdminOperationName]: (input: AdminInput<N>, meta?: AdminCallMeta) => Promise<AdminOutput<N>> };

/** What a transport knows about the caller: the browser session of an HTTP request (none over IPC or the bearer token). */
export interface AdminCallMeta {
  session_id?: string | undefined;
  /**
   * The rooms the caller may see, when not all (a member: those it is in, invited to or left):
   * `listRooms` sums up only those (a member's list summed up every room of the node, then dropped
   * the others).
   */
  rooms?: ((roomId: string) => boolean) | undefined;
  /** The stream frames this call stands for (a group of sends is one call): each took its rate-limit token as it came in. */
  frames?: number | undefined;
}

export const ADMIN_API_PREFIX = '/_paracord/admin/v1';

/** The admin contract over one WebSocket (main/core/admin/stream/, shared/contract/stream-transport.ts). */
export const ADMIN_STREAM_PATH = `${ADMIN_API_PREFIX}/stream`;
/** The stream's subprotocol that asks for the node's notifications too (`GET /events`'s, as frames without an id). */
export const ADMIN_STREAM_NOTIFICATIONS = 'paracord.notifications';

/**
 * Whether the request's own session cookie is valid, answered without credentials:
 * `{session: 'valid' | 'ended' | 'none'}` (main/core/admin/middleware/session-state.ts).
 */
export const ADMIN_SESSION_PATH = `${ADMIN_API_PREFIX}/session`;
