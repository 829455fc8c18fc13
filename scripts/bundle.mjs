#!/usr/bin/env node
// Bundles what `paracord-node` runs (dist/main/cli.js, as tsc compiled it, with its libraries)
// into a few minified files in dist/bundle/ (issue #36 goal 5, idle memory): V8 keeps the source
// of every module a process loads, and a node that loaded ~400 files of readable JavaScript held
// ~12 MB of them as strings. Measured with test/bench/memory-probe.ts (2026-11-25): a fresh node
// 86.5–87.3 → 83.0–83.3 MB, the same node after 20,000 messages 101.9–105.9 → 96.4–99.8 MB.
//
// - Names of functions and classes are kept (stack traces in the log stay readable; code that
//   reads `.name` works as before); everything is escaped to ASCII, so V8 stores each file as
//   one byte per character (one non-ASCII character makes it two). Source maps are written
//   beside the files for whoever reads a stack trace's line and column; the node never loads
//   them (unless started with --enable-source-maps).
// - Left outside, loaded from node_modules as before: native addons (better-sqlite3,
//   sodium-native, koffi) and open (it runs the xdg-open script beside it).
// - pino-roll requires all of date-fns (245 modules, +5.6 MB of RSS in a bare process) for the
//   five functions of its time-based rotation, which the node does not use (it rotates by size):
//   it gets those five from their own files.
// - iconv-lite is loaded from node_modules too: raw-body requires it, and the node never gives
//   raw-body an encoding, so its 500 KB of code pages (bundled, compiled at every start) never run;
//   loaded from its own files, only its index is read (its encodings only on first use).
// - Koa 3 brings two mime-types: 3.x and, through accepts 1.3, 2.1 with its own older mime-db. Both
//   read the one mime-db here (a superset in the same format): one table of ~190 KB, not two.
// - The verify pool's, the search index's and the gateway's (port mapping) workers and the
//   start-up's deferred-JIT switch are their own entries: each starts its worker
//   (`./verify-worker.js`, `./search-worker.js`, `./gateway-worker.js`) next to its own file;
//   bin/paracord-node.js imports the switch before the program.
// The Electron app keeps using dist/main (electron-builder packs it); tests of the CLI and every
// node they start as a process run the bundle.
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = fileURLToPath(new URL('..', import.meta.url));
const EXTERNAL = ['better-sqlite3', 'sodium-native', 'koffi', 'open', 'iconv-lite'];
const MIME_DB = `${root}node_modules/mime-db/index.js`;
const DATE_FNS_SLICE = '\0date-fns-slice';
const DATE_FNS_USED = ['format', 'addDays', 'addHours', 'parse', 'isValid'];

/** `require('date-fns')` from pino-roll: only what pino-roll takes from it. */
const dateFnsSlice = {
  name: 'date-fns-slice',
  resolveId(source, importer) {
    if (source === 'date-fns' && importer?.includes('/node_modules/pino-roll/')) return DATE_FNS_SLICE;
    return null;
  },
  load(id) {
    if (id !== DATE_FNS_SLICE) return null;
    // A pino-roll that takes other functions from date-fns fails the build here, not at runtime.
    const utils = readFileSync(`${root}node_modules/pino-roll/lib/utils.js`, 'utf8');
    const taken = /const \{([^}]*)\} = require\('date-fns'\)/.exec(utils)?.[1]?.split(',').map((name) => name.trim()).filter(Boolean);
    if (!taken || taken.some((name) => !DATE_FNS_USED.includes(name))) {
      throw new Error(`pino-roll takes ${taken ? taken.join(', ') : 'something unknown'} from date-fns: update DATE_FNS_USED in scripts/bundle.mjs`);
    }
    return DATE_FNS_USED.map((name) => `export { ${name} } from 'date-fns/${name}';`).join('\n');
  },
};
/** Every `require('mime-db')` gets the top-level one. */
const oneMimeDb = {
  name: 'one-mime-db',
  resolveId(source) {
    return source === 'mime-db' ? MIME_DB : null;
  },
};
const out = `${root}dist/bundle`;

rmSync(out, { recursive: true, force: true });
await build({
  input: {
    cli: `${root}dist/main/cli.js`,
    'verify-worker': `${root}dist/main/core/crypto/verify-worker.js`,
    'search-worker': `${root}dist/main/core/rooms/search-worker.js`,
    'gateway-worker': `${root}dist/main/core/reachability/gateway-worker.js`,
  },
  platform: 'node',
  plugins: [dateFnsSlice, oneMimeDb],
  external: (id) => id.startsWith('node:') || EXTERNAL.some((name) => id === name || id.startsWith(`${name}/`)),
  // depd (under Koa) builds functions with eval on purpose; every other warning is printed.
  onLog(level, log, handler) {
    if (log.code !== 'EVAL') handler(level, log);
  },
  output: {
    dir: out,
    format: 'esm',
    minify: true,
    keepNames: true,
    charset: 'ascii',
    sourcemap: true,
    entryFileNames: '[name].js',
    chunkFileNames: '[name]-[hash].js',
  },
});

// What is left outside is required from dist/bundle/ at run time: each must resolve from there
// (a top-level install), or the node would fail at start instead of the build here.
const fromBundle = createRequire(`${out}/cli.js`);
for (const name of EXTERNAL) {
  try {
    fromBundle.resolve(name);
  } catch {
    throw new Error(`scripts/bundle.mjs: ${name} is left out of the bundle but does not resolve from dist/bundle/ (not installed at the top of node_modules)`);
  }
}
