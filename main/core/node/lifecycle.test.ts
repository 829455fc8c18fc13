import { describe, expect, it } from 'vitest';
import { Lifecycle, type Capability } from './lifecycle.ts';

/** A capability that writes what happens to it into `seen`; its drain takes `drainMs`. */
function recorded(name: string, seen: string[], drainMs = 0): Capability {
  return {
    name,
    start: async () => {
      await new Promise((r) => setTimeout(r, 1));
      seen.push(`start ${name}`);
    },
    halt: () => void seen.push(`halt ${name}`),
    drain: async (graceMs) => {
      seen.push(`drain ${name} ${graceMs}`);
      await new Promise((r) => setTimeout(r, drainMs));
      seen.push(`drained ${name}`);
    },
    close: async () => {
      await new Promise((r) => setTimeout(r, 1));
      seen.push(`close ${name}`);
    },
  };
}

describe('Lifecycle', () => {
  it('starts in order and stops in three phases: halt in reverse, drain together, close in reverse one by one', async () => {
    const seen: string[] = [];
    const lifecycle = new Lifecycle();
    lifecycle.hold({ name: 'storage', close: () => void seen.push('close storage') });
    await lifecycle.start(recorded('a', seen, 30), recorded('b', seen));
    await lifecycle.start(recorded('late', seen));
    expect(lifecycle.names()).toEqual(['storage', 'a', 'b', 'late']);
    expect(seen.splice(0)).toEqual(['start a', 'start b', 'start late']);
    await lifecycle.stop(500);
    expect(seen).toEqual([
      'halt late', 'halt b', 'halt a',
      // every drain begins before any ends: a slow one (a) does not hold the others back
      'drain late 500', 'drain b 500', 'drain a 500', 'drained late', 'drained b', 'drained a',
      'close late', 'close b', 'close a', 'close storage',
    ]);
    expect(lifecycle.names()).toEqual([]);
  });

  it('a second stop finds nothing to stop; a capability whose start failed is not stopped', async () => {
    const seen: string[] = [];
    const lifecycle = new Lifecycle();
    const failing: Capability = { name: 'bad', start: () => Promise.reject(new Error('port in use')), halt: () => void seen.push('halt bad') };
    await expect(lifecycle.start(recorded('a', seen), failing)).rejects.toThrow('port in use');
    await Promise.all([lifecycle.stop(10), lifecycle.stop(10)]);
    expect(seen.filter((s) => !s.startsWith('start'))).toEqual(['halt a', 'drain a 10', 'drained a', 'close a']);
  });
});
