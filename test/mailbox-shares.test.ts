/**
 * Issue #32 item 3, a friend's node as a mailbox (test/mailbox.test.ts): what one depositor may
 * leave for a recipient, and how fast. Real node processes on 127.0.0.1 (alpha and beta publish
 * closed ports, carol keeps beta's mail) and a fake depositor. A file of its own so that the two
 * lanes of `npm test` take the same time (vitest.config.ts).
 */
import { describe, expect, it } from './helpers/fixtures.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { eventually } from './helpers/rooms.ts';
import { homeArgs, identityOf, twoHomesAndAFriend } from './helpers/mailbox-homes.ts';
import { sendSigned } from './helpers/signed-request.ts';
import type { Identity } from '../main/core/identity/identity.ts';
import { signChoice } from '../main/core/mailbox/choice.ts';
import { canonicalJson } from '../main/core/crypto/canonical-json.ts';
import { signRequestHeaders } from '../main/core/federation/request-signature.ts';

const FED = '/_paracord/federation/v1';

describe('a friend\'s node as a mailbox: shares and rates (issue #32 item 3)', () => {
  it('each depositor gets a share of what a mailbox keeps for a recipient, and a deposit rate: over either, 429 with Retry-After while other depositors\' mail still goes in; a bad statement changes nothing', async ({ nodes }) => {
    const { alpha, beta, carol, closed } = await twoHomesAndAFriend(nodes, false, true, ['--mailbox-quota-items', '4', '--mailbox-deposits-per-minute', '4']);
    // beta chose carol (it fetched), then goes away: what is left for it stays.
    await eventually(async () => expect(queryNodeDb<{ server_name: string }>(carol.dataDir, 'SELECT server_name FROM mailbox_clients').map((r) => r.server_name)).toContain('beta.test'), 30_000);
    expect(await beta.stop()).toBe(0);
    const dave = await nodes.fakePeer('dave.test');
    expect((await carol.admin('POST', '/peers', { server_name: 'dave.test', endpoint: dave.url })).status).toBe(200);
    const deposit = (who: Identity, n: number) => {
      const body = JSON.stringify({ n });
      const inner = signRequestHeaders(who, 'POST', `${FED}/event`, Buffer.from(body), Date.now(), 'beta.test');
      return sendSigned(who, carol.federationUrl, 'POST', `${FED}/mailbox/deposit/beta.test/event`, body, {
        mutateHeaders: (h) => Object.assign(h, { 'x-paracord-inner-key-id': inner['X-Paracord-Key-Id'], 'x-paracord-inner-timestamp': inner['X-Paracord-Timestamp'], 'x-paracord-inner-signature': inner['X-Paracord-Signature'] }),
      });
    };
    const alphaId = identityOf(alpha);
    // carol keeps 4 requests for beta: alpha may leave 2 of them, and 4 a minute.
    expect((await deposit(alphaId, 1)).status).toBe(200);
    expect((await deposit(alphaId, 2)).status).toBe(200);
    for (let n = 3; n <= 4; n++) {
      const full = await deposit(alphaId, n);
      expect(full.status).toBe(429);
      expect(full.body.error).toBe('mailbox_share_full');
      expect(Number(full.headers['retry-after'])).toBeGreaterThan(0);
    }
    const fast = await deposit(alphaId, 5);
    expect(fast.status).toBe(429);
    expect(fast.body.error).toBe('rate_limited');
    expect(Number(fast.headers['retry-after'])).toBeGreaterThan(0);
    // A depositor the owner put in quarantine leaves nothing (it keeps its mail and tries again; before, it still used carol's disk).
    expect((await carol.admin('PUT', '/peers/dave.test/trust', { mode: 'quarantine', reason: 'watching' })).status).toBe(200);
    const asked = await sendSigned(dave.identity, carol.federationUrl, 'GET', `${FED}/mailbox/accepts/beta.test`, undefined);
    expect(asked.body).toEqual({ accepts: false });
    const watched = await deposit(dave.identity, 1);
    expect(watched.status).toBe(403);
    expect(watched.body.error).toBe('origin_quarantined');
    expect(queryNodeDb<{ n: number }>(carol.dataDir, "SELECT COUNT(*) AS n FROM mailbox_items WHERE depositor = 'dave.test'")[0]!.n).toBe(0);
    expect((await carol.admin('PUT', '/peers/dave.test/trust', { mode: 'allow' })).status).toBe(200);
    // dave's mail to beta still goes in, up to the recipient's own quota.
    expect((await deposit(dave.identity, 1)).status).toBe(200);
    expect((await deposit(dave.identity, 2)).status).toBe(200);
    const whole = await deposit(dave.identity, 3);
    expect(whole.status).toBe(429);
    expect(whole.body.error).toBe('mailbox_full');
    expect(queryNodeDb<{ depositor: string; n: number }>(carol.dataDir, "SELECT depositor, COUNT(*) AS n FROM mailbox_items WHERE recipient = 'beta.test' GROUP BY depositor ORDER BY depositor")).toEqual([{ depositor: 'alpha.test', n: 2 }, { depositor: 'dave.test', n: 2 }]);

    // A statement that is not the caller's own choice of carol, or no statement at all: 400, and
    // the caller does not become a client (nothing changes).
    const betaChoice = Buffer.from(canonicalJson(signChoice(identityOf(beta), 'carol.test')), 'utf8').toString('base64url');
    for (const [what, header] of [['not base64url JSON', 'not a statement!'], ['beta\'s, sent by dave', betaChoice], ['too long', 'A'.repeat(5000)]] as const) {
      const bad = await sendSigned(dave.identity, carol.federationUrl, 'GET', `${FED}/mailbox?cursor=&limit=1`, undefined, { mutateHeaders: (h) => Object.assign(h, { 'x-paracord-mailbox-choice': header }) });
      expect(bad.status, what).toBe(400);
      expect(bad.body.error, what).toBe('invalid_mailbox_choice');
    }
    expect(queryNodeDb<{ server_name: string }>(carol.dataDir, 'SELECT server_name FROM mailbox_clients').map((r) => r.server_name)).not.toContain('dave.test');
    expect(queryNodeDb<{ recipient: string }>(carol.dataDir, 'SELECT recipient FROM mailbox_choices').map((r) => r.recipient)).not.toContain('dave.test');

    // beta comes back and takes what waits; alpha's share is free again once its rate allows (15 s a deposit).
    await beta.start(homeArgs(closed.beta));
    await eventually(async () => expect(queryNodeDb<{ n: number }>(carol.dataDir, "SELECT COUNT(*) AS n FROM mailbox_items WHERE recipient = 'beta.test'")[0]!.n).toBe(0), 60_000);
    await eventually(async () => expect((await deposit(alphaId, 6)).status).toBe(200), 60_000, 1000);
  }, 180_000);
});
