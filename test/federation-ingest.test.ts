/**
 * Two real nodes (child processes, own data dirs, HTTP on 127.0.0.1): beta adds alpha as a
 * peer and delivers signed events; every bad input of issue #2 is refused with the status
 * and error code of docs/PROTOCOL.md §Event ingest, and nothing is stored.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from './helpers/fixtures.ts';
import { keyPairFromSeed, randomSeed, sign } from '../main/core/crypto/ed25519.ts';
import { encodeHex } from '../main/core/crypto/hex.ts';
import { Identity } from '../main/core/identity/identity.ts';
import { signRequestHeaders, type RequestSigner } from '../main/core/federation/request-signature.ts';
import { makeEvent, wire } from './helpers/events.ts';
import { countEvents } from './helpers/inspect-db.ts';
import { stopAll, type NodeProcess } from './helpers/node-process.ts';
import { sendRaw, sendSigned } from './helpers/signed-request.ts';
import { tempDir } from './helpers/temp-dir.ts';

const EVENT = '/_paracord/federation/v1/event';

let alpha: NodeProcess;
let beta: NodeProcess;
let betaSigner: Identity;
let roomId: string;

/** A message of @owner:beta.test in alpha's room, signed by beta. */
function betaMessage(overrides: Parameters<typeof makeEvent>[1] = {}) {
  return makeEvent(betaSigner, { room_id: roomId, ...overrides });
}

beforeAll(async ({ pair }) => {
  ({ alpha, beta } = pair);
  // The test speaks as beta's operator: beta's own key, served by the running beta node.
  betaSigner = Identity.load(join(beta.dataDir, 'identity.json'));
  // alpha hosts a room that beta's owner joins: beta's events for it are then legitimate.
  roomId = (await alpha.admin('POST', '/rooms', { name: 'ingest' })).body.room_id;
  const invited = await alpha.admin('POST', `/rooms/${encodeURIComponent(roomId)}/invites`, { user_id: '@owner:beta.test' });
  expect(invited.body).toMatchObject({ event_id: expect.any(String) });
  const [invite] = (await beta.admin('GET', '/invites')).body.invites;
  expect((await beta.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(200);
});

afterAll(async () => {
  await stopAll([alpha, beta]);
  // Logs are useful and never carry secrets: neither the admin token nor any key seed.
  for (const node of [alpha, beta]) {
    const log = readFileSync(join(node.dataDir, 'logs', 'node.log'), 'utf8') + node.stderr;
    expect(log).toContain('"event":"node_ready"');
    expect(log).toContain('"event":"peer_added"');
    expect(log).not.toContain(node.adminToken);
    for (const key of JSON.parse(readFileSync(join(node.dataDir, 'identity.json'), 'utf8')).active.seed.match(/.{16}/g)) {
      expect(log).not.toContain(key);
    }
  }
});

function deliver(signer: RequestSigner, body: string | Buffer, options?: Parameters<typeof sendSigned>[5]) {
  return sendSigned(signer, alpha.federationUrl, 'POST', EVENT, body, options);
}

describe('discovery and keys', () => {
  it('serves discovery and a self-signed keys document', async () => {
    const discovery = await sendRaw(`${alpha.federationUrl}/.well-known/paracord/server`, 'GET', {});
    expect(discovery.status).toBe(200);
    expect(discovery.body).toMatchObject({ server_name: 'alpha.test', federation_endpoint: alpha.federationUrl, enabled: true, version: 'federation-v1' });
    const keys = await sendRaw(`${alpha.federationUrl}/_paracord/federation/v1/keys`, 'GET', {});
    expect(keys.status).toBe(200);
    expect(keys.body.server_name).toBe('alpha.test');
    expect(keys.body.active_key.valid_until).toBeGreaterThan(Date.now());
  });

  it('peering stored the other side\'s key', async () => {
    const peers = await alpha.admin('GET', '/peers');
    const betaPeer = peers.body.peers.find((p: { server_name: string }) => p.server_name === 'beta.test');
    expect(betaPeer.trust).toBe('allow');
    expect(betaPeer.keys.map((k: { key_id: string }) => k.key_id)).toContain(betaSigner.keyId);
  });
});

describe('a signed event', () => {
  it('is accepted, fetched back, retried idempotently, and a conflicting copy is refused', async () => {
    const event = betaMessage();
    const first = await deliver(betaSigner, wire(event));
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ event_id: event.event_id, inserted: true });

    const fetched = await sendSigned(betaSigner, alpha.federationUrl, 'GET', `${EVENT}/${encodeURIComponent(event.event_id)}`);
    expect(fetched.status).toBe(200);
    expect(fetched.text).toBe(wire(event));

    // A retry is a new request (new timestamp, new signature) carrying the same event.
    await new Promise((r) => setTimeout(r, 5));
    const retry = await deliver(betaSigner, wire(event));
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual({ event_id: event.event_id, inserted: false });

    const conflicting = betaMessage({ event_id: event.event_id, content: { body: 'changed', format: 'plain' } });
    const conflict = await deliver(betaSigner, wire(conflicting));
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toBe('event_id_conflict');
  });

  it('is not shown to a server that is not entitled to it', async () => {
    const event = betaMessage();
    expect((await deliver(betaSigner, wire(event))).status).toBe(202);
    // gamma is an allowed peer of alpha (pinned key) but neither origin nor room host.
    const gamma = Identity.create(join(tempDir(), 'identity.json'), 'gamma.test');
    const added = await alpha.admin('POST', '/peers', { server_name: 'gamma.test', endpoint: 'http://127.0.0.1:9', key_id: gamma.keyId, public_key: gamma.publicKeyHex });
    expect(added.status).toBe(200);
    const response = await sendSigned(gamma, alpha.federationUrl, 'GET', `${EVENT}/${encodeURIComponent(event.event_id)}`);
    expect(response.status).toBe(404);
    expect(response.body.error).toBe('not_found');
  });
});

