/**
 * The reference's keys document (crates/paracord-api/src/routes/federation.rs:730-761):
 * `{server_name, keys: [{server_name, key_id: "ed25519:auto", public_key, valid_until}]}`,
 * UNSIGNED, no `algorithm`. Its `valid_until` is first-call + 24 h and never renewed
 * (federation.rs:738-756), so it is a refresh hint here, never an expiry.
 *
 * An unsigned document proves nothing by itself: it is trusted only when the transport
 * authenticated the server — HTTPS (a CA-valid certificate, or the certificate pinned by the
 * owner) — or when the owner confirmed the key when adding the server. `checkReferenceKeys`
 * parses; the caller decides trust with `unsignedKeysTrust`.
 */
import { z } from 'zod';
import { HEX_PUBLIC_KEY, KEY_ID, isServerName } from '../../../../shared/identifiers.ts';
import { keysDocumentTooLarge, type RemoteKeysDocument } from '../keys-document.ts';
import { schemaIssueText } from '../../util/untrusted-text.ts';
import { cleanText } from '../../util/untrusted-text.ts';

const referenceKeySchema = z.object({
  server_name: z.string().max(255),
  key_id: z.string().regex(KEY_ID),
  public_key: z.string().regex(HEX_PUBLIC_KEY),
  valid_until: z.number().int(),
  algorithm: z.literal('ed25519').optional(),
});
const referenceKeysSchema = z.object({
  server_name: z.string().max(255),
  keys: z.array(referenceKeySchema).min(1, 'the server publishes no key (is federation enabled there?)').max(16),
});

export type ReferenceKeysCheck = { ok: true; document: RemoteKeysDocument } | { ok: false; reason: string };

/**
 * Parses the unsigned form into our key model: keys[0] (the key the reference signs with and
 * pins of others) is the active key, the rest "next". `valid_until` is replaced by "no expiry":
 * a key the server still serves stays usable; a key it stops serving keeps verifying what came
 * before its replacement (ServerKeys.store keeps old rows).
 */
export function checkReferenceKeys(raw: unknown, expectedServer: string): ReferenceKeysCheck {
  const tooLarge = keysDocumentTooLarge(raw);
  if (tooLarge) return { ok: false, reason: tooLarge };
  const parsed = referenceKeysSchema.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, reason: `keys document is not valid: ${schemaIssueText(parsed.error.issues)}` };
  }
  const doc = parsed.data;
  if (!isServerName(doc.server_name) || doc.server_name !== expectedServer) return { ok: false, reason: `keys document names ${cleanText(doc.server_name, 80)}, expected ${expectedServer}` };
  for (const key of doc.keys) {
    if (key.server_name !== expectedServer) return { ok: false, reason: `key ${cleanText(key.key_id, 80)} is published for ${cleanText(key.server_name, 80)}, not ${expectedServer}` };
  }
  const [first, ...rest] = doc.keys;
  const publish = (k: { key_id: string; public_key: string }) => ({ key_id: k.key_id, public_key: k.public_key, valid_until: Number.MAX_SAFE_INTEGER });
  return { ok: true, document: { server_name: expectedServer, active_key: publish(first!), next_keys: rest.map(publish), old_keys: [], signatures: {} } };
}

/** `document`: what of it may be stored: all of it over https, only the confirmed key over plain http. */
export type UnsignedKeysTrust = { trusted: true; how: 'https' | 'owner_confirmed'; document: RemoteKeysDocument } | { trusted: false; reason: string };

/**
 * Whether an unsigned keys document fetched from `endpoint` may be believed, and which of its
 * keys: over https (the certificate was CA-validated or matched the owner's pin before a byte was
 * sent), all of them; over plain http, only the key the owner confirmed, when the document lists
 * it. Anyone on the path of a plain http answer could add keys of its own beside the confirmed
 * one, which were stored as the server's (a red-team review, 2026-11-30). A document that does not
 * list the confirmed key, or plain http unconfirmed: refused, with the reason the UI shows.
 */
export function unsignedKeysTrust(endpoint: string, document: RemoteKeysDocument, confirmed?: { key_id: string; public_key: string }): UnsignedKeysTrust {
  if (confirmed) {
    const served = [document.active_key, ...document.next_keys].find((k) => k.key_id === confirmed.key_id && k.public_key === confirmed.public_key);
    if (!served) return { trusted: false, reason: `the server does not serve the key you confirmed (${confirmed.key_id}); check its fingerprint with its admin` };
    if (endpoint.startsWith('https://')) return { trusted: true, how: 'https', document };
    return { trusted: true, how: 'owner_confirmed', document: { ...document, active_key: served, next_keys: [] } };
  }
  if (endpoint.startsWith('https://')) return { trusted: true, how: 'https', document };
  return {
    trusted: false,
    reason:
      'this server publishes an unsigned keys document (the Paracord reference does) over plain http, where anyone on the path could swap it. ' +
      `Ask its admin for its key (key_id ${document.active_key.key_id}, public key ${document.active_key.public_key.slice(0, 16)}…) and add it again with key_id and public_key, or reach it over https`,
  };
}
