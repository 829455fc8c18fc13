/**
 * Issue #5: two nodes over HTTPS with self-signed certificates peer through an invite link
 * alone and talk; key rotation does not interrupt them; and the attacks on links, pins and keys
 * are refused.
 */
import { createServer as createHttpsServer, type Server } from 'node:https';
import { join } from 'node:path';
import selfsigned from 'selfsigned';
import { beforeAll, describe, expect, it, type Nodes } from './helpers/fixtures.ts';
import { canonicalJson } from '../main/core/crypto/canonical-json.ts';
import { Identity } from '../main/core/identity/identity.ts';
import { encodeLink, parseLink } from '../main/core/peering/invite-link.ts';
import { makeEvent, wire } from './helpers/events.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { eventually, inviteAndJoin, messages, send } from './helpers/rooms.ts';
import { tempDir } from './helpers/temp-dir.ts';
import { sendSigned } from './helpers/signed-request.ts';

let alpha: NodeProcess;
let beta: NodeProcess;
let roomId: string;

beforeAll(async ({ fileNodes }) => {
  alpha = fileNodes.process({ serverName: 'alpha.test', secure: true });
  beta = fileNodes.process({ serverName: 'beta.test', secure: true });
  await Promise.all([alpha.start(), beta.start()]);
});

async function newLink(node: NodeProcess, extra: Record<string, unknown> = {}) {
  const created = await node.admin('POST', '/invites/peer', extra);
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  return created.body as { id: string; link: string; https_link: string; expires_at: number };
}

