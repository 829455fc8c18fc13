/**
 * Property-based fuzzing (fast-check) of every federation endpoint's parsing and of canonical
 * JSON (issue #14, "Also"). A real node in this process hosts a room that a real peer identity
 * (served by FakePeer) has joined; the test sends that peer's correctly signed requests with
 * mutated bodies, paths and queries through the real HTTP listener and checks, for each one:
 * never a 5xx, every refusal is a JSON `{error, message}`, and a refusal changes nothing in
 * the store. Bounded in runs and in time, so it stays a CI test.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CanonicalJsonError, canonicalJson } from '../main/core/crypto/canonical-json.ts';
import { envelopeWireJson, signEnvelope, type Envelope, type UnsignedEnvelope } from '../main/core/federation/envelope.ts';
import { INVITE_WIRE_ORDER, MEMBERSHIP_WIRE_ORDER, wireJson } from '../main/core/federation/wire-json.ts';
import { makeEvent } from './helpers/events.ts';
import { FakePeer } from './helpers/fake-peer.ts';
import { startInProcessNode } from './helpers/in-process-node.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { sendRaw, sendSigned, type RawResponse } from './helpers/signed-request.ts';
import { removeTempDirs } from './helpers/temp-dir.ts';

const V1 = '/_paracord/federation/v1';
/** Per property: a bound on runs and on wall time (the suite must stay well under CI's limit). */
const RUNS = Number(process.env.PARACORD_FUZZ_RUNS ?? 120);
const TIME_LIMIT_MS = Number(process.env.PARACORD_FUZZ_MS ?? 12_000);
const fuzzOptions = { numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, endOnFailure: true } as const;

let host: Awaited<ReturnType<typeof startInProcessNode>>;
let peer: FakePeer;
let roomId: string;
let peerUser: string;
let baseUrl: string;

/** Everything a refused request must leave as it was. */
function storeSnapshot(): string {
  const q = (sql: string) => JSON.stringify(queryNodeDb(host.dataDir, sql));
  return [
    q('SELECT COUNT(*) AS n FROM federation_events'),
    q('SELECT room_id, user_id, membership, role FROM room_members ORDER BY room_id, user_id'),
    q('SELECT COUNT(*) AS n FROM rooms'),
    q('SELECT COUNT(*) AS n FROM room_invites'),
  ].join('\n');
}

function expectClearAnswer(response: RawResponse, what: string): void {
  const context = `${what} → ${response.status} ${response.text.slice(0, 300)}`;
  expect(response.status, context).toBeLessThan(500);
  if (response.status >= 400) {
    expect(response.body, context).toMatchObject({ error: expect.any(String), message: expect.any(String) });
  }
}

/** Sends, and checks the answer is clear and that a refusal stored nothing. */
async function probe(what: string, send: () => Promise<RawResponse>): Promise<RawResponse> {
  const before = storeSnapshot();
  const response = await send();
  expectClearAnswer(response, what);
  if (response.status >= 400) expect(storeSnapshot(), `${what} was refused (${response.status}) but changed the store`).toBe(before);
  return response;
}

// Values chosen to break parsers: deep nesting, huge and unsafe numbers, control and bidi
// characters, prototype keys, empty and enormous strings.
const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', '\u202e', '\u0000', '__proto__', 'constructor', '$', '!', '@', ':', '@a:', '$x:beta.test', 'x'.repeat(5000)),
);
const nastyNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 1e308, Number.MAX_SAFE_INTEGER * 10),
);
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  nastyNumber,
  fc.constantFrom(null, true, false, [], {}),
  fc.jsonValue({ maxDepth: 4 }),
  fc.constant(nest(60)),
);

