/**
 * Issue #5 trust and safety with real nodes: quarantine (held, reviewed, released, purged,
 * timed), rate limits under a flood beside a well-behaved peer, and auto-quarantine of a server
 * proven to misbehave — but never of a server whose name is only forged.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from './helpers/fixtures.ts';
import { keyPairFromSeed, randomSeed, sign } from '../main/core/crypto/ed25519.ts';
import { encodeHex } from '../main/core/crypto/hex.ts';
import { makeEvent, wire } from './helpers/events.ts';
import { joinFakePeer } from './helpers/fake-members.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { eventually, messages, roomWithMembers, send } from './helpers/rooms.ts';
import { sendSigned } from './helpers/signed-request.ts';

let alpha: NodeProcess;
let beta: NodeProcess;
let roomId: string;

beforeAll(async ({ fileNodes }) => {
  [alpha, beta] = await fileNodes.peered('alpha.test', { serverName: 'beta.test', args: ['--retry-initial', '200', '--retry-max', '1000'] });
  roomId = await roomWithMembers(alpha, 'safety', [[beta, '@owner:beta.test']]);
});

const peer = async (node: NodeProcess, server: string) =>
  (await node.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === server);
const ids = async (node: NodeProcess) => (await messages(node, roomId)).map((m) => m.event_id);

describe('quarantine', () => {
  it('holds a server\'s events unapplied and pauses outbound, until released or purged', async () => {
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'quarantine', reason: 'new friend, checking' })).status).toBe(200);

    const held = await send(beta, roomId, 'am I heard?');
    const review = await eventually(async () => {
      const list = (await alpha.admin('GET', '/quarantine?server_name=beta.test')).body;
      expect(list.held.map((h: { event_id: string }) => h.event_id)).toContain(held);
      return list;
    });
    expect(review.held[0]).toMatchObject({ origin: 'beta.test', event_type: 'm.message', body: 'am I heard?', sender: '@owner:beta.test' });
    expect(review.counts).toEqual({ 'beta.test': 1 });
    expect(await ids(alpha)).not.toContain(held);
    // beta's delivery succeeded as far as beta knows: nothing piles up or fails there.
    await eventually(async () => expect((await beta.admin('GET', '/status')).body.queue).toEqual({ pending: 0, failed: 0 }));
    // …and its message says alpha holds it for review, not a bare "delivered" (alpha's receipt said held).
    const deliveryOf = async (eventId: string) =>
      (await beta.admin('GET', `/rooms/${encodeURIComponent(roomId)}/messages?limit=500`)).body.messages.find((m: { event_id: string }) => m.event_id === eventId)?.delivery;
    expect(await deliveryOf(held)).toMatchObject({ state: 'delivered', held_there: ['alpha.test'] });
    // …and its peer line's data says alpha holds what it sends, since then.
    expect((await peer(beta, 'alpha.test')).holds_ours_for_review).toEqual({ since: expect.any(Number), last_at: expect.any(Number) });

    // Outbound to a quarantined server waits, untried.
    const fromAlpha = await send(alpha, roomId, 'not for beta yet');
    await new Promise((r) => setTimeout(r, 300));
    const queued = (await alpha.admin('GET', '/queue?destination=beta.test')).body.entries.find((e: { event_id: string }) => e.event_id === fromAlpha);
    expect(queued).toMatchObject({ state: 'pending', attempts: 0 });
    expect((await alpha.admin('GET', '/attempts?destination=beta.test')).body.attempts.filter((a: { event_id: string }) => a.event_id === fromAlpha)).toEqual([]);

    // Release: applied in order, as if just received.
    const released = await alpha.admin('POST', '/quarantine/beta.test/release');
    expect(released.body).toEqual({ released: 1, rejected: [], kept: 0 });
    expect(await ids(alpha)).toContain(held);

    // Purge: gone for good.
    const purged = await send(beta, roomId, 'this one will be purged');
    await eventually(async () => expect((await alpha.admin('GET', '/quarantine')).body.counts['beta.test']).toBe(1));
    expect((await alpha.admin('POST', '/quarantine/beta.test/purge')).body).toEqual({ purged: 1 });
    expect(await ids(alpha)).not.toContain(purged);
    expect((await alpha.admin('POST', '/quarantine/beta.test/release')).status).toBe(409);

    // Trusted again: the waiting outbound goes.
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'allow' })).status).toBe(200);
    await eventually(async () => expect(await ids(beta)).toContain(fromAlpha));
    // A message alpha takes as any other reads delivered, with nothing held there.
    const later = await send(beta, roomId, 'heard at once');
    await eventually(async () => expect(await ids(alpha)).toContain(later));
    await eventually(async () => expect(await deliveryOf(later)).toMatchObject({ state: 'delivered' }));
    expect((await deliveryOf(later)).held_there).toBeUndefined();
    expect((await peer(beta, 'alpha.test')).holds_ours_for_review).toBeNull();
    expect((await deliveryOf(purged)).held_there).toEqual(['alpha.test']);
  });

  it('a release that cannot store an event now keeps it and the later ones held, in order; a later release takes them', async () => {
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'quarantine', reason: 'checking again' })).status).toBe(200);
    const first = await send(beta, roomId, 'held one');
    const second = await send(beta, roomId, 'held two, an answer to the first');
    await eventually(async () => expect((await alpha.admin('GET', '/quarantine')).body.counts['beta.test']).toBe(2));

    // Another connection holds the database's write lock: the node's writes wait out its busy
    // timeout (5 s) and fail, a failure of this machine, not a verdict on beta's events.
    const lock = new Database(join(alpha.dataDir, 'paracord.db'));
    lock.prepare('BEGIN IMMEDIATE').run();
    let stopped;
    try {
      stopped = await alpha.admin('POST', '/quarantine/beta.test/release');
    } finally {
      lock.prepare('ROLLBACK').run();
      lock.close();
    }
    // Before, any error dropped the held row whenever its removal could still be written (lost for
    // good); here the removal waited for the lock as well, and the release answered 503 after 5 s.
    expect(stopped.body).toEqual({ released: 0, rejected: [], kept: 2 });
    expect((await alpha.admin('GET', '/quarantine?server_name=beta.test')).body.held.map((h: { event_id: string }) => h.event_id)).toEqual([first, second]);
    expect(await ids(alpha)).not.toContain(first);

    const released = await alpha.admin('POST', '/quarantine/beta.test/release');
    expect(released.body).toEqual({ released: 2, rejected: [], kept: 0 });
    const stored = await ids(alpha);
    expect(stored.indexOf(first)).toBeGreaterThanOrEqual(0);
    expect(stored.indexOf(second)).toBeGreaterThan(stored.indexOf(first));
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'allow' })).status).toBe(200);
  });

  it('ends by itself at its end time, and releases what it held', async () => {
    // The end is set once the message is held (as heldPastAnEnd does): a slow push could arrive after a fixed end.
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'quarantine', reason: 'for a moment' })).status).toBe(200);
    const held = await send(beta, roomId, 'held for a moment');
    await eventually(async () => expect((await alpha.admin('GET', '/quarantine')).body.counts['beta.test']).toBe(1));
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'quarantine', reason: 'for a moment', until_ms: Date.now() + 300 })).status).toBe(200);
    await eventually(async () => expect(await ids(alpha)).toContain(held), 10_000);
    expect(await peer(alpha, 'beta.test')).toMatchObject({ trust: 'allow', reason: 'quarantine ended' });
  });

  it('a stranger (no address, no keys) held for a while is a stranger again at its end, not an allowed peer', async () => {
    expect((await alpha.admin('PUT', '/peers/stranger.example/trust', { mode: 'quarantine', reason: 'for a moment', until_ms: Date.now() + 300 })).status).toBe(200);
    expect(await peer(alpha, 'stranger.example')).toMatchObject({ trust: 'quarantine' });
    await eventually(async () => expect(await peer(alpha, 'stranger.example')).toBeUndefined(), 10_000);
    // Under the allowlist, nothing is sent there (it was allowed, and an invitation called it).
    const room = (await alpha.admin('POST', '/rooms', { name: 'after a stranger\'s hold' })).body.room_id as string;
    expect((await alpha.admin('POST', `/rooms/${encodeURIComponent(room)}/invites`, { user_id: '@x:stranger.example' })).body.error).toBe('peer_not_allowed');
  });

  /**
   * alpha's database refuses to store beta's events (as a full disk would: a failure here, not a
   * verdict on them) while `beta_full` stands; beta's `count` messages are held, then the
   * quarantine ends and its release keeps them. The end is set once they are held (held events are
   * not stored until released), so that a slow machine cannot let them arrive after it.
   */
  async function heldPastAnEnd(db: Database.Database, count: number): Promise<string[]> {
    db.exec("CREATE TRIGGER beta_full BEFORE INSERT ON federation_events WHEN NEW.origin_server = 'beta.test' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
    const retries = () => alpha.stderr.split('"event":"quarantine_release_retry"').length - 1;
    const retriesBefore = retries();
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'quarantine', reason: 'for a moment' })).status).toBe(200);
    const sent: string[] = [];
    for (let i = 0; i < count; i++) sent.push(await send(beta, roomId, `held past a full disk ${i}`));
    await eventually(async () => expect((await alpha.admin('GET', '/quarantine')).body.counts['beta.test']).toBe(count));
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'quarantine', reason: 'for a moment', until_ms: Date.now() + 300 })).status).toBe(200);
    // The end comes; its release stops at the first event and keeps them all, in order.
    await eventually(async () => expect(retries()).toBe(retriesBefore + 1), 15_000);
    expect(await peer(alpha, 'beta.test')).toMatchObject({ trust: 'allow', reason: 'quarantine ended' });
    expect((await alpha.admin('GET', '/quarantine?server_name=beta.test')).body.held.map((h: { event_id: string }) => h.event_id)).toEqual(sent);
    return sent;
  }

  it('an end whose release could not store them now releases them again by itself, without the owner', async () => {
    const db = new Database(join(alpha.dataDir, 'paracord.db'));
    try {
      const [first, second] = await heldPastAnEnd(db, 2);
      // The disk has room again: within the first retry's 10 s they are in, in order (before, they
      // waited for the owner's next release).
      db.exec('DROP TRIGGER beta_full');
      await eventually(async () => expect(await ids(alpha)).toEqual(expect.arrayContaining([first, second])), 20_000);
      const stored = await ids(alpha);
      expect(stored.indexOf(second!)).toBeGreaterThan(stored.indexOf(first!));
      expect((await alpha.admin('GET', '/quarantine')).body.counts['beta.test']).toBeUndefined();
    } finally {
      db.exec('DROP TRIGGER IF EXISTS beta_full');
      db.close();
    }
  });

  it('a restart before the retry releases them at its start', async () => {
    const db = new Database(join(alpha.dataDir, 'paracord.db'));
    let held: string[];
    try {
      held = await heldPastAnEnd(db, 1);
      expect(await alpha.stop()).toBe(0);
      db.exec('DROP TRIGGER beta_full');
    } finally {
      db.exec('DROP TRIGGER IF EXISTS beta_full');
      db.close();
    }
    await alpha.start();
    // Before the first retry's 10 s were up: taken at the start.
    await eventually(async () => expect(await ids(alpha)).toContain(held[0]), 8_000);
    expect((await alpha.admin('GET', '/quarantine')).body.counts['beta.test']).toBeUndefined();
  });

  it('an owner\'s own choice after the end stops the retries: what is held then waits for them', async () => {
    const db = new Database(join(alpha.dataDir, 'paracord.db'));
    try {
      const [held] = await heldPastAnEnd(db, 1);
      // The owner allows beta (with a reason of theirs or none): the held event is now theirs to release.
      expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'allow' })).status).toBe(200);
      db.exec('DROP TRIGGER beta_full');
      await eventually(async () => expect(alpha.stderr).toContain('"event":"quarantine_release_retry_ended"'), 20_000);
      expect(await ids(alpha)).not.toContain(held);
      expect((await alpha.admin('GET', '/quarantine')).body.counts['beta.test']).toBe(1);
      expect((await alpha.admin('POST', '/quarantine/beta.test/release')).body).toEqual({ released: 1, rejected: [], kept: 0 });
    } finally {
      db.exec('DROP TRIGGER IF EXISTS beta_full');
      db.close();
    }
  });
});

