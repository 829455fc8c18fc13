// The Node.js version check of the `paracord-node` command (SECURITY.md item 20). Plain JavaScript
// with no imports, so even a too-old Node.js can run it before any native module is loaded.

/**
 * The oldest Node.js the node runs on; the same as package.json "engines", and at least what every
 * runtime dependency's own "engines" asks (test/local-accidents.test.ts checks the lockfile):
 * undici 8 needs 22.19 (it loads zstd, which older Node.js lacks). Older ones failed worse than
 * this line: better-sqlite3's prebuilt binary ends 22.12 and 22.13 with a segmentation fault at
 * the first database opened; undici threw at load on 22.14.
 */
export const REQUIRED_NODE = '22.19.0';

/** Compares dotted versions numerically ("v20.11.1" and "20.11.1" alike); -1, 0 or 1. */
export function compareVersions(a, b) {
  const parse = (v) => String(v).replace(/^v/, '').split(/[.+-]/).slice(0, 3).map((part) => Number.parseInt(part, 10) || 0);
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (x[i] || 0) - (y[i] || 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** The odd release line after REQUIRED_NODE's got what undici 8 needs (zstd) only from 23.8. */
const OLDEST_23 = '23.8.0';

/** One line saying what to install when `version` is too old; null when it will do. */
export function nodeVersionProblem(version) {
  const line23 = compareVersions(version, '23.0.0') >= 0 && compareVersions(version, '24.0.0') < 0;
  if (compareVersions(version, REQUIRED_NODE) >= 0 && !(line23 && compareVersions(version, OLDEST_23) < 0)) return null;
  return `Node.js ${REQUIRED_NODE} or newer is required${line23 ? ` (${OLDEST_23} or newer on Node.js 23)` : ''}; this is Node.js ${String(version).replace(/^v/, '')} (${process.execPath})`;
}
