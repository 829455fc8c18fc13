/**
 * A peering request left at a mailbox (issue #32) is over once the two servers are peered however
 * it happened: a link redeemed directly, or ours redeemed by that friend. Its row stayed, and once
 * past its expiry the dashboard said "expired without an answer" beside the friend.
 */
import { expect, it } from './helpers/fixtures.ts';

it('a request that waited at a mailbox is gone once the friend is peered directly', async ({ nodes }) => {
  const alpha = await nodes.inProcess('alpha.test');
  const beta = await nodes.inProcess('beta.test');
  // beta left a request for alpha at carol's mailbox a week ago (expired: no longer resent).
  const weekAgo = Date.now() - 8 * 86_400_000;
  beta.node.context.db
    .prepare(`INSERT INTO pending_peerings (server_name, key_id, public_key, endpoint, tls_fingerprint, token_hash, request, mailboxes, waiting_at, requested_at, expires_at)
      VALUES ('alpha.test', 'ed25519:x', ?, 'http://127.0.0.1:9', NULL, ?, '{}', '["carol.test"]', 'carol.test', ?, ?)`)
    .run('0'.repeat(64), 'a'.repeat(64), weekAgo, weekAgo + 86_400_000);
  expect((await beta.admin('GET', '/peers')).body.pending).toMatchObject([{ server_name: 'alpha.test', waiting_at: 'carol.test' }]);
  // A new link of alpha's, redeemed directly.
  const link = (await alpha.admin('POST', '/invites/peer', {})).body.link as string;
  const redeemed = await beta.admin('POST', '/invites/peer/redeem', { link });
  expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(200);
  expect((await beta.admin('GET', '/peers')).body.pending).toBeUndefined();
});
