import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, type TempDb } from '../../../test/helpers/fixtures.ts';
import { vi } from 'vitest';
import { Identity } from '../identity/identity.ts';
import type { Db } from '../store/database.ts';
import { FederationEvents } from '../store/federation-events.ts';
import { GroupCommit } from '../store/group-commit.ts';
import { WalSync } from '../store/wal-sync.ts';
import { Settings } from '../store/settings.ts';
import { TrustStore } from '../trust/trust-store.ts';
import { Discovery } from './discovery.ts';
import { contentHash, envelopeSigningParts, signEnvelope } from './envelope.ts';
import { EventIngest, type IngestHooks, type VerifiedEvent } from './event-ingest.ts';
import { AddressPolicy } from './address-policy.ts';
import { HttpClient } from './http-client.ts';
import { ServerKeys } from './keys/server-keys.ts';

let temp: TempDb;
let db: Db;
beforeEach(({ tempDb }) => {
  temp = tempDb;
  db = tempDb.db;
});

/**
 * peer.test's federation endpoint on loopback (as the owner gave it): `answer` says what its keys
 * endpoint answers, the keys document it is given or an outage (500, a malformed body).
 */
interface PeerEndpoint {
  url: string;
  answer: { document: unknown } | 'error_500' | 'malformed';
  fetches: number;
}
const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});
async function peerEndpoint(document: unknown): Promise<PeerEndpoint> {
  const endpoint: PeerEndpoint = { url: '', answer: { document }, fetches: 0 };
  const server = createServer((req, res) => {
    if (req.url !== '/_paracord/federation/v1/keys') {
      res.statusCode = 404;
      res.end();
      return;
    }
    endpoint.fetches++;
    const answer = endpoint.answer;
    res.setHeader('content-type', 'application/json');
    if (answer === 'error_500') res.statusCode = 500;
    res.end(answer === 'error_500' ? '{"error":"internal_error"}' : answer === 'malformed' ? '{"server_name": "peer.test", "active_ke' : JSON.stringify(answer.document));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return endpoint;
}

function setup(options: { walSync?: boolean; hooks?: IngestHooks; peerEndpoint?: string; onRollback?: () => void } = {}) {
  const wal = options.walSync ? new WalSync(temp.file) : undefined;
  const commit = new GroupCommit(db, { ...(wal ? { walSync: wal } : {}), ...(options.onRollback ? { onRollback: options.onRollback } : {}) });
  const trust = new TrustStore(db, new Settings(db));
  if (options.peerEndpoint) trust.upsert('peer.test', { trust: 'allow', endpoint_source: 'owner', endpoint: options.peerEndpoint });
  // As the node wires it: a peer's stored endpoint (loopback here) is vouched for by the owner.
  const http = new HttpClient({ allowInsecureHttp: true, policy: new AddressPolicy({ insecureHttp: true, allowPrivateAddresses: false, endpointVouch: (o) => trust.endpointVouch(o) }) });
  const keys = new ServerKeys(db, http, new Discovery(http, trust), pino({ level: 'silent' }));
  const events = new FederationEvents(db);
  const ingest = new EventIngest({ trust, keys, events, commit, verifier: undefined, ...(options.hooks ? { hooks: options.hooks } : {}) });
  const identity = Identity.create(join(dirname(temp.file), 'peer.json'), 'peer.test');
  const event = (n: number): VerifiedEvent => {
    const envelope = signEnvelope(
      { event_id: `$e${n}:peer.test`, room_id: '!r:host.test', event_type: 'm.message', sender: '@u:peer.test', origin_server: 'peer.test', origin_ts: 1, depth: n, state_key: null, content: { body: `m${n}` } },
      identity,
    );
    const { bytes, contentJson } = envelopeSigningParts(envelope);
    return { envelope, hash: contentHash(bytes), contentJson };
  };
  return { ingest, events, event, commit, keys, identity };
}

const stored = () => db.prepare('SELECT event_id FROM federation_events ORDER BY depth').pluck().all();
const insertionOrder = () => db.prepare('SELECT event_id FROM federation_events ORDER BY rowid').pluck().all();

describe('EventIngest.store', () => {
  it('a refused event writes nothing in its job (the caches are not told of its rollback); `accepted` runs only for an event stored or known', async () => {
    let rollbacks = 0;
    const { ingest, event } = setup({ onRollback: () => rollbacks++, hooks: { authorize: (e) => { if (e.event_id === '$e2:peer.test') throw new Error('not allowed'); } } });
    db.exec('CREATE TABLE replay_marks (event_id TEXT NOT NULL)');
    // As the event route records the request's replay entry in the event's transaction.
    const mark = (e: VerifiedEvent) => ({ accepted: () => void db.prepare('INSERT INTO replay_marks (event_id) VALUES (?)').run(e.envelope.event_id) });
    const marks = () => db.prepare('SELECT event_id FROM replay_marks').pluck().all();
    const first = event(1);
    expect(await ingest.store(first, 'peer.test', undefined, mark(first))).toEqual({ event_id: '$e1:peer.test', inserted: true });
    // A stream of refused events: none of them writes, so none empties the caches for the others.
    for (let i = 0; i < 3; i++) await expect(ingest.store(event(2), 'peer.test', undefined, mark(event(2)))).rejects.toThrow('not allowed');
    expect(rollbacks).toBe(0);
    // A copy of a stored event is accepted (known): its request's entry is written.
    expect(await ingest.store(first, 'peer.test', undefined, mark(first))).toEqual({ event_id: '$e1:peer.test', inserted: false });
    expect(marks()).toEqual(['$e1:peer.test', '$e1:peer.test']);
    expect(stored()).toEqual(['$e1:peer.test']);
    // What runs before the checks and writes (a release's take of its held row) is rolled back with the refusal, and the caches told.
    await expect(ingest.store(event(2), 'peer.test', () => void db.prepare('INSERT INTO replay_marks (event_id) VALUES (?)').run('before'))).rejects.toThrow('not allowed');
    expect(rollbacks).toBe(1);
    expect(marks()).toEqual(['$e1:peer.test', '$e1:peer.test']);
  });
});

describe('EventIngest.storeMany', () => {
  it('stores a batch in one job; a refused event gets its own error, the rest are stored in order', async () => {
    const { ingest, event } = setup({ hooks: { authorize: (e) => { if (e.event_id === '$e2:peer.test') throw new Error('not allowed'); } } });
    const refused = event(2);
    let replayWritten = false;
    const { outcomes, beforeStoreDone } = await ingest.storeMany([event(1), refused, event(3), event(1)], 'peer.test', () => (replayWritten = true));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value.inserted : null))).toEqual([true, null, true, false]);
    expect(beforeStoreDone && replayWritten).toBe(true);
    expect(stored()).toEqual(['$e1:peer.test', '$e3:peer.test']);
  });

  it('knows a batch\'s stored events and its own copies without storing anything twice; another content under a stored id is a conflict', async () => {
    const applied: string[] = [];
    const { ingest, event, identity } = setup({ hooks: { onStored: (e) => applied.push(e.event_id) } });
    await ingest.storeMany([event(1)], 'peer.test');
    applied.length = 0;
    const other = (n: number, body: string): VerifiedEvent => {
      const envelope = signEnvelope(
        { event_id: `$e${n}:peer.test`, room_id: '!r:host.test', event_type: 'm.message', sender: '@u:peer.test', origin_server: 'peer.test', origin_ts: 1, depth: n, state_key: null, content: { body } },
        identity,
      );
      return { envelope, hash: contentHash(envelopeSigningParts(envelope).bytes) };
    };
    const { outcomes } = await ingest.storeMany([event(1), other(1, 'not m1'), event(2), event(2), other(2, 'not m2'), event(3)], 'peer.test');
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? (o.value.inserted ? 'stored' : 'known') : (o.reason as { code?: string }).code))).toEqual([
      'known', 'event_id_conflict', 'stored', 'known', 'event_id_conflict', 'stored',
    ]);
    // One pass: a batch stored again one by one (after a failed write) would have applied them twice.
    expect(applied).toEqual(['$e2:peer.test', '$e3:peer.test']);
    expect(stored()).toEqual(['$e1:peer.test', '$e2:peer.test', '$e3:peer.test']);
  });

  it('when a write fails, rolls the batch back and stores the events one by one', async () => {
    const committed: string[] = [];
    const { ingest, event } = setup({
      hooks: {
        onStored: (e) => {
          if (e.event_id === '$e2:peer.test') throw new Error('disk trouble for this one');
        },
        onCommitted: (e) => committed.push(e.event_id),
        writingBatch: (write) => write(),
      },
    });
    const failing = event(2);
    // A second batch queued behind it in the same turn: the retry must not let it overtake.
    const [first, second] = await Promise.all([
      ingest.storeMany([event(1), failing, event(3)], 'peer.test', () => undefined),
      ingest.storeMany([event(4), event(5)], 'peer.test'),
    ]);
    const { outcomes, beforeStoreDone } = first;
    expect(second.outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(insertionOrder()).toEqual(['$e1:peer.test', '$e3:peer.test', '$e4:peer.test', '$e5:peer.test']);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/disk trouble/);
    expect(beforeStoreDone).toBe(true);
    // The failed event's row went with its own savepoint; the others are stored once, in order.
    expect(stored()).toEqual(['$e1:peer.test', '$e3:peer.test', '$e4:peer.test', '$e5:peer.test']);
    expect(committed).toEqual(['$e1:peer.test', '$e3:peer.test', '$e4:peer.test', '$e5:peer.test']);
  });

  it('tells the UI at the commit, but relays (onDurable) only once the WAL flush made the events durable', async () => {
    const seen: Array<{ hook: string; syncs: number }> = [];
    const { ingest, event, commit } = setup({
      walSync: true,
      hooks: {
        onCommitted: () => seen.push({ hook: 'committed', syncs: commit.stats.syncs }),
        onDurable: () => seen.push({ hook: 'durable', syncs: commit.stats.syncs }),
      },
    });
    const before = commit.stats.syncs;
    await ingest.storeMany([event(1), event(2)], 'peer.test');
    await ingest.store(event(3), 'peer.test');
    expect(seen.map((s) => s.hook)).toEqual(['committed', 'committed', 'durable', 'durable', 'committed', 'durable']);
    // Every `committed` came before its flush, every `durable` after one.
    expect(seen.filter((s) => s.hook === 'committed').map((s) => s.syncs)).toEqual([before, before, before + 1]);
    expect(seen.filter((s) => s.hook === 'durable').map((s) => s.syncs)).toEqual([before + 1, before + 1, before + 2]);
  });

  it('a key it holds is answered without a wait; an unknown one needs the fetch, and once found unknown is answered at once', async () => {
    const served = await peerEndpoint(null);
    const { ingest, event, keys, identity } = setup({ peerEndpoint: served.url });
    served.answer = { document: identity.keysDocument() };
    const use = { purpose: 'event', originTs: 1 } as const;
    // Not held: lookupNow cannot answer (the keys are to be fetched first).
    expect(keys.lookupNow('peer.test', identity.keyId, use)).toBeNull();
    keys.pin('peer.test', identity.keyId, identity.publicKeyHex);
    expect(keys.lookupNow('peer.test', identity.keyId, use)).toMatchObject({ ok: true, key: { public_key: identity.publicKeyHex } });
    await expect(ingest.verify('peer.test', event(1).envelope)).resolves.toMatchObject({ hash: event(1).hash });
    // A key id peer.test does not publish (its keys document was read): looked up once, then remembered as unknown.
    expect(keys.lookupNow('peer.test', 'ed25519:gone', use)).toBeNull();
    await expect(keys.lookup('peer.test', 'ed25519:gone', use)).resolves.toMatchObject({ ok: false, code: 'unknown_key' });
    expect(keys.lookupNow('peer.test', 'ed25519:gone', use)).toMatchObject({ ok: false, code: 'unknown_key' });
    // Another id for a request: not held, so it is to be fetched (no negative entry is ever kept for requests).
    expect(keys.lookupNow('peer.test', 'ed25519:other', { purpose: 'request' })).toBeNull();
  });

  it('an event whose origin\'s keys cannot be read (500, malformed) is retried later (503 keys_unavailable), not blamed nor remembered; accepted once they can be read', async () => {
    const served = await peerEndpoint(null);
    const blamed: string[] = [];
    const { ingest, event, keys, identity } = setup({ peerEndpoint: served.url, hooks: { onAttributableFailure: (server, code) => blamed.push(`${server} ${code}`) } });
    const use = { purpose: 'event', originTs: 1 } as const;
    let now = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now });
    try {
      for (const [n, outage] of [[1, 'error_500'], [2, 'malformed']] as const) {
        // A first contact (or a rotation) while the origin's keys endpoint is failing.
        served.answer = outage;
        const fetches = served.fetches;
        const refused = await ingest.verify('peer.test', event(n).envelope).catch((e: unknown) => e);
        expect(refused, outage).toMatchObject({ status: 503, code: 'keys_unavailable' });
        const retryAfter = Number((refused as { headers: Record<string, string> }).headers['retry-after']);
        expect(retryAfter).toBeGreaterThanOrEqual(1);
        expect(retryAfter).toBeLessThanOrEqual(10);
        expect(served.fetches - fetches).toBe(1);
        // Sent again at once: the same answer, at once, without another fetch (the 10-s limit holds).
        expect(keys.lookupNow('peer.test', identity.keyId, use)).toMatchObject({ ok: false, code: 'keys_unavailable' });
        await expect(ingest.verify('peer.test', event(n).envelope)).rejects.toMatchObject({ status: 503, code: 'keys_unavailable' });
        expect(served.fetches - fetches).toBe(1);
        // Nobody blamed, and the key id is not remembered as unknown: after the gap it is looked up again.
        expect(blamed).toEqual([]);
        now += 11_000;
        vi.setSystemTime(now);
        expect(keys.lookupNow('peer.test', identity.keyId, use)).toBeNull();
      }
      // The keys can be read again: the same event is accepted.
      served.answer = { document: identity.keysDocument(now) };
      await expect(ingest.verify('peer.test', event(2).envelope)).resolves.toMatchObject({ hash: event(2).hash });
    } finally {
      vi.useRealTimers();
    }
  });

  it('an event whose origin cannot be reached at all is retried later (503 keys_unavailable), directly and relayed, and accepted once it can', async () => {
    const served = await peerEndpoint(null);
    // Nothing listens at peer.test's endpoint (connection refused); host.test, relaying, is unknown here too.
    const closed = servers.pop()!;
    await new Promise<void>((r) => closed.close(() => r()));
    const blamed: string[] = [];
    const { ingest, event, identity } = setup({ peerEndpoint: served.url, hooks: { onAttributableFailure: (server, code) => blamed.push(`${server} ${code}`) } });
    let now = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now });
    try {
      await expect(ingest.verify('peer.test', event(1).envelope)).rejects.toMatchObject({ status: 503, code: 'keys_unavailable' });
      now += 11_000;
      vi.setSystemTime(now);
      // Relayed by its room's host: the origin's keys cannot be read (nor the host's cache): not a verdict either.
      await expect(ingest.verify('host.test', event(2).envelope)).rejects.toMatchObject({ status: 503, code: 'keys_unavailable' });
      expect(blamed).toEqual([]);
      // peer.test is back (same endpoint): both are accepted once its keys may be read again.
      const back = createServer((req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(identity.keysDocument(now)));
      });
      servers.push(back);
      await new Promise<void>((r) => back.listen(Number(new URL(served.url).port), '127.0.0.1', r));
      now += 11_000;
      vi.setSystemTime(now);
      await expect(ingest.verify('host.test', event(2).envelope)).resolves.toMatchObject({ hash: event(2).hash });
      await expect(ingest.verify('peer.test', event(1).envelope)).resolves.toMatchObject({ hash: event(1).hash });
    } finally {
      vi.useRealTimers();
    }
  });

  it('a replaced key verifies old events only as their origin sends them, never relayed by another server', async () => {
    const served = await peerEndpoint(null);
    const { ingest, event, keys, identity } = setup({ peerEndpoint: served.url });
    // peer.test serves its keys (a new key: the old one is not in them).
    served.answer = { document: Identity.create(join(dirname(temp.file), 'peer-new.json'), 'peer.test').keysDocument() };
    // A reference-dialect origin whose key is known only as replaced (after the events were made).
    keys.isReference = (server) => server === 'peer.test';
    keys.replaced.retire('peer.test', identity.keyId, identity.publicKeyHex, Date.now());
    const old = event(1);
    await expect(ingest.verify('peer.test', old.envelope)).resolves.toMatchObject({ hash: old.hash });
    // The relayed copy: within 10 s of the lookup above its key id is not checked by the routine
    // lookup (keys_recently_fetched), but a reference's failed signature makes us read its keys once
    // more (refetchAfterFailure, its own limit) — read after the event arrived and without the old
    // key, they are a verdict: refused, not "retry later".
    const fetches = served.fetches;
    await expect(ingest.verify('host.test', old.envelope)).rejects.toMatchObject({ code: 'bad_event_signature' });
    expect(served.fetches - fetches).toBe(1);
    // Once the keys may be read again: refused as well.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 11_000 });
    try {
      await expect(ingest.verify('host.test', old.envelope)).rejects.toMatchObject({ code: 'bad_event_signature' });
    } finally {
      vi.useRealTimers();
    }
  });
});
