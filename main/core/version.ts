import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Our package's root folder and version, found by walking up to package.json (works from src and dist). */
const found = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'paracord-node' && pkg.version) return { root: dir, version: pkg.version, found: true };
    }
    dir = dirname(dir);
  }
  return { root: process.cwd(), version: '0.0.0', found: false };
})();

export const VERSION: string = found.version;
export const PACKAGE_ROOT: string = found.root;
/** Whether PACKAGE_ROOT is our package's (its package.json found), not the working folder taken for want of it: never load code from there. */
export const PACKAGE_ROOT_FOUND: boolean = found.found;
