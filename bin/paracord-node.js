#!/usr/bin/env node
// Entry point of the `paracord-node` command: the compiled CLI (built by `npm install` via `prepare`).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/main/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('paracord-node: not built yet (dist/ is missing); run `npm install` or `npm run build` in the project folder\n');
  process.exit(1);
}
// Before the program's modules load: V8's optimizing compilers wait until the node is ready
// (main/core/memory/deferred-jit.ts: start-up would otherwise cost an idle node ~9 MB).
const { deferOptimizingCompilers } = await import(new URL('../dist/main/core/memory/deferred-jit.js', import.meta.url).href);
deferOptimizingCompilers();
await import(cli.href);
