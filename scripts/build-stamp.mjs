#!/usr/bin/env node
// Whether dist/ was built from the sources as they are now, so that `npm test` (its pretest) does
// not build again what `npm install` / `npm ci` (prepare) has just built: a fingerprint of every
// input of the build (path, size and modification time) is written to dist/.build-stamp after a
// build (`write`) and compared before a test run (`check`: exit 0 when it matches, 1 otherwise).
// Any edit, checkout, added or removed file changes the fingerprint, and the build runs.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const STAMP = join(root, 'dist', '.build-stamp');
const TREES = ['main', 'shared', 'renderer', 'bin', 'scripts'];
const FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'vite.config.ts'];

function walk(dir, out) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

function fingerprint() {
  const inputs = [...TREES.flatMap((tree) => (existsSync(join(root, tree)) ? walk(join(root, tree), []) : [])), ...FILES.map((f) => join(root, f)).filter((f) => existsSync(f))].sort();
  const hash = createHash('sha256');
  for (const file of inputs) {
    const st = statSync(file);
    hash.update(`${relative(root, file)}\0${st.size}\0${st.mtimeMs}\n`);
  }
  return hash.digest('hex');
}

const mode = process.argv[2];
if (mode === 'write') writeFileSync(STAMP, `${fingerprint()}\n`);
else if (mode === 'check') {
  const fresh = existsSync(STAMP) && readFileSync(STAMP, 'utf8').trim() === fingerprint();
  if (fresh) process.stdout.write('build: dist/ is up to date with the sources; not building again\n');
  process.exit(fresh ? 0 : 1);
} else {
  process.stderr.write('usage: build-stamp.mjs write|check\n');
  process.exit(2);
}
