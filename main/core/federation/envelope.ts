/**
 * The signed event envelope (docs/PROTOCOL.md §Event envelope): exactly ten fields, signed over the canonical
 * JSON of the envelope without `signatures`.
 */
import { z } from 'zod';
import { canonicalBytes, canonicalJson, canonicalNumber } from '../crypto/canonical-json.ts';
import { sha256Hex } from '../crypto/sha256.ts';
import { EVENT_ID, HEX_SIGNATURE, KEY_ID, ROOM_ID, isServerName, isUserId, isUserIdOfAnyDialect } from '../../../shared/identifiers.ts';
import { ENVELOPE_WIRE_ORDER, wireJson } from './wire-json.ts';
import { isJsonObject } from '../util/json-object.ts';

const serverName = z.string().refine(isServerName, 'not a valid server name');
const safeInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const EVENT_TYPE = /^[a-z][a-z0-9._]{0,63}$/;

/**
 * No event's content is larger than this (canonical JSON, UTF-8 bytes): 413 content_too_large.
 * Rooms bound each type more tightly (rooms/event-types.ts).
 */
export const MAX_EVENT_CONTENT_BYTES = 64 * 1024;

/**
 * `signatures` names at most this many servers, each with at most this many key ids (400
 * invalid_event beyond): only the origin's signature counts (docs/PROTOCOL.md "Event envelope"),
 * and only the one that verified is kept (EventIngest.verify), so a peer cannot make us parse,
 * store or relay a megabyte of signatures of made-up servers (issue #37 item 5).
 */
export const MAX_SIGNATURE_SERVERS = 4;
export const MAX_SIGNATURE_KEYS = 4;

const countAtMost = (limit: number) => (record: Record<string, unknown>) => Object.keys(record).length <= limit;

export const envelopeSchema = z.strictObject({
  event_id: z.string().max(255).regex(EVENT_ID, 'event_id must look like $opaque:server'),
  room_id: z.string().max(255).regex(ROOM_ID, 'room_id must look like !opaque:server'),
  event_type: z.string().regex(EVENT_TYPE, 'event_type must be a lowercase dotted name'),
  // A reference peer's senders may hold Unicode letters (EventIngest checks the origin's dialect).
  sender: z.string().refine(isUserIdOfAnyDialect, 'sender must look like @localpart:server'),
  origin_server: serverName,
  origin_ts: safeInt,
  depth: safeInt,
  // Every state_key in use names a user (membership events); a non-null one must be a user id.
  state_key: z.string().refine(isUserId, 'state_key must be null or a user id (@localpart:server)').nullable(),
  content: z.record(z.string(), z.unknown()),
  signatures: z
    .record(serverName, z.record(z.string().regex(KEY_ID), z.string().regex(HEX_SIGNATURE)).refine(countAtMost(MAX_SIGNATURE_KEYS), `at most ${MAX_SIGNATURE_KEYS} signatures per server`))
    .refine(countAtMost(MAX_SIGNATURE_SERVERS), `signatures of at most ${MAX_SIGNATURE_SERVERS} servers`),
});

export type Envelope = z.infer<typeof envelopeSchema>;

const ENVELOPE_FIELDS = ['event_id', 'room_id', 'event_type', 'sender', 'origin_server', 'origin_ts', 'depth', 'state_key', 'content', 'signatures'];

/**
 * Parses an envelope from the network. The common case — a well-formed envelope — is checked
 * by `isWellFormedEnvelope` without copying it (zod builds a new object of every level, the
 * largest cost of ingest after the signature); anything it does not accept goes through
 * `envelopeSchema`, which decides and explains. A test holds the two to the same answers.
 */
export function parseEnvelope(raw: unknown): ReturnType<typeof envelopeSchema.safeParse> {
  if (isWellFormedEnvelope(raw)) return { success: true, data: raw };
  return envelopeSchema.safeParse(raw);
}

const isSafeNatural = (value: unknown) => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isIdentifier = (value: unknown, grammar: RegExp) => typeof value === 'string' && value.length <= 255 && grammar.test(value);

/** Exactly what `envelopeSchema` accepts (or less: then the schema decides). */
export function isWellFormedEnvelope(raw: unknown): raw is Envelope {
  if (!isJsonObject(raw)) return false;
  const keys = Object.keys(raw);
  if (keys.length !== ENVELOPE_FIELDS.length || !ENVELOPE_FIELDS.every((field) => Object.hasOwn(raw, field))) return false;
  const e = raw;
  if (!isIdentifier(e.event_id, EVENT_ID) || !isIdentifier(e.room_id, ROOM_ID) || !isUserId(e.sender)) return false;
  if (typeof e.event_type !== 'string' || !EVENT_TYPE.test(e.event_type)) return false;
  if (typeof e.origin_server !== 'string' || !isServerName(e.origin_server)) return false;
  if (!isSafeNatural(e.origin_ts) || !isSafeNatural(e.depth)) return false;
  if (e.state_key !== null && !isUserId(e.state_key)) return false;
  if (!isJsonObject(e.content) || !isJsonObject(e.signatures)) return false;
  const servers = Object.keys(e.signatures);
  if (servers.length > MAX_SIGNATURE_SERVERS) return false;
  for (const server of servers) {
    const byKey = e.signatures[server];
    if (!isServerName(server) || !isJsonObject(byKey)) return false;
    const keyIds = Object.keys(byKey);
    if (keyIds.length > MAX_SIGNATURE_KEYS) return false;
    for (const keyId of keyIds) {
      const signature = byKey[keyId];
      if (!KEY_ID.test(keyId) || typeof signature !== 'string' || !HEX_SIGNATURE.test(signature)) return false;
    }
  }
  return true;
}
export type UnsignedEnvelope = Omit<Envelope, 'signatures'>;

