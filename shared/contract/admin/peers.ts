/**
 * Peers: the servers this node federates with, and the trust given to each.
 * Part of the admin contract (shared/contract/admin-operations.ts).
 */
import { z } from 'zod';
import { KEY_ID, HEX_PUBLIC_KEY } from '../../identifiers.ts';
import { endpointFromAnyUrl } from '../../endpoint.ts';
import { rateLimitSchema, serverNameSchema } from './schemas.ts';
import type { PendingPeering } from './peer-invites.ts';

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

const fingerprintSchema = z
  .string()
  .regex(/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, 'must be a SHA-256 fingerprint like AB:CD:…')
  .transform((s) => s.toUpperCase());

export const peerOperations = {
  /**
   * `check_liveness=1` (the owner's Dashboard and Peers screens): quiet friends' nodes that were
   * not heard from for a minute are checked (main/core/peering/liveness.ts); `liveness` says what
   * the last check found. Without it, nothing is sent to anyone.
   */
  listPeers: { method: 'GET', path: '/peers', input: z.strictObject({ check_liveness: z.literal('1').optional() }) },
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
  /**
   * Forgets the trust decision about a server never peered (no keys of its own, no address: `trust
   * nobody.test block`): it is then treated by the default policy. A peer answers 409 `is_peer`
   * (set its trust instead); an unknown server 404 `unknown_peer`.
   */
  forgetPeerTrust: { method: 'DELETE', path: '/peers/:server_name/trust', input: z.strictObject({ server_name: serverNameSchema }) },
} as const;

export interface PeerOutputs {
  /** `pending`: friends' links redeemed through a mailbox, waiting for (or refused by) the friend (issue #32). */
  listPeers: { peers: PeerView[]; pending?: PendingPeering[] };
  addPeer: PeerView;
  setPeerTrust: PeerView;
  forgetPeerTrust: { server_name: string; forgotten: true };
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
  delivery?: PeerDelivery;
  /**
   * Whether its node answered when last checked (main/core/peering/liveness.ts): checked while the
   * owner's screens list the peers, for a friend with nothing waiting that was quiet for a minute.
   * Null: not checked yet.
   */
  liveness?: PeerLivenessView | null;
  /**
   * Its node refused our server itself at our latest delivery to it (403 `origin_blocked`: its
   * owner blocked ours; `origin_not_allowed`: it takes only servers it added), and when; null when
   * that delivery went otherwise, or none was tried.
   */
  refuses_us?: { code: 'origin_blocked' | 'origin_not_allowed'; at: number } | null;
  /**
   * Its node answered our latest direct delivery of our own events to it as held for review (it
   * keeps our server in quarantine: its receipt said `held: true`): since the first of that run,
   * and the latest. Null when a later direct delivery there was taken as any other, or none was
   * held. Nothing tells us when its owner lets us in meanwhile (say it in the past tense); a
   * delivery through a mailbox or a pull says nothing either way.
   */
  holds_ours_for_review?: { since: number; last_at: number } | null;
  /** Only a trust decision: never peered (no keys of its own, no address; `trust nobody.test block`). Absent for peers. */
  never_peered?: true;
  /** Which protocol dialect it speaks, from its discovery ('reference': a Paracord reference server); null when never read. */
  dialect?: 'node' | 'reference' | null;
  /** A reference peer's version ('0.8': v0.8.5, four-line signatures; '3': 3.x, bound requests); null for others. */
  reference_version?: '0.8' | '3' | null;
}

/** A check of a quiet friend's node (PeerView `liveness`). */
export interface PeerLivenessView {
  /** When its node last answered a check. */
  answered_at: number | null;
  /** Since when checks failed (null: the last check was answered). */
  not_answering_since: number | null;
  /**
   * The failure is an answer that is not its node as it should be (an HTTP error, another
   * server's name, a certificate other than the pinned one), not the absence of any answer.
   */
  answers_wrongly: boolean;
  /** Why the last check failed, verbatim (for "details"). */
  error: string | null;
}

/**
 * How our events reach a peer, as the node knows it (issue #35 item 3: the UI only puts it into
 * words, renderer/src/lib/peer-state.ts): what waits for it in the outbox, since when it is retried,
 * the next attempt, and the last error.
 */
export interface PeerDelivery {
  /** push: sent to it; pull: it fetches them (issue #15). */
  mode: 'push' | 'pull';
  last_pull_at: number | null;
  /** Events waiting for it (pending in the outbox). */
  waiting: number;
  /**
   * Of `waiting`, the messages (the rest are edits, deletions, reactions and memberships); null
   * when over 500 wait (they are not told apart then). Absent from nodes before 2026-11-27.
   */
  waiting_messages?: number | null;
  /** Pushes wait for room in its push limit (a Paracord reference takes 120 events a minute); not a failure. */
  paced: boolean;
  /** When the oldest waiting event already tried was queued: it is retried since then. Null when none was tried. */
  retrying_since: number | null;
  /** The earliest next attempt among the waiting events (0: as soon as possible); null when nothing waits. */
  next_attempt_at: number | null;
  /** The raw error of the oldest tried event that has one (the UI words it and shows this as "details"). */
  last_error: string | null;
  /** The friend's node its requests go through (issue #32), when they go through a mailbox; else null. */
  via_mailbox: string | null;
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
