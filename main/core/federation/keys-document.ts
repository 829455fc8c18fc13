/**
 * Verification of a remote server's keys document (GET /_paracord/federation/v1/keys).
 * The document must name the server we asked, and carry a valid self-signature by the
 * active key it publishes.
 */
import { z } from 'zod';
import { HEX_PUBLIC_KEY, HEX_SIGNATURE, KEY_ID, isServerName } from '../../../shared/identifiers.ts';
import { canonicalBytes } from '../crypto/canonical-json.ts';
import { verify } from '../crypto/ed25519.ts';
import { MAX_SIGNATURE_KEYS, MAX_SIGNATURE_SERVERS } from './envelope.ts';
import { ownValue } from '../../../shared/own-value.ts';
import { schemaIssueText } from '../util/untrusted-text.ts';

const safeInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const publishedKey = z.object({
  key_id: z.string().regex(KEY_ID),
  public_key: z.string().regex(HEX_PUBLIC_KEY),
  valid_until: safeInt,
});

export const keysDocumentSchema = z.object({
  server_name: z.string().refine(isServerName),
  active_key: publishedKey,
  next_keys: z.array(publishedKey).max(16).default([]),
  old_keys: z.array(publishedKey.extend({ expired_at: safeInt })).max(256).default([]),
  // Only its own signature counts; a document is stored and served as fetched, so the rest is bounded (issue #37 item 5).
  signatures: z
    .record(z.string(), z.record(z.string(), z.string().regex(HEX_SIGNATURE)).refine((byKey) => Object.keys(byKey).length <= MAX_SIGNATURE_KEYS, `at most ${MAX_SIGNATURE_KEYS} signatures per server`))
    .refine((byServer) => Object.keys(byServer).length <= MAX_SIGNATURE_SERVERS, `signatures of at most ${MAX_SIGNATURE_SERVERS} servers`),
});
export type RemoteKeysDocument = z.infer<typeof keysDocumentSchema>;

export type KeysDocumentCheck = { ok: true; document: RemoteKeysDocument } | { ok: false; reason: string };

/**
 * A keys document (either dialect) is stored and served from /keys/cache as fetched: the signature
 * covers the whole of it, unknown fields included (kept for interop), so its size is what is bounded.
 * The largest one a node serves (256 old keys) is well under this.
 */
export const MAX_KEYS_DOCUMENT_BYTES = 64 * 1024;

/** Why `raw` is too large to keep, or null. */
export function keysDocumentTooLarge(raw: unknown): string | null {
  let bytes: number;
  try {
    bytes = Buffer.byteLength(JSON.stringify(raw) ?? '');
  } catch {
    return 'keys document cannot be serialized';
  }
  return bytes > MAX_KEYS_DOCUMENT_BYTES ? `keys document is ${bytes} bytes; at most ${MAX_KEYS_DOCUMENT_BYTES} are accepted` : null;
}

/**
 * The most of a keys document read off the wire (a server's own, or a host's cached copy): four
 * times what its compact form may be (MAX_KEYS_DOCUMENT_BYTES), room for whitespace. The ordinary
 * 4 MiB of an answer, read at the slowest rate allowed, let the server asked hold the read for
 * about a minute.
 */
export const KEYS_DOCUMENT_MAX_BYTES = 4 * MAX_KEYS_DOCUMENT_BYTES;

export function checkKeysDocument(raw: unknown, expectedServer: string): KeysDocumentCheck {
  const tooLarge = keysDocumentTooLarge(raw);
  if (tooLarge) return { ok: false, reason: tooLarge };
  const parsed = keysDocumentSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: `keys document is not valid: ${schemaIssueText(parsed.error.issues)}` };
  const document = parsed.data;
  if (document.server_name !== expectedServer) {
    return { ok: false, reason: `keys document names ${document.server_name}, expected ${expectedServer}` };
  }
  const byServer = ownValue(document.signatures, expectedServer);
  const signature = byServer ? ownValue(byServer, document.active_key.key_id) : undefined;
  if (!signature) return { ok: false, reason: 'keys document is not signed by its active key' };
  const { signatures: _signatures, ...unsigned } = raw as Record<string, unknown>;
  let bytes: Buffer;
  try {
    bytes = canonicalBytes(unsigned);
  } catch (error) {
    return { ok: false, reason: `keys document cannot be canonicalized: ${(error as Error).message}` };
  }
  if (!verify(Buffer.from(signature, 'hex'), bytes, Buffer.from(document.active_key.public_key, 'hex'))) {
    return { ok: false, reason: 'keys document self-signature does not verify' };
  }
  return { ok: true, document };
}
