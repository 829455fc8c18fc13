/**
 * A carried request kept here to be handed over later (mailbox/carried-retries.ts) is judged
 * fresh from when it was kept, not from when it was signed: a wait here must not make it stale.
 * Both kinds of carried route: the signed-request middleware's (an invite) and the peering
 * route's, which reads its own headers (a helper's review found it ignored the kept-at time, so a
 * friend's redeem that waited here past its week was refused as stale for good).
 * However long it waited here: what counts is that it was within the mailbox's week when kept.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { expect, it } from './helpers/fixtures.ts';
import { INVITE_PATH, MAILBOX_PATH, PEERING_PATH } from '../main/core/federation/paths.ts';
import { signRequestHeaders } from '../main/core/federation/request-signature.ts';
import { hashToken, peeringProof, proofKey } from '../main/core/peering/peering-wire.ts';
import { INVITE_WIRE_ORDER, wireJson } from '../main/core/federation/wire-json.ts';
import { makeEvent } from './helpers/events.ts';
import { eventually } from './helpers/rooms.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import type { Identity } from '../main/core/identity/identity.ts';

const DAY = 86_400_000;

/** Writes `requests` into the node's kept queue (it is stopped), as carried-retries.ts keeps them. */
function keep(dataDir: string, mailbox: string, requests: Array<{ from: Identity; path: string; body: string; signedAt: number; keptAt: number }>): void {
  const db = new Database(join(dataDir, 'paracord.db'));
  try {
    for (const r of requests) {
      const headers = signRequestHeaders(r.from, 'POST', r.path, r.body, r.signedAt, 'alpha.test');
      db.prepare('INSERT INTO mailbox_retries (from_server, mailbox, path, key_id, timestamp, signature, body, kept_at, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)')
        .run(r.from.serverName, mailbox, r.path, r.from.keyId, String(r.signedAt), headers['X-Paracord-Signature']!, r.body, r.keptAt);
    }
  } finally {
    db.close();
  }
}

it('requests signed 8 days ago and kept here 2 days ago are taken when handed over: a friend\'s redeem of our link, an invite', async ({ nodes }) => {
  const box = await nodes.fakePeer('box.test');
  const beta = await nodes.fakePeer('beta.test');
  const host = await nodes.fakePeer('host.test');
  let alpha = await nodes.inProcess('alpha.test', { config: { pull: true } });
  for (const peer of [box, host]) expect((await alpha.admin('POST', '/peers', { server_name: peer.serverName, endpoint: peer.url })).status).toBe(200);
  box.routes.set(MAILBOX_PATH, () => ({ status: 200, body: { items: [], cursor: '0' } }));
  const link = (await alpha.admin('POST', '/invites/peer', {})).body.link as string;
  const token = JSON.parse(Buffer.from(link.slice('paracord://peer/'.length), 'base64url').toString('utf8')).token as string;
  const fields = { server_name: 'beta.test', endpoint: beta.url, key_id: beta.identity.keyId, public_key: beta.identity.publicKeyHex, tls_fingerprint: null };
  const redeem = JSON.stringify({ ...fields, token_sha256: hashToken(token), proof: peeringProof(proofKey(token), fields) });
  const roomId = '!kept:host.test';
  const sender = '@owner:host.test';
  const inviteEvent = makeEvent(host.identity, {
    room_id: roomId, event_type: 'm.member.invite', sender, state_key: '@owner:alpha.test',
    content: { membership: 'invite', expires_at: Date.now() + 3600_000, room_name: 'kept' },
  });
  const invite = wireJson({ origin_server: 'host.test', room_id: roomId, sender, max_age_seconds: 3600, invitee: '@owner:alpha.test', room_name: 'kept', event: inviteEvent }, INVITE_WIRE_ORDER);
  const dataDir = alpha.dataDir;
  await alpha.node.stop();
  const now = Date.now();
  keep(dataDir, 'box.test', [
    { from: beta.identity, path: PEERING_PATH, body: redeem, signedAt: now - 8 * DAY, keptAt: now - 2 * DAY },
    { from: host.identity, path: INVITE_PATH, body: invite, signedAt: now - 8 * DAY, keptAt: now - 2 * DAY },
  ]);
  alpha = await nodes.inProcess(undefined, { dataDir, config: { pull: true } });
  await eventually(async () => {
    expect((await alpha.admin('GET', '/peers')).body.peers.map((p: { server_name: string }) => p.server_name)).toContain('beta.test');
    expect((await alpha.admin('GET', '/invites')).body.invites.map((i: { room_id: string }) => i.room_id)).toContain(roomId);
  }, 20_000, 100);
});

it('a request 8 days older than when it was kept (signed 16 days ago, kept 8 days ago) is refused as stale, and nothing changes', async ({ nodes }) => {
  const box = await nodes.fakePeer('box.test');
  const beta = await nodes.fakePeer('beta.test');
  let alpha = await nodes.inProcess('alpha.test', { config: { pull: true } });
  expect((await alpha.admin('POST', '/peers', { server_name: 'box.test', endpoint: box.url })).status).toBe(200);
  box.routes.set(MAILBOX_PATH, () => ({ status: 200, body: { items: [], cursor: '0' } }));
  const link = (await alpha.admin('POST', '/invites/peer', {})).body.link as string;
  const token = JSON.parse(Buffer.from(link.slice('paracord://peer/'.length), 'base64url').toString('utf8')).token as string;
  const fields = { server_name: 'beta.test', endpoint: beta.url, key_id: beta.identity.keyId, public_key: beta.identity.publicKeyHex, tls_fingerprint: null };
  const redeem = JSON.stringify({ ...fields, token_sha256: hashToken(token), proof: peeringProof(proofKey(token), fields) });
  const dataDir = alpha.dataDir;
  await alpha.node.stop();
  const now = Date.now();
  keep(dataDir, 'box.test', [{ from: beta.identity, path: PEERING_PATH, body: redeem, signedAt: now - 16 * DAY, keptAt: now - 8 * DAY }]);
  alpha = await nodes.inProcess(undefined, { dataDir, config: { pull: true } });
  // Handed over (a final answer: the row goes), refused.
  await eventually(async () => expect(queryNodeDb<{ n: number }>(dataDir, 'SELECT COUNT(*) AS n FROM mailbox_retries')[0]!.n).toBe(0), 20_000, 100);
  expect((await alpha.admin('GET', '/peers')).body.peers.map((p: { server_name: string }) => p.server_name)).not.toContain('beta.test');
});
