/** The protocol's minimum for batch ingest (minimum-ingest.ts), the floor under issue #36 goal 6: it checks every signature and stores what it answers for. */
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, expect, it } from 'vitest';
import { Identity } from '../../main/core/identity/identity.ts';
import { envelopeWireJson, signEnvelope } from '../../main/core/federation/envelope.ts';
import { signRequestHeaders } from '../../main/core/federation/request-signature.ts';
import { removeTempDirs, tempDir } from '../helpers/temp-dir.ts';
import { startMinimumIngest } from './minimum-ingest.ts';

afterAll(() => removeTempDirs());

const PATH = '/_paracord/federation/v1/events';

it('stores every event of a correctly signed batch once, answers a copy as not inserted and another event under a stored id as a conflict, and refuses a forged or stale signature, bad JSON or an event it cannot store, storing none of it', async () => {
  const dir = tempDir('paracord-minimum-ingest-test-');
  const identity = Identity.create(join(dir, 'peer.json'), 'peer.test');
  const minimum = await startMinimumIngest({ dir, publicKeyHex: identity.publicKeyHex });
  try {
    const unsigned = (i: number, tag: string) => ({ event_id: `$${tag}${i}:peer.test`, room_id: '!room:peer.test', event_type: 'm.message', sender: '@a:peer.test', origin_server: 'peer.test', origin_ts: 1_700_000_000_000, depth: i + 1, state_key: null, content: { body: `message ${i}` } });
    const event = (i: number, tag: string) => signEnvelope(unsigned(i, tag), identity);
    const post = async (body: string, headers = signRequestHeaders(identity, 'POST', PATH, body)) => {
      const response = await request(minimum.url + PATH, { method: 'POST', body, headers: { ...headers, 'content-type': 'application/json' } });
      return { status: response.statusCode, json: (await response.body.json()) as { results?: unknown[]; error?: string } };
    };
    const batch = (events: string[]) => `{"events":[${events.join(',')}]}`;

    const good = Array.from({ length: 120 }, (_, i) => envelopeWireJson(event(i, 'good')));
    const accepted = await post(batch(good));
    expect(accepted.status).toBe(200);
    expect(accepted.json.results).toHaveLength(120);
    expect(new Set(accepted.json.results!.map((r) => JSON.stringify(r)))).toEqual(new Set(['{"inserted":true}']));
    // The same batch again: answered "not inserted", stored once.
    const again = await post(batch(good));
    expect(again.status).toBe(200);
    expect(new Set(again.json.results!.map((r) => JSON.stringify(r)))).toEqual(new Set(['{"inserted":false}']));
    expect(minimum.stored()).toBe(120);
    // Another event, correctly signed, under a stored id: refused, the stored one kept.
    const other = { ...unsigned(0, 'good'), content: { body: 'other content, same id' } };
    const conflicting = await post(batch([envelopeWireJson(signEnvelope(other, identity)), envelopeWireJson(event(500, 'good'))]));
    expect(conflicting.status).toBe(200);
    expect(conflicting.json.results).toEqual([{ error: 'event_id_conflict', message: 'another event is stored under this id' }, { inserted: true }]);
    expect(minimum.stored()).toBe(121);

    // One event whose content was changed after signing: the whole batch is refused.
    const tampered = event(0, 'bad');
    const forged = [envelopeWireJson(event(1, 'bad')), envelopeWireJson({ ...tampered, content: { body: 'not what was signed' } })];
    expect((await post(batch(forged))).status).toBe(401);
    // A good batch under another body's request signature.
    const another = batch([envelopeWireJson(event(2, 'bad'))]);
    expect((await post(another, signRequestHeaders(identity, 'POST', PATH, batch(good)))).status).toBe(401);
    // Not JSON; an event it cannot store (no room); a request signed two minutes ago.
    expect((await post('{"events":[')).status).toBe(400);
    expect((await post(batch([envelopeWireJson(event(3, 'bad')).replace('"room_id":"!room:peer.test"', '"room_id":null')]))).status).toBe(400);
    const late = batch([envelopeWireJson(event(4, 'bad'))]);
    expect((await post(late, signRequestHeaders(identity, 'POST', PATH, late, Date.now() - 120_000))).status).toBe(401);
    expect(minimum.stored()).toBe(121);
  } finally {
    minimum.stop();
  }
});