export function unsignedPart(envelope: Envelope): UnsignedEnvelope {
  const { signatures: _signatures, ...unsigned } = envelope;
  return unsigned;
}

/** The bytes that are signed: canonical JSON of the envelope without `signatures`. */
export function envelopeSigningBytes(envelope: UnsignedEnvelope | Envelope): Buffer {
  return envelopeSigningParts(envelope).bytes;
}

/** The nine unsigned fields (and `signatures`) and nothing else, each of its type. */
function hasExactEnvelopeShape(envelope: UnsignedEnvelope | Envelope): boolean {
  let fields = 0;
  for (const key in envelope) if (Object.hasOwn(envelope, key)) fields++;
  const e = envelope as Record<string, unknown>;
  return (
    fields === ('signatures' in envelope ? 10 : 9) &&
    typeof e.event_id === 'string' && typeof e.room_id === 'string' && typeof e.event_type === 'string' &&
    typeof e.sender === 'string' && typeof e.origin_server === 'string' && typeof e.depth === 'number' &&
    typeof e.origin_ts === 'number' && (e.state_key === null || typeof e.state_key === 'string') && 'content' in e
  );
}

/**
 * The signed bytes, and the canonical JSON of `content` on the way (stored as is). An envelope
 * has exactly nine fields besides `signatures`, so the canonical form is written field by
 * field in code point order (content, depth, event_id, …, state_key) instead of sorting keys;
 * anything else goes the general way. Both give the same bytes (the wire-v1 vectors, and a
 * test comparing the two).
 */
export function envelopeSigningParts(envelope: UnsignedEnvelope | Envelope): { bytes: Buffer; contentJson: string } {
  const contentJson = canonicalJson(envelope.content, '$.content');
  if (!hasExactEnvelopeShape(envelope)) {
    return { bytes: canonicalBytes('signatures' in envelope ? unsignedPart(envelope) : envelope), contentJson };
  }
  const json =
    `{"content":${contentJson},"depth":${canonicalNumber(envelope.depth, '$.depth')},"event_id":${JSON.stringify(envelope.event_id)}` +
    `,"event_type":${JSON.stringify(envelope.event_type)},"origin_server":${JSON.stringify(envelope.origin_server)}` +
    `,"origin_ts":${canonicalNumber(envelope.origin_ts, '$.origin_ts')},"room_id":${JSON.stringify(envelope.room_id)}` +
    `,"sender":${JSON.stringify(envelope.sender)},"state_key":${envelope.state_key === null ? 'null' : JSON.stringify(envelope.state_key)}}`;
  return { bytes: Buffer.from(json, 'utf8'), contentJson };
}

/** Identifies the signed content: a retry carries the same hash, a conflicting event another. */
export function contentHash(signingBytes: Buffer): string {
  return sha256Hex(signingBytes);
}

export function signEnvelope(
  unsigned: UnsignedEnvelope,
  signer: { serverName: string; keyId: string; signHex(message: Buffer): string },
): Envelope {
  return signEnvelopeParts(unsigned, signer).event;
}

/**
 * Signs, and hands back what signing computed on the way: the signed bytes' hash (the stored
 * `content_hash`) and the canonical content (stored as is), so a new event is serialised once.
 */
export function signEnvelopeParts(
  unsigned: UnsignedEnvelope,
  signer: { serverName: string; keyId: string; signHex(message: Buffer): string },
): { event: Envelope; hash: string; contentJson: string } {
  const { bytes, contentJson } = envelopeSigningParts(unsigned);
  const signature = signer.signHex(bytes);
  return { event: { ...unsigned, signatures: { [signer.serverName]: { [signer.keyId]: signature } } }, hash: contentHash(bytes), contentJson };
}

/**
 * The envelope as sent on the wire: reference struct order, nested keys sorted. An envelope of
 * exactly the ten fields is written field by field (as envelopeSigningParts does), reusing the
 * canonical content when the caller has it (signing computed it); anything else goes the general
 * way. Both give the same bytes (a test compares them).
 */
export function envelopeWireJson(envelope: Envelope, contentJson?: string): string {
  if (!('signatures' in envelope) || !hasExactEnvelopeShape(envelope)) return wireJson(envelope, ENVELOPE_WIRE_ORDER);
  return (
    `{"event_id":${JSON.stringify(envelope.event_id)},"room_id":${JSON.stringify(envelope.room_id)}` +
    `,"event_type":${JSON.stringify(envelope.event_type)},"sender":${JSON.stringify(envelope.sender)}` +
    `,"origin_server":${JSON.stringify(envelope.origin_server)},"origin_ts":${canonicalNumber(envelope.origin_ts, '$.origin_ts')}` +
    `,"content":${contentJson ?? canonicalJson(envelope.content, '$.content')},"depth":${canonicalNumber(envelope.depth, '$.depth')}` +
    `,"state_key":${envelope.state_key === null ? 'null' : JSON.stringify(envelope.state_key)},"signatures":${canonicalJson(envelope.signatures, '$.signatures')}}`
  );
}
