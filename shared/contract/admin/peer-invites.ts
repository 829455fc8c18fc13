/**
 * Peer invite links: made here for a friend, or a friend's redeemed here.
 * Part of the admin contract (shared/contract/admin-operations.ts).
 */
import { z } from 'zod';

export const peerInviteOperations = {
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
} as const;

export interface PeerInviteOutputs {
  previewPeerInvite: PeerInvitePreview;
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
  /** An allowed peer already, with the link's key, address and certificate: redeeming would change nothing here. */
  already_peered_with_key: boolean;
}

/**
 * Redemptions of one link refused at the call-back (what answers at the redeemer's endpoint is not
 * its server, or is at an address the node does not connect to on a peer's word): at this many the
 * link ends, as if revoked (`state` "revoked", `refused_callbacks` at this number).
 */
export const MAX_REFUSED_CALLBACKS = 3;

/** Whether a link was ended by refused redemptions, not revoked by its owner. */
export const endedByRefusals = (invite: Pick<PeerInvite, 'state' | 'refused_callbacks'>): boolean =>
  invite.state === 'revoked' && invite.refused_callbacks >= MAX_REFUSED_CALLBACKS;

export interface PeerInvite {
  id: string;
  note: string | null;
  created_at: number;
  expires_at: number;
  /** "revoked": by the owner, or ended by MAX_REFUSED_CALLBACKS refused redemptions. */
  state: 'active' | 'used' | 'expired' | 'revoked';
  used_by: string | null;
  /** Redemptions refused at the call-back so far. */
  refused_callbacks: number;
}
