import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { beforeEach, describe, expect, it, type TempDb } from '../../../test/helpers/fixtures.ts';
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
import { HttpClient } from './http-client.ts';
import { ServerKeys } from './keys/server-keys.ts';

let temp: TempDb;
let db: Db;
beforeEach(({ tempDb }) => {
  temp = tempDb;
  db = tempDb.db;
});

function setup(options: { walSync?: boolean; hooks?: IngestHooks } = {}) {
  const wal = options.walSync ? new WalSync(temp.file) : undefined;
  const commit = new GroupCommit(db, wal ? { walSync: wal } : {});
  const trust = new TrustStore(db, new Settings(db));
  const http = new HttpClient({ allowInsecureHttp: true });
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
    const { ingest, event, keys, identity } = setup();
    const use = { purpose: 'event', originTs: 1 } as const;
    // Not held: lookupNow cannot answer (the keys are to be fetched first).
    expect(keys.lookupNow('peer.test', identity.keyId, use)).toBeNull();
    keys.pin('peer.test', identity.keyId, identity.publicKeyHex);
    expect(keys.lookupNow('peer.test', identity.keyId, use)).toMatchObject({ ok: true, key: { public_key: identity.publicKeyHex } });
    await expect(ingest.verify('peer.test', event(1).envelope)).resolves.toMatchObject({ hash: event(1).hash });
    // A key id nobody publishes: looked up once (peer.test does not answer here), then remembered as unknown.
    expect(keys.lookupNow('peer.test', 'ed25519:gone', use)).toBeNull();
    await expect(keys.lookup('peer.test', 'ed25519:gone', use)).resolves.toMatchObject({ ok: false, code: 'unknown_key' });
    expect(keys.lookupNow('peer.test', 'ed25519:gone', use)).toMatchObject({ ok: false, code: 'unknown_key' });
    // Another id for a request: not held, so it is to be fetched (no negative entry is ever kept for requests).
    expect(keys.lookupNow('peer.test', 'ed25519:other', { purpose: 'request' })).toBeNull();
  });

  it('a replaced key verifies old events only as their origin sends them, never relayed by another server', async () => {
    const { ingest, event, keys, identity } = setup();
    // A reference-dialect origin whose key is known only as replaced (after the events were made).
    keys.isReference = (server) => server === 'peer.test';
    keys.replaced.retire('peer.test', identity.keyId, identity.publicKeyHex, Date.now());
    const old = event(1);
    await expect(ingest.verify('peer.test', old.envelope)).resolves.toMatchObject({ hash: old.hash });
    // Within 10 s of the lookup above, peer.test's keys are not read again: the relayed copy is not
    // checked yet (503 keys_recently_fetched, retried by its sender); once they may be, it is refused.
    await expect(ingest.verify('host.test', old.envelope)).rejects.toMatchObject({ code: 'keys_recently_fetched', status: 503 });
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 11_000 });
    try {
      await expect(ingest.verify('host.test', old.envelope)).rejects.toMatchObject({ code: 'bad_event_signature' });
    } finally {
      vi.useRealTimers();
    }
  });
});
