/**
 * Verification of a remote server's keys document (GET /_paracord/federation/v1/keys).
 * The document must name the server we asked, and carry a valid self-signature by the
 * active key it publishes.
 */
import { z } from 'zod';
import { HEX_PUBLIC_KEY, HEX_SIGNATURE, KEY_ID, isServerName } from '../../../shared/identifiers.ts';
import { canonicalBytes } from '../crypto/canonical-json.ts';
import { verify } from '../crypto/ed25519.ts';

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
  signatures: z.record(z.string(), z.record(z.string(), z.string().regex(HEX_SIGNATURE))),
});
export type RemoteKeysDocument = z.infer<typeof keysDocumentSchema>;

export type KeysDocumentCheck = { ok: true; document: RemoteKeysDocument } | { ok: false; reason: string };

export function checkKeysDocument(raw: unknown, expectedServer: string): KeysDocumentCheck {
  const parsed = keysDocumentSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: `keys document is not valid: ${parsed.error.issues[0]?.message}` };
  const document = parsed.data;
  if (document.server_name !== expectedServer) {
    return { ok: false, reason: `keys document names ${document.server_name}, expected ${expectedServer}` };
  }
  const signature = document.signatures[expectedServer]?.[document.active_key.key_id];
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
