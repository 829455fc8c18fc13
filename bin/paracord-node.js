#!/usr/bin/env node
// Entry point of the `paracord-node` command: the compiled CLI (built by `npm install` via `prepare`).
// No top-level await and nothing native before the version check: an old Node.js must get as far
// as saying which version is needed instead of crashing in a native module.
import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';
import { nodeVersionProblem } from './node-version.js';

const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  process.stderr.write(`paracord-node: ${problem}\n`);
  process.exit(1);
}

// The program as scripts/bundle.mjs bundled it (a few minified files: less memory than the ~400
// modules tsc writes to dist/main, docs/PERFORMANCE.md "Memory").
const cli = new URL('../dist/bundle/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('paracord-node: not built yet (dist/bundle is missing); run `npm install` or `npm run build` in the project folder\n');
  process.exit(1);
}
// glibc's malloc keeps what the node frees (docs/PERFORMANCE.md, "Memory"): every thread that
// allocates gets its own arena (up to 8 per core) and memory freed in an arena stays with it; and
// once a large block (from mmap) is freed, glibc raises its mmap threshold to that size, so later
// large blocks come from the arenas and stay there too. Two arenas: an idle `serve` kept 13 MB
// less after 20k messages; the threshold held at its initial 128 KiB: 20 MB less again after
// 100k. glibc reads these once, at start, so `serve` runs itself again with them, in the
// same process (same pid, ~40 ms). Not when the user set MALLOC_ARENA_MAX, not off Linux, not
// where Node.js has no process.execve (it came in 22.15).
if (process.argv[2] === 'serve' && process.platform === 'linux' && process.env.MALLOC_ARENA_MAX === undefined && typeof process.execve === 'function') {
  try {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
      ...process.env,
      MALLOC_ARENA_MAX: '2',
      MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? '131072',
    });
  } catch {
    // not allowed here (a sandbox, a permission model): run as we are
  }
}
// V8's compile cache (Node.js 22.1+), next to the bundle it caches (the user's own install, not a
// shared temp folder): a start compiles the bundle once per build instead of every time (17 % of
// a start's CPU, 2026-11-29). Where it cannot be written, the program runs as before.
try {
  module.enableCompileCache?.(fileURLToPath(new URL('../dist/compile-cache', import.meta.url)));
} catch {
  // not available here: compiled at each start
}
import(cli.href).catch((error) => {
  process.stderr.write(`paracord-node: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
