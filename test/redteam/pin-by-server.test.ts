/**
 * Red team (peering by invite link, 2026-11-30): a certificate pin was looked up by address across
 * every peer's row. A holder of one of alpha's links redeemed it under a name of its own, with the
 * address of a friend of alpha's that was down at that moment and a certificate fingerprint of its
 * own: the call-back failed for the network, so the row was stored "not reached", and from then on
 * every request of alpha's to that address was pinned to the holder's certificate: when beta came
 * back and peered, alpha could send it nothing (or only to whoever holds that certificate). Now a
 * request takes the pin of the server it is for, from that server's own row
 * (TrustStore.pinnedFingerprintFor). Two real nodes over HTTPS with self-signed certificates.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { beforeAll, expect, it } from '../helpers/fixtures.ts';
import { Identity } from '../../main/core/identity/identity.ts';
import { PEERING_PATH } from '../../main/core/federation/paths.ts';
import { parseLink } from '../../main/core/peering/invite-link.ts';
import type { NodeProcess } from '../helpers/node-process.ts';
import { eventually, inviteAndJoin, messages, send } from '../helpers/rooms.ts';
import { sendSigned } from '../helpers/signed-request.ts';
import { tempDir } from '../helpers/temp-dir.ts';

let alpha: NodeProcess;
let beta: NodeProcess;

beforeAll(async ({ fileNodes }) => {
  alpha = fileNodes.process({ serverName: 'alpha.test', secure: true });
  beta = fileNodes.process({ serverName: 'beta.test', secure: true });
  await Promise.all([alpha.start(), beta.start()]);
});

async function newToken(node: NodeProcess): Promise<{ id: string; link: string; token: string }> {
  const created = await node.admin('POST', '/invites/peer', {});
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  const parsed = parseLink(created.body.link);
  if (!parsed.ok) throw new Error('a link the node made does not parse');
  return { id: created.body.id, link: created.body.link, token: parsed.payload.token };
}

it("a link holder that registers a friend's address with its own certificate does not pin that address for the friend", async () => {
  const betaUrl = beta.federationUrl;
  // Beta is down (its port closed: the call-back fails for the network, not for what answers).
  await beta.stop();
  const holder = Identity.create(join(tempDir(), 'identity.json'), 'mallory.test');
  const ownCertificate = randomBytes(32).toString('hex').toUpperCase().match(/../g)!.join(':');
  const { token } = await newToken(alpha);
  const body = JSON.stringify({ token, server_name: 'mallory.test', endpoint: betaUrl, key_id: holder.keyId, public_key: holder.publicKeyHex, tls_fingerprint: ownCertificate });
  const redeemed = await sendSigned(holder, alpha.federationUrl, 'POST', PEERING_PATH, body);
  expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(200);
  expect(redeemed.body).toMatchObject({ reachable: false });
  const mallory = (await alpha.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'mallory.test');
  expect(mallory).toMatchObject({ endpoint: betaUrl, tls_fingerprint: ownCertificate });

  // Beta comes back at the same address and redeems a link of alpha's of its own.
  await beta.start();
  expect(beta.federationUrl).toBe(betaUrl);
  const { link } = await newToken(alpha);
  const peered = await beta.admin('POST', '/invites/peer/redeem', { link });
  expect(peered.status, JSON.stringify(peered.body)).toBe(200);
  expect(peered.body).toMatchObject({ reachable: true });

  // Alpha's own requests to beta (an invite, then a message) take beta's certificate, not the holder's.
  const created = await alpha.admin('POST', '/rooms', { name: 'pins' });
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  const roomId = created.body.room_id as string;
  await inviteAndJoin(alpha, roomId, beta, '@owner:beta.test');
  await send(alpha, roomId, 'to beta, pinned to beta');
  // (Before: "certificate ... does not match the pinned fingerprint" on every delivery to beta.)
  await eventually(async () => expect((await messages(beta, roomId)).map((m) => m.body)).toContain('to beta, pinned to beta'), 30_000);
  const status = (await alpha.admin('GET', `/peers`)).body.peers.find((p: { server_name: string }) => p.server_name === 'beta.test');
  expect(status.tls_fingerprint).not.toBe(ownCertificate);
});
