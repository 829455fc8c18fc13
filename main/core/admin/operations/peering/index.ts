import { createHash } from 'node:crypto';
import type { AdminHandlers } from '../../../../../shared/contract/admin-operations.ts';
import type { NodeContext } from '../../../node-context.ts';
import type { Running } from '../../../node/federation.ts';
import { HttpError, badRequest } from '../../../errors.ts';
import { parseLink } from '../../../peering/invite-link.ts';

/** A signing key as 16 hex pairs (SHA-256 of the raw key, first half): short enough to read out loud. */
export function keyFingerprint(publicKeyHex: string): string {
  const digest = createHash('sha256').update(Buffer.from(publicKeyHex, 'hex')).digest('hex').toUpperCase();
  return digest.slice(0, 32).match(/../g)!.join(':');
}

export function peeringOperations(node: NodeContext, running: Running): Pick<AdminHandlers, 'createPeerInvite' | 'listPeerInvites' | 'revokePeerInvite' | 'redeemPeerInvite' | 'previewPeerInvite'> {
  return {
    createPeerInvite: async ({ expires_in_seconds, note }) => running.peering.createInvite(expires_in_seconds === undefined ? undefined : expires_in_seconds * 1000, note),
    listPeerInvites: async () => ({ invites: running.peering.listInvites() }),
    revokePeerInvite: async ({ id }) => running.peering.revokeInvite(id),
    redeemPeerInvite: async ({ link }) => {
      const peer = await running.peering.redeem(link);
      node.notifications.notify({ type: 'status' });
      return peer;
    },
    // The same checks redeem makes before contacting anyone (signature, own link, expiry); nothing is stored or sent.
    previewPeerInvite: async ({ link }) => {
      const parsed = parseLink(link.trim());
      if (!parsed.ok) throw badRequest('invalid_link', parsed.reason);
      const invite = parsed.payload;
      if (invite.server_name === node.identity()?.serverName) throw badRequest('invalid_link', "this is your own server's link; send it to a friend");
      if (invite.expires_at <= Date.now()) throw new HttpError(410, 'link_expired', 'this link has expired; ask your friend for a new one');
      return {
        server_name: invite.server_name,
        endpoint: invite.endpoint,
        key_id: invite.key_id,
        key_fingerprint: keyFingerprint(invite.public_key),
        tls_fingerprint: invite.tls_fingerprint,
        expires_at: invite.expires_at,
        // Known here in any way (a peer, or a server of our rooms): the link must carry the key we know.
        already_peer: node.claims.holder(invite.server_name) !== null,
        // Peered already as this link says (key, address, certificate): nothing to do (whether the link itself was used only its server knows).
        already_peered_with_key: node.claims.isPeerAsLinked(invite.server_name, { keyId: invite.key_id, publicKey: invite.public_key, endpoint: invite.endpoint, tlsFingerprint: invite.tls_fingerprint ?? null }),
      };
    },
  };
}
