/**
 * `serve` runs with two malloc arenas and a fixed mmap threshold (bin/paracord-node.js re-executes
 * itself once with MALLOC_ARENA_MAX=2 and MALLOC_MMAP_THRESHOLD_, issue #17: idle memory). Real
 * processes through the CLI: the process that serves is the one that was started (same pid), it
 * has the settings, and a value the user chose is left alone. Linux only (glibc's; /proc).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from './helpers/fixtures.ts';

const canReexec = process.platform === 'linux' && typeof (process as { execve?: unknown }).execve === 'function';

function environOf(pid: number): Map<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return new Map(entries.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

describe.skipIf(!canReexec)('malloc arenas of a serving node', () => {
  it('the started process itself serves, with MALLOC_ARENA_MAX=2, and answers as before', async ({ fileNodes }) => {
    // The other tests start their nodes with both set already (vitest.config.ts): not this one.
    const saved = { arenas: process.env.MALLOC_ARENA_MAX, threshold: process.env.MALLOC_MMAP_THRESHOLD_ };
    delete process.env.MALLOC_ARENA_MAX;
    delete process.env.MALLOC_MMAP_THRESHOLD_;
    const node = fileNodes.process({ serverName: 'arenas.test' });
    try {
      await node.start();
    } finally {
      if (saved.arenas !== undefined) process.env.MALLOC_ARENA_MAX = saved.arenas;
      if (saved.threshold !== undefined) process.env.MALLOC_MMAP_THRESHOLD_ = saved.threshold;
    }
    expect(environOf(node.child.pid!).get('MALLOC_ARENA_MAX')).toBe('2');
    expect(environOf(node.child.pid!).get('MALLOC_MMAP_THRESHOLD_')).toBe('131072');
    const status = await node.admin('GET', '/status');
    expect(status.status).toBe(200);
    // Stopping the started pid stops the node (no parent left behind holding the data dir).
    expect(await node.stop()).toBe(0);
  });

  it('leaves a value the user set', async ({ fileNodes }) => {
    const saved = process.env.MALLOC_ARENA_MAX;
    process.env.MALLOC_ARENA_MAX = '4';
    const node = fileNodes.process({ serverName: 'arenas-user.test' });
    try {
      await node.start();
    } finally {
      if (saved === undefined) delete process.env.MALLOC_ARENA_MAX;
      else process.env.MALLOC_ARENA_MAX = saved;
    }
    expect(environOf(node.child.pid!).get('MALLOC_ARENA_MAX')).toBe('4');
    await node.stop();
  });
});
