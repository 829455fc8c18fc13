/**
 * Red team (the mailbox review of 2026-11-30, left open then): under an open policy any server that
 * signs may leave mail at our mailbox for a friend of ours, and each depositor had a share of its
 * own, half of what we keep for that friend. Two names one party made up filled it whole, and every
 * other server's mail for the friend was refused 429 until the week was out. Now every depositor
 * the owner has not allowed counts against one share with all the others (STRANGERS_SHARE), and a
 * friend's share stays its own. A real node in this process, real signed requests; the strangers'
 * keys are pinned where the node would have read them at their names (loopback, where the test's
 * servers live, is never read for a stranger).
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '../helpers/fixtures.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import { startInProcessNode } from '../helpers/in-process-node.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';
import { eventually } from '../helpers/rooms.ts';
import { sendSigned } from '../helpers/signed-request.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { Identity } from '../../main/core/identity/identity.ts';
import { encodeChoice, signChoice } from '../../main/core/mailbox/choice.ts';
import { signRequestHeaders } from '../../main/core/federation/request-signature.ts';
import type { RequestSigner } from '../../main/core/federation/request-signature.ts';

const FED = '/_paracord/federation/v1';

type Node = Awaited<ReturnType<typeof startInProcessNode>>;
let carol: Node;
let beta: FakePeer;
let alice: FakePeer;

beforeAll(async ({ fileNodes }) => {
  // carol keeps 4 requests for a friend: 2 in each share.
  carol = await fileNodes.inProcess('carol.test', { config: { mailboxQuotaItems: 4, pullWaitMs: 100 } });
  beta = await fileNodes.fakePeer('beta.test');
  alice = await fileNodes.fakePeer('alice.test');
  for (const peer of [beta, alice]) expect((await carol.admin('POST', '/peers', { server_name: peer.identity.serverName, endpoint: peer.url })).status).toBe(200);
  expect((await carol.admin('PUT', '/mailbox', { enabled: true })).status).toBe(200);
  expect((await carol.admin('PUT', '/policy', { default: 'open' })).status).toBe(200);
  // beta chose carol as its mailbox: it fetched, with its signed statement.
  const fetched = await sendSigned(beta.identity, carol.started.federation_url!, 'GET', `${FED}/mailbox?cursor=&limit=1`, undefined, {
    mutateHeaders: (h) => Object.assign(h, { 'x-paracord-mailbox-choice': encodeChoice(signChoice(beta.identity, 'carol.test')) }),
  });
  expect(fetched.status, JSON.stringify(fetched.body)).toBe(200);
});

/** One request carried for beta, signed by `who` (as a sender's mailbox deposit is). */
function deposit(who: RequestSigner, n: number) {
  const body = JSON.stringify({ n });
  const inner = signRequestHeaders(who, 'POST', `${FED}/event`, Buffer.from(body), Date.now(), 'beta.test');
  return sendSigned(who, carol.started.federation_url!, 'POST', `${FED}/mailbox/deposit/beta.test/event`, body, {
    mutateHeaders: (h) => Object.assign(h, { 'x-paracord-inner-key-id': inner['X-Paracord-Key-Id'], 'x-paracord-inner-timestamp': inner['X-Paracord-Timestamp'], 'x-paracord-inner-signature': inner['X-Paracord-Signature'] }),
  });
}

/** A server nobody here made friends with, whose keys carol holds (read at its name, as the open policy does). */
function stranger(name: string): Identity {
  const identity = Identity.create(join(tempDir(), `${name}.json`), name);
  carol.node.context.keys.pin(name, identity.keyId, identity.publicKeyHex);
  return identity;
}

describe('red team: made-up depositors cannot fill what a mailbox keeps for a friend', () => {
  it('servers the owner has not allowed share one share of a recipient\'s quota, whatever their names; a friend\'s share stays its own', async () => {
    const [m1, m2, m3] = ['m1.test', 'm2.test', 'm3.test'].map(stranger) as [Identity, Identity, Identity];
    expect((await deposit(m1, 1)).status).toBe(200);
    expect((await deposit(m2, 1)).status).toBe(200);
    // Two strangers hold their one share: a third name, or one of them again, is told the share is full.
    for (const who of [m2, m3]) {
      const refused = await deposit(who, 2);
      expect(refused.status, JSON.stringify(refused.body)).toBe(429);
      expect(refused.body.error).toBe('mailbox_share_full');
      expect(refused.body.message).toContain('servers its owner has not made friends with');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    }
    // alice, a friend of carol's, still leaves beta its own share (before: 429 mailbox_full, the strangers had it all).
    expect((await deposit(alice.identity, 1)).status).toBe(200);
    expect((await deposit(alice.identity, 2)).status).toBe(200);
    const full = await deposit(alice.identity, 3);
    expect(full.status).toBe(429);
    expect(full.body.error).toBe('mailbox_full');
    expect(queryNodeDb<{ depositor: string; share: string }>(carol.dataDir, 'SELECT depositor, share FROM mailbox_items ORDER BY id')).toEqual([
      { depositor: 'm1.test', share: '*' },
      { depositor: 'm2.test', share: '*' },
      { depositor: 'alice.test', share: 'alice.test' },
      { depositor: 'alice.test', share: 'alice.test' },
    ]);
    // beta takes it all: its ack deletes what it took, the counts follow, and the strangers' share is free again.
    const page = await sendSigned(beta.identity, carol.started.federation_url!, 'GET', `${FED}/mailbox?cursor=&limit=10`, undefined);
    expect(page.body.items).toHaveLength(4);
    const acked = await sendSigned(beta.identity, carol.started.federation_url!, 'POST', `${FED}/mailbox/ack`, JSON.stringify({ cursor: page.body.cursor }));
    expect(acked.status, JSON.stringify(acked.body)).toBe(200);
    await eventually(async () => expect((await deposit(m3, 3)).status).toBe(200), 5_000, 100);
  });
});
