/**
 * The signed event envelope (DESIGN.md §3): exactly ten fields, signed over the canonical
 * JSON of the envelope without `signatures`.
 */
import { z } from 'zod';
import { canonicalBytes } from '../crypto/canonical-json.ts';
import { sha256Hex } from '../crypto/sha256.ts';
import { EVENT_ID, HEX_SIGNATURE, KEY_ID, ROOM_ID, USER_ID, isServerName } from '../../../shared/identifiers.ts';
import { ENVELOPE_WIRE_ORDER, wireJson } from './wire-json.ts';

const serverName = z.string().refine(isServerName, 'not a valid server name');
const safeInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const envelopeSchema = z.strictObject({
  event_id: z.string().max(255).regex(EVENT_ID, 'event_id must look like $opaque:server'),
  room_id: z.string().max(255).regex(ROOM_ID, 'room_id must look like !opaque:server'),
  event_type: z.string().regex(/^[a-z][a-z0-9._]{0,63}$/, 'event_type must be a lowercase dotted name'),
  sender: z.string().max(255).regex(USER_ID, 'sender must look like @localpart:server'),
  origin_server: serverName,
  origin_ts: safeInt,
  depth: safeInt,
  state_key: z.string().max(255).nullable(),
  content: z.record(z.string(), z.unknown()),
  signatures: z.record(serverName, z.record(z.string().regex(KEY_ID), z.string().regex(HEX_SIGNATURE))),
});

export type Envelope = z.infer<typeof envelopeSchema>;
export type UnsignedEnvelope = Omit<Envelope, 'signatures'>;

export function unsignedPart(envelope: Envelope): UnsignedEnvelope {
  const { signatures: _signatures, ...unsigned } = envelope;
  return unsigned;
}

/** The bytes that are signed: canonical JSON of the envelope without `signatures`. */
export function envelopeSigningBytes(envelope: UnsignedEnvelope | Envelope): Buffer {
  return canonicalBytes('signatures' in envelope ? unsignedPart(envelope) : envelope);
}

/** Identifies the signed content: a retry carries the same hash, a conflicting event another. */
export function contentHash(signingBytes: Buffer): string {
  return sha256Hex(signingBytes);
}

export function signEnvelope(
  unsigned: UnsignedEnvelope,
  signer: { serverName: string; keyId: string; signHex(message: Buffer): string },
): Envelope {
  const signature = signer.signHex(envelopeSigningBytes(unsigned));
  return { ...unsigned, signatures: { [signer.serverName]: { [signer.keyId]: signature } } };
}

/** The envelope as sent on the wire: reference struct order, nested keys sorted. */
export function envelopeWireJson(envelope: Envelope): string {
  return wireJson(envelope, ENVELOPE_WIRE_ORDER);
}
