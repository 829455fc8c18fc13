import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The wire-v1 vectors. The source of truth is ../shared/vectors/wire-v1.json beside the
 * repo (computed by an independent implementation); test/vectors/ holds a copy for clones
 * without it, and a test checks the copy still matches the source when both exist.
 */
export const SHARED_VECTORS_PATH = resolve(repo, '../shared/vectors/wire-v1.json');
export const COPIED_VECTORS_PATH = resolve(repo, 'test/vectors/wire-v1.json');

export function loadWireVectors(): WireVectors {
  const path = existsSync(SHARED_VECTORS_PATH) ? SHARED_VECTORS_PATH : COPIED_VECTORS_PATH;
  return JSON.parse(readFileSync(path, 'utf8')) as WireVectors;
}

export interface WireVectors {
  ed25519_rfc8032_test1: { seed_hex: string; public_key_hex: string; message_hex: string; signature_hex: string };
  canonical_json: Array<{ input: string; canonical: string }>;
  canonical_json_must_reject: string[];
  event: {
    seed_hex: string;
    key_id: string;
    unsigned_envelope: Record<string, unknown>;
    signing_bytes_utf8: string;
    signature_hex: string;
    wire_body_utf8: string;
  };
  request: {
    method: string;
    path: string;
    timestamp_ms: number;
    body_utf8: string;
    body_sha256_hex: string;
    signing_string: string;
    signature_hex: string;
    headers: Record<string, string>;
  };
}