function nest(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

const ENVELOPE_FIELDS = ['event_id', 'room_id', 'event_type', 'sender', 'origin_server', 'origin_ts', 'depth', 'state_key', 'content', 'extra'] as const;
const CONTENT_FIELDS = ['body', 'format', 'target', 'key', 'membership', 'name', 'extra'] as const;

/** A legitimate event of the peer's user, then one field (or a content field) replaced. */
const mutatedEvent = fc.record({
  type: fc.constantFrom('m.message', 'm.message.edit', 'm.message.delete', 'm.reaction.add', 'm.reaction.remove', 'm.member.leave', 'm.member.join', 'm.member.invite', 'x.unknown'),
  field: fc.constantFrom(...ENVELOPE_FIELDS),
  contentField: fc.constantFrom(...CONTENT_FIELDS),
  inContent: fc.boolean(),
  value: nastyValue,
  resign: fc.boolean(),
});

function buildEvent(m: { type: string; field: string; contentField: string; inContent: boolean; value: unknown; resign: boolean }): { body: string; event: unknown } {
  const base = makeEvent(peer.identity, { room_id: roomId, sender: peerUser, event_type: m.type as Envelope['event_type'], content: { body: 'fuzz' } });
  const unsigned: Record<string, unknown> = { ...base };
  delete unsigned.signatures;
  if (m.inContent) unsigned.content = { ...(base.content as object), [m.contentField]: m.value };
  else unsigned[m.field] = m.value;
  let event: Record<string, unknown>;
  if (m.resign) {
    try {
      event = signEnvelope(unsigned as UnsignedEnvelope, peer.identity) as unknown as Record<string, unknown>;
    } catch {
      event = { ...unsigned, signatures: base.signatures };
    }
  } else {
    event = { ...unsigned, signatures: base.signatures };
  }
  let body: string;
  try {
    body = envelopeWireJson(event as unknown as Envelope);
  } catch {
    body = JSON.stringify(event) ?? 'null';
  }
  return { body, event };
}

beforeAll(async () => {
  host = await startInProcessNode('alpha.test');
  baseUrl = host.started.federation_url!;
  peer = await new FakePeer('beta.test').start();
  expect((await host.admin('POST', '/peers', { server_name: peer.serverName, endpoint: peer.url })).status).toBe(200);
  roomId = (await host.admin('POST', '/rooms', { name: 'fuzz' })).body.room_id;
  peerUser = `@u:${peer.serverName}`;
  expect((await host.admin('POST', `/rooms/${encodeURIComponent(roomId)}/invites`, { user_id: peerUser })).status).toBe(200);
  const join = makeEvent(peer.identity, {
    room_id: roomId, event_type: 'm.member.join', sender: peerUser, state_key: peerUser, content: { membership: 'join' }, depth: Date.now() + 1_000,
  });
  const body = wireJson({ origin_server: peer.serverName, room_id: roomId, user_id: peerUser, event: join }, MEMBERSHIP_WIRE_ORDER);
  const joined = await sendSigned(peer.identity, baseUrl, 'POST', `${V1}/join`, body);
  expect(joined.status, joined.text).toBe(200);
}, 60_000);

afterAll(async () => {
  await host?.node.stop();
  await peer?.stop();
  removeTempDirs();
});

describe('fuzz: canonical JSON', () => {
  it('either refuses with CanonicalJsonError or produces a sorted, idempotent, faithful encoding', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 6 }), nastyValue), (value) => {
        let text: string;
        try {
          text = canonicalJson(value);
        } catch (error) {
          expect(error).toBeInstanceOf(CanonicalJsonError);
          return;
        }
        const parsed = JSON.parse(text);
        expect(canonicalJson(parsed)).toBe(text);
        expect(parsed).toEqual(value);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('fuzz: federation endpoints through the real listener', () => {
  it('POST /event: mutated envelopes get a clear answer; refusals store nothing', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedEvent, async (m) => {
        const { body } = buildEvent(m);
        await probe(`POST /event ${body.slice(0, 200)}`, () => sendSigned(peer.identity, baseUrl, 'POST', `${V1}/event`, body));
      }),
      fuzzOptions,
    );
  });

  it('POST /events: mutated batches get a clear answer with one result per event', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutatedEvent, { minLength: 0, maxLength: 5 }), fc.option(nastyValue), async (ms, wrapper) => {
        const events = ms.map((m) => JSON.parse(buildEvent(m).body) as unknown);
        const body = wrapper === null ? JSON.stringify({ events }) : JSON.stringify({ events: wrapper });
        const response = await probe(`POST /events ${body.slice(0, 200)}`, () => sendSigned(peer.identity, baseUrl, 'POST', `${V1}/events`, body));
        if (response.status < 300 && wrapper === null) expect(response.body.results ?? response.body, response.text).toHaveLength(events.length);
      }),
      fuzzOptions,
    );
  });

  it('POST /invite, /join, /leave: arbitrary bodies get a clear answer; refusals change nothing', async () => {
    const fields = fc.dictionary(fc.constantFrom('origin_server', 'room_id', 'sender', 'user_id', 'max_age_seconds', 'event', 'invitee', 'extra'), nastyValue, { maxKeys: 6 });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('invite', 'join', 'leave'), fields, fc.boolean(), async (route, value, plausible) => {
        // Half the time start from a plausible body so the checks past the schema are reached too.
        const base: Record<string, unknown> = plausible ? { origin_server: peer.serverName, room_id: roomId, user_id: peerUser, sender: peerUser } : {};
        const merged = { ...base, ...value };
        let body: string;
        try {
          body = wireJson(merged, route === 'invite' ? INVITE_WIRE_ORDER : MEMBERSHIP_WIRE_ORDER);
        } catch {
          body = JSON.stringify(merged);
        }
        await probe(`POST /${route} ${body.slice(0, 200)}`, () => sendSigned(peer.identity, baseUrl, 'POST', `${V1}/${route}`, body));
      }),
      fuzzOptions,
    );
  });

  it('raw bodies (not JSON, truncated, huge numbers, deep nesting) get a clear answer on every POST route', async () => {
    const rawBody = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v)),
      fc.constantFrom('{', '[', '{"events":', '{"a":1e309}', '{"a":-0}', '{"a":1.5}', '\uFEFF{}', '{"__proto__":{"x":1}}', '['.repeat(5000)),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('event', 'events', 'invite', 'join', 'leave'), rawBody, async (route, body) => {
        await probe(`POST /${route} raw ${JSON.stringify(body.slice(0, 100))}`, () => sendSigned(peer.identity, baseUrl, 'POST', `${V1}/${route}`, body));
      }),
      fuzzOptions,
    );
  });

  it('GET /events and GET /event/{id}: arbitrary queries and ids get a clear answer', async () => {
    const queryValue = fc.oneof(fc.string({ maxLength: 30 }), fc.integer().map(String), fc.constantFrom('', '-1', '1e3', '9'.repeat(40), 'NaN', roomId, '%00', '%E2%80%AE'));
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom('room_id', 'since_depth', 'limit', 'since_event_id', 'cursor', 'extra'), queryValue, { maxKeys: 5 }),
        fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('$x:beta.test', '$x:alpha.test', '%24x%3Aalpha.test', '..%2F..%2Fkeys')),
        fc.boolean(),
        async (query, id, eventRoute) => {
          const path = eventRoute
            ? `${V1}/event/${/^[\x21-\x7e]*$/.test(id) && !/[?#\s]/.test(id) && id.length > 0 ? id : encodeURIComponent(id || 'x')}`
            : `${V1}/events?${new URLSearchParams(query as Record<string, string>).toString()}`;
          await probe(`GET ${path}`, () => sendSigned(peer.identity, baseUrl, 'GET', path));
        },
      ),
      fuzzOptions,
    );
  });

  it('anonymous POST /peering and unsigned requests get a clear answer', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/peering', '/event', '/keys', '/events'),
        fc.oneof(fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), fc.string({ maxLength: 100 })),
        async (route, body) => {
          await probe(`POST ${route} unsigned`, () => sendRaw(`${baseUrl}${V1}${route}`, 'POST', {}, body));
        },
      ),
      fuzzOptions,
    );
  });

  it('legitimate traffic still works after the fuzzing', async () => {
    const event = makeEvent(peer.identity, { room_id: roomId, sender: peerUser, content: { body: 'still here' } });
    const response = await sendSigned(peer.identity, baseUrl, 'POST', `${V1}/event`, envelopeWireJson(event));
    expect(response.status, response.text).toBe(202);
    // Nothing the fuzzing got accepted may brick the room for its own users (depth overflow).
    const sent = await host.admin('POST', `/rooms/${encodeURIComponent(roomId)}/messages`, { body: 'host still speaks' });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    const listed = await host.admin('GET', `/rooms/${encodeURIComponent(roomId)}/messages?limit=500`);
    expect(listed.status, JSON.stringify(listed.body)).toBe(200);
  });
});