describe('peering through an invite link, over HTTPS with pinned self-signed certificates', () => {
  it('peers two nodes with nothing but the link, and they exchange messages', async () => {
    expect(alpha.federationUrl).toMatch(/^https:/);
    const { link, https_link } = await newLink(alpha, { note: 'for beta' });
    expect(link).toMatch(/^paracord:\/\/peer\//);
    expect(https_link).toBe(`${alpha.federationUrl}/_paracord/peer#${link.slice('paracord://peer/'.length)}`);

    const redeemed = await beta.admin('POST', '/invites/peer/redeem', { link });
    expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(200);
    const alphaStatus = (await alpha.admin('GET', '/status')).body;
    expect(redeemed.body).toMatchObject({ server_name: 'alpha.test', tls_fingerprint: alphaStatus.federation.tls_fingerprint });

    // Both sides now allow each other, with key and certificate pinned.
    const betaStatus = (await beta.admin('GET', '/status')).body;
    const alphaSeesBeta = (await alpha.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'beta.test');
    expect(alphaSeesBeta).toMatchObject({ trust: 'allow', endpoint: beta.federationUrl, tls_fingerprint: betaStatus.federation.tls_fingerprint });
    expect(alphaSeesBeta.keys).toContainEqual(expect.objectContaining({ key_id: betaStatus.key_id, source: 'pinned' }));
    const betaSeesAlpha = (await beta.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'alpha.test');
    expect(betaSeesAlpha).toMatchObject({ trust: 'allow', endpoint: alpha.federationUrl, tls_fingerprint: alphaStatus.federation.tls_fingerprint });
    expect((await alpha.admin('GET', '/invites/peer')).body.invites[0]).toMatchObject({ state: 'used', used_by: 'beta.test', note: 'for beta' });

    // The https form of a link opens a page that hands the link to the app.
    const page = await fetchInsecure(`${alpha.federationUrl}/_paracord/peer`);
    expect(page).toContain('paracord://peer/');

    const created = await alpha.admin('POST', '/rooms', { name: 'over https' });
    roomId = created.body.room_id;
    await inviteAndJoin(alpha, roomId, beta, '@owner:beta.test');
    const fromAlpha = await send(alpha, roomId, 'hello over pinned TLS');
    const fromBeta = await send(beta, roomId, 'hello back');
    for (const node of [alpha, beta]) {
      await eventually(async () => expect((await messages(node, roomId)).map((m) => m.event_id)).toEqual([fromAlpha, fromBeta]));
    }
  });

  it('keeps talking across a key rotation; old events still verify; the old key cannot sign new requests', async () => {
    const oldAlpha = Identity.load(join(alpha.dataDir, 'identity.json'));
    const beforeRotation = await send(alpha, roomId, 'signed with the old key');
    const rotated = await alpha.admin('POST', '/keys/rotate');
    expect(rotated.status).toBe(200);
    expect(rotated.body.previous_key_id).toBe(oldAlpha.keyId);
    const keys = (await alpha.admin('GET', '/keys')).body;
    expect(keys.active_key.key_id).toBe(rotated.body.key_id);
    expect(keys.old_keys[0]).toMatchObject({ key_id: oldAlpha.keyId });

    const afterRotation = await send(alpha, roomId, 'signed with the new key');
    const reply = await send(beta, roomId, 'still here');
    for (const node of [alpha, beta]) {
      await eventually(async () => expect((await messages(node, roomId)).map((m) => m.event_id)).toEqual(expect.arrayContaining([beforeRotation, afterRotation, reply])));
    }
    // beta learned the new key and kept the old one as old.
    const betaKeys = (await beta.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'alpha.test').keys;
    expect(betaKeys).toContainEqual(expect.objectContaining({ key_id: rotated.body.key_id, expired_at: null }));
    expect(betaKeys.find((k: { key_id: string }) => k.key_id === oldAlpha.keyId).expired_at).toBeGreaterThan(0);

    // A request signed with the old key now: refused, even though the key is known.
    const replay = await sendSigned(oldAlpha, beta.federationUrl, 'POST', '/_paracord/federation/v1/event', wire(makeEvent(oldAlpha, { room_id: roomId })));
    expect(replay.status).toBe(403);
    expect(replay.body.error).toBe('key_expired');
  });
});

describe('attacks on links and pins are refused', () => {
  it('a reused link', async ({ nodes }) => {
    const gamma = await nodes.start({ serverName: 'gamma.test', secure: true });
    const { link } = await newLink(alpha);
    expect((await gamma.admin('POST', '/invites/peer/redeem', { link })).status).toBe(200);
    const again = await beta.admin('POST', '/invites/peer/redeem', { link });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('link_used');
  });

  it('an expired link', async () => {
    const { link } = await newLink(alpha, { expires_in_seconds: 1 });
    await new Promise((r) => setTimeout(r, 1100));
    const response = await beta.admin('POST', '/invites/peer/redeem', { link });
    expect(response.status).toBe(410);
    expect(response.body.error).toBe('link_expired');
  });

  it('a revoked link', async () => {
    const { id, link } = await newLink(alpha);
    expect((await alpha.admin('DELETE', `/invites/peer/${id}`)).body.state).toBe('revoked');
    const response = await beta.admin('POST', '/invites/peer/redeem', { link });
    expect(response.status).toBe(403);
    expect(response.body.error).toBe('link_revoked');
  });

  it('a tampered link', async () => {
    const { link } = await newLink(alpha);
    const payload = JSON.parse(Buffer.from(link.slice('paracord://peer/'.length), 'base64url').toString());
    payload.expires_at += 365 * 24 * 3600_000; // try to make it last longer
    const tampered = `paracord://peer/${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
    const response = await beta.admin('POST', '/invites/peer/redeem', { link: tampered });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_link');
    expect(response.body.message).toContain('altered');
    expect((await beta.admin('POST', '/invites/peer/redeem', { link: 'https://example.org/nothing' })).body.error).toBe('invalid_link');
  });

  it('a link whose key is not the one the server serves (re-signed by an impostor)', async ({ nodes }) => {
    const { link } = await newLink(alpha);
    const parsed = parseLink(link);
    if (!parsed.ok) throw new Error(parsed.reason);
    const impostor = Identity.create(join(tempDir(), 'identity.json'), 'alpha.test');
    const { sig: _sig, ...rest } = parsed.payload;
    const unsigned = { ...rest, key_id: impostor.keyId, public_key: impostor.publicKeyHex };
    const forged = encodeLink({ ...unsigned, sig: impostor.signHex(Buffer.from(canonicalJson(unsigned))) }).link;
    // A server that does not know alpha yet asks alpha and finds another key.
    const fresh = await newNodeRedeem(nodes, forged);
    expect(fresh.status).toBe(403);
    expect(fresh.body.error).toBe('pin_mismatch');
    // beta peers with alpha already: a key it does not hold for alpha is refused before anything is sent.
    const response = await beta.admin('POST', '/invites/peer/redeem', { link: forged });
    expect(response.status).toBe(409);
    expect(response.body.error).toBe('already_peer');
  });

  it('a man in the middle on the peer\'s port with another certificate', async ({ nodes }) => {
    const { link } = await newLink(alpha);
    const port = Number(new URL(alpha.federationUrl).port);
    expect(await alpha.stop()).toBe(0);
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'alpha.test' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
    let requestsSeen = 0;
    const mitm: Server = createHttpsServer({ key: pems.private, cert: pems.cert }, (_req, res) => {
      requestsSeen++;
      res.writeHead(202, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((r) => mitm.listen(port, '127.0.0.1', r));
    try {
      // A new link of alpha's, redeemed while the impostor answers: refused.
      const redeem = await newNodeRedeem(nodes, link);
      expect(redeem.status).toBe(403);
      expect(redeem.body.error).toBe('pin_mismatch');
      // beta's messages to alpha's room wait in its outbox instead of going to the impostor.
      const eventId = await send(beta, roomId, 'for alpha only');
      const attempt = await eventually(async () => {
        const attempts = (await beta.admin('GET', '/attempts?destination=alpha.test')).body.attempts.filter((a: { event_id: string }) => a.event_id === eventId);
        expect(attempts.length).toBeGreaterThan(0);
        return attempts[0];
      });
      expect(attempt.error).toContain('pinned fingerprint');
      expect((await beta.admin('GET', '/queue?destination=alpha.test')).body.entries.map((e: { event_id: string }) => e.event_id)).toContain(eventId);
      expect(requestsSeen).toBe(0);
    } finally {
      await new Promise<void>((r) => mitm.close(() => r()));
      await alpha.start();
    }
    // With the real alpha back, the held message goes through.
    await eventually(async () => expect((await messages(alpha, roomId)).map((m) => m.body)).toContain('for alpha only'), 30_000);
  });

  it('a keys document with a bad self-signature', async ({ nodes }) => {
    const liar = await nodes.fakePeer('liar.test');
    const document = liar.identity.keysDocument();
    const tampered = { ...document, active_key: { ...document.active_key, valid_until: document.active_key.valid_until + 1 } };
    (liar as unknown as { identity: { keysDocument: () => unknown } }).identity.keysDocument = () => tampered;
    const insecureBeta = await nodes.start({ serverName: 'delta.test' });
    const added = await insecureBeta.admin('POST', '/peers', { server_name: 'liar.test', endpoint: liar.url });
    expect(added.status).toBe(502);
    expect(added.body.message).toContain('self-signature');
    // It answered, but not what a Paracord server answers.
    expect(added.body).toMatchObject({ error: 'peer_unreachable', reason: 'bad_answer', server: 'liar.test' });
    expect((await insecureBeta.admin('GET', '/peers')).body.peers).toEqual([]);
  });
});

/** A fresh node redeeming `link` (so no pin of the real alpha is stored yet). */
async function newNodeRedeem(nodes: Nodes, link: string) {
  const fresh = await nodes.start({ serverName: 'epsilon.test', secure: true, dataDir: join(tempDir(), 'data') });
  return fresh.admin('POST', '/invites/peer/redeem', { link });
}

async function fetchInsecure(url: string): Promise<string> {
  const { request, Agent } = await import('undici');
  const response = await request(url, { dispatcher: new Agent({ connect: { rejectUnauthorized: false } }) });
  return response.body.text();
}
