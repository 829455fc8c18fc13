/**
 * Issue #16 item 11: every error code the node can answer (its admin API, the IPC bridge, and the
 * federation answers that reach the UI inside delivery failures) has a sentence in the UI's one
 * map (renderer/src/lib/errors.ts). The codes are read from the source, so a new code without a
 * sentence fails here.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_SENTENCES } from '../renderer/src/lib/errors.ts';
import { REPO_ROOT } from './helpers/node-process.ts';

const PATTERNS = [
  /\b(?:badRequest|notFound|forbidden|conflict|unauthorized)\(\s*'([a-z_]+)'/g,
  /new HttpError\(\s*\d+,\s*'([a-z_]+)'/g,
  /\berror: '([a-z_]+)',\s*message/g,
  // A key or trust decision that becomes a 403 (`forbidden(decision.code, …)`).
  /\bcode: '([a-z_]+)', message/g,
  // Codes chosen at run time: `new HttpError(status, answer?.error ?? 'peer_refused', …)`, `kind === 'number' ? 'invalid_number' : …`.
  /new HttpError\([^)]*\?\? '([a-z_]+)'/g,
  // A peer's refusal as our code (federation/peer-refusal.ts): `peerRefusal(server, response, 'peer_refused', …)`.
  /\bpeerRefusal\([^)]*?, '([a-z_]+)'/g,
  /\? '(invalid_number)' : '(limits_exceeded)'/g,
  /HttpError\([^,]+, '(backup_failed)'/g,
];

/** Matches that are not answers: zod's issue kind in `ctx.addIssue({ code: 'custom', message })`. */
const NOT_ANSWERS = new Set(['custom']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

function codesInSource(): Set<string> {
  const codes = new Set<string>();
  for (const file of [...sourceFiles(join(REPO_ROOT, 'main')), ...sourceFiles(join(REPO_ROOT, 'shared'))]) {
    const text = readFileSync(file, 'utf8');
    for (const pattern of PATTERNS) for (const match of text.matchAll(pattern)) for (const code of match.slice(1)) if (code && !NOT_ANSWERS.has(code)) codes.add(code);
  }
  return codes;
}

describe('error sentences (issue #16 item 11)', () => {
  it('finds the codes in the source (the scan itself works)', () => {
    const codes = codesInSource();
    for (const code of ['unknown_room', 'invalid_input', 'reference_host_read_only', 'internal_error', 'untrusted_sender', 'peer_refused', 'origin_not_allowed']) expect(codes, code).toContain(code);
    expect(codes.size).toBeGreaterThan(80);
  });

  it('gives every code the node can answer a sentence', () => {
    const missing = [...codesInSource()].filter((code) => !ERROR_SENTENCES[code]).sort();
    expect(missing).toEqual([]);
  });
});