describe('rate limits', () => {
  it('a flood at ten times its limit is refused with 429 and Retry-After; a well-behaved peer is unaffected; the flooder is auto-quarantined', async ({ fileNodes }) => {
    const flooder = await fileNodes.fakePeer('flood.test');
    await joinFakePeer(alpha, roomId, flooder);
    expect((await alpha.admin('PUT', '/peers/flood.test/trust', { mode: 'allow', rate_limit: { per_second: 20, burst: 20 } })).status).toBe(200);
    expect((await alpha.admin('PUT', '/policy', { auto_quarantine: { signature_failures: 20, rate_limited: 150, window_seconds: 60 } })).status).toBe(200);

    // 200 requests/s for 2 s (10× the limit), while beta talks normally.
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    const flood = (async () => {
      for (let tick = 0; tick < 40; tick++) {
        const burst = Array.from({ length: 10 }, (_, i) =>
          sendSigned(flooder.identity, alpha.federationUrl, 'GET', `/_paracord/federation/v1/event/${encodeURIComponent(`$f${tick}x${i}:flood.test`)}`).then((r) => {
            statuses.push(r.status);
            if (r.status === 429) retryAfter = r.headers['retry-after'] as string;
          }),
        );
        await Promise.all(burst);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const fromBeta: string[] = [];
    for (let i = 0; i < 20; i++) fromBeta.push(await send(beta, roomId, `calm ${i}`));
    await flood;

    const limited = statuses.filter((s) => s === 429).length;
    expect(limited).toBeGreaterThan(250);
    expect(statuses.filter((s) => s === 404).length).toBeGreaterThanOrEqual(20);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    await eventually(async () => expect(await ids(alpha)).toEqual(expect.arrayContaining(fromBeta)));
    const betaAttempts = (await beta.admin('GET', '/attempts?destination=alpha.test')).body.attempts;
    expect(betaAttempts.filter((a: { status: number }) => a.status === 429)).toEqual([]);

    const flooded = await peer(alpha, 'flood.test');
    expect(flooded.trust).toBe('quarantine');
    expect(flooded.reason).toMatch(/auto-quarantined: \d+ requests over its rate limit/);
  });

  it('a forged flood in a friend\'s name is refused without touching the friend', async () => {
    const forgedKey = keyPairFromSeed(randomSeed());
    const betaKeyId = (await beta.admin('GET', '/status')).body.key_id;
    const forger = { serverName: 'beta.test', keyId: betaKeyId, signHex: (m: Buffer) => encodeHex(sign(m, forgedKey.secretKey)) };
    const statuses = await Promise.all(
      Array.from({ length: 400 }, (_, i) => sendSigned(forger, alpha.federationUrl, 'GET', `/_paracord/federation/v1/event/%24forged${i}%3Abeta.test`).then((r) => r.status)),
    );
    expect(new Set(statuses)).toEqual(new Set([403]));
    expect((await peer(alpha, 'beta.test')).trust).toBe('allow');
    const after = await send(beta, roomId, 'still trusted');
    await eventually(async () => expect(await ids(alpha)).toContain(after));
  });

  it('a server that keeps sending events with bad signatures is auto-quarantined', async ({ fileNodes }) => {
    const liar = await fileNodes.fakePeer('liar.test');
    const userId = await joinFakePeer(alpha, roomId, liar);
    const otherKey = keyPairFromSeed(randomSeed());
    const impostor = { serverName: 'liar.test', keyId: liar.identity.keyId, signHex: (m: Buffer) => encodeHex(sign(m, otherKey.secretKey)) };
    for (let i = 0; i < 20; i++) {
      // The request is really liar's (its own key); the event inside is not properly signed.
      const response = await sendSigned(liar.identity, alpha.federationUrl, 'POST', '/_paracord/federation/v1/event', wire(makeEvent(impostor, { room_id: roomId, sender: userId })));
      expect(response.body.error).toBe('bad_event_signature');
    }
    const quarantined = await peer(alpha, 'liar.test');
    expect(quarantined.trust).toBe('quarantine');
    expect(quarantined.reason).toContain('events with bad signatures');
  });
});