describe('bad input is refused and stores nothing', () => {
  type Case = { name: string; status: number; error: string; send: () => Promise<{ status: number; body: any }> };
  const otherKey = keyPairFromSeed(randomSeed());
  const impostorSigner = (): RequestSigner => ({ serverName: 'beta.test', keyId: betaSigner.keyId, signHex: (m) => encodeHex(sign(m, otherKey.secretKey)) });

  const cases: Case[] = [
    { name: 'missing headers', status: 401, error: 'missing_auth', send: () => sendRaw(alpha.federationUrl + EVENT, 'POST', {}, wire(betaMessage())) },
    {
      name: 'unsigned (no signature header)', status: 401, error: 'missing_auth',
      send: () => deliver(betaSigner, wire(betaMessage()), { mutateHeaders: (h) => delete h['X-Paracord-Signature'] }),
    },
    {
      name: 'tampered signature', status: 403, error: 'bad_signature',
      send: () => deliver(betaSigner, wire(betaMessage()), {
        mutateHeaders: (h) => {
          const s = h['X-Paracord-Signature']!;
          h['X-Paracord-Signature'] = (s[0] === '0' ? '1' : '0') + s.slice(1);
        },
      }),
    },
    {
      name: 'tampered body', status: 403, error: 'bad_signature',
      send: () => {
        const body = wire(betaMessage());
        const headers = { ...betaSignedHeaders(body) };
        return sendRaw(alpha.federationUrl + EVENT, 'POST', headers, body.replace('hello', 'HELLO'));
      },
    },
    { name: 'stale timestamp', status: 401, error: 'stale_timestamp', send: () => deliver(betaSigner, wire(betaMessage()), { timestamp: Date.now() - 120_000 }) },
    { name: 'future timestamp', status: 401, error: 'stale_timestamp', send: () => deliver(betaSigner, wire(betaMessage()), { timestamp: Date.now() + 120_000 }) },
    {
      name: 'unknown origin', status: 403, error: 'origin_not_allowed',
      send: () => {
        const stranger = Identity.create(join(tempDir(), 'identity.json'), 'stranger.test');
        return deliver(stranger, wire(makeEvent(stranger)));
      },
    },
    {
      name: 'blocked origin', status: 403, error: 'origin_blocked',
      send: async () => {
        const blocked = Identity.create(join(tempDir(), 'identity.json'), 'blocked.test');
        const set = await alpha.admin('PUT', '/peers/blocked.test/trust', { mode: 'block', reason: 'spam' });
        expect(set.status).toBe(200);
        return deliver(blocked, wire(makeEvent(blocked)));
      },
    },
    {
      name: 'unknown key id the origin does not publish', status: 403, error: 'unknown_key',
      send: () => deliver({ serverName: 'beta.test', keyId: 'ed25519:notpublished', signHex: (m) => betaSigner.signHex(m) }, wire(betaMessage())),
    },
    { name: 'malformed JSON', status: 400, error: 'malformed_json', send: () => deliver(betaSigner, '{"event_id": "$x:beta.test",') },
    { name: 'body over 1 MiB', status: 413, error: 'body_too_large', send: () => deliver(betaSigner, wire(betaMessage({ content: { body: 'x'.repeat(1024 * 1024) } }))) },
    {
      name: 'nesting over 32', status: 400, error: 'limits_exceeded',
      send: () => deliver(betaSigner, wire(betaMessage({ content: { deep: JSON.parse('['.repeat(33) + ']'.repeat(33)) } }))),
    },
    {
      name: 'more than 10,000 elements', status: 400, error: 'limits_exceeded',
      send: () => deliver(betaSigner, wire(betaMessage({ content: { many: new Array(10_001).fill(1) } }))),
    },
    {
      name: 'float in content', status: 400, error: 'invalid_number',
      send: () => deliver(betaSigner, wire(betaMessage()).replace('"format":"plain"', '"format":"plain","n":1.5')),
    },
    {
      name: 'unsafe integer in content', status: 400, error: 'invalid_number',
      send: () => deliver(betaSigner, wire(betaMessage()).replace('"format":"plain"', '"format":"plain","n":9007199254740993')),
    },
    {
      name: 'envelope with an extra field', status: 400, error: 'invalid_event',
      send: () => deliver(betaSigner, wire(betaMessage()).replace('"state_key":null', '"state_key":null,"extra":1')),
    },
    {
      name: 'event id whose suffix is not the origin', status: 403, error: 'event_id_not_origin',
      send: () => deliver(betaSigner, wire(betaMessage({ event_id: '$squat:alpha.test' }))),
    },
    {
      name: 'envelope signed by another key', status: 403, error: 'bad_event_signature',
      send: () => deliver(betaSigner, wire(makeEvent(impostorSigner(), { room_id: roomId }))),
    },
    {
      name: 'sender of another server', status: 403, error: 'sender_not_origin',
      send: () => deliver(betaSigner, wire(betaMessage({ sender: '@mallory:alpha.test' }))),
    },
    {
      name: 'event of another origin for a room the sender does not host', status: 403, error: 'not_origin',
      send: () => {
        const gamma = { serverName: 'gamma.test', keyId: 'ed25519:g', signHex: (m: Buffer) => betaSigner.signHex(m) };
        return deliver(betaSigner, wire(makeEvent(gamma, { room_id: '!lobby:gamma.test' })));
      },
    },
  ];

  function betaSignedHeaders(body: string) {
    return sendSignedHeaders(betaSigner, body);
  }

  for (const testCase of cases) {
    it(`${testCase.name} → ${testCase.status} ${testCase.error}`, async () => {
      const before = countEvents(alpha.dataDir);
      const response = await testCase.send();
      expect(response.status).toBe(testCase.status);
      expect(response.body).toMatchObject({ error: testCase.error });
      expect(typeof response.body.message).toBe('string');
      expect(countEvents(alpha.dataDir)).toBe(before);
    });
  }

  it('replayed request → 409 replayed_request, also after a restart', async () => {
    const body = wire(betaMessage());
    const headers = sendSignedHeaders(betaSigner, body);
    const first = await sendRaw(alpha.federationUrl + EVENT, 'POST', headers, body);
    expect(first.status).toBe(202);
    const before = countEvents(alpha.dataDir);
    const replay = await sendRaw(alpha.federationUrl + EVENT, 'POST', headers, body);
    expect(replay.status).toBe(409);
    expect(replay.body.error).toBe('replayed_request');

    expect(await alpha.stop()).toBe(0);
    await alpha.start();
    const afterRestart = await sendRaw(alpha.federationUrl + EVENT, 'POST', headers, body);
    expect(afterRestart.status).toBe(409);
    expect(afterRestart.body.error).toBe('replayed_request');
    expect(countEvents(alpha.dataDir)).toBe(before);
  });

  it('a request whose event is refused in the storing transaction (its sender is no member) is remembered too: the same request again → 409 replayed_request', async () => {
    const body = wire(betaMessage({ sender: '@stranger:beta.test' }));
    const headers = sendSignedHeaders(betaSigner, body);
    const before = countEvents(alpha.dataDir);
    const first = await sendRaw(alpha.federationUrl + EVENT, 'POST', headers, body);
    expect(first.status, JSON.stringify(first.body)).toBe(403);
    const replay = await sendRaw(alpha.federationUrl + EVENT, 'POST', headers, body);
    expect(replay.status).toBe(409);
    expect(replay.body.error).toBe('replayed_request');
    expect(countEvents(alpha.dataDir)).toBe(before);
  });
});

/** Bound to alpha, as beta (which advertises destination binding) signs its requests to alpha. */
function sendSignedHeaders(signer: RequestSigner, body: string): Record<string, string> {
  return signRequestHeaders(signer, 'POST', EVENT, body, Date.now(), 'alpha.test');
}
