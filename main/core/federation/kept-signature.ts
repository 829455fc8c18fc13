/**
 * The one signature an event keeps here (issue #37 item 5): only the origin's signature that
 * verified it is stored, served and relayed; the others are nobody's business here, and cost disk
 * and bandwidth. The signed bytes do not include `signatures`, so the event and its hash are unchanged.
 */
import type { Envelope } from './envelope.ts';

/**
 * The envelope as stored (the same object in the usual case, where it carries only that signature)
 * and its `signatures` as canonical JSON, the row's column: one key per level needs no sorting, and
 * canonical JSON escapes strings as JSON.stringify does (crypto/canonical-json.ts).
 */
export function keptSignature(envelope: Envelope, keyId: string): { envelope: Envelope; signaturesJson: string } {
  const origin = envelope.origin_server;
  const own = envelope.signatures[origin]!;
  const signature = own[keyId]!;
  const signaturesJson = `{${JSON.stringify(origin)}:{${JSON.stringify(keyId)}:${JSON.stringify(signature)}}}`;
  if (hasOnlyKey(envelope.signatures, origin) && hasOnlyKey(own, keyId)) return { envelope, signaturesJson };
  return { envelope: { ...envelope, signatures: { [origin]: { [keyId]: signature } } }, signaturesJson };
}

function hasOnlyKey(record: Record<string, unknown>, key: string): boolean {
  for (const name in record) if (name !== key) return false;
  return true;
}
