import { describe, expect, it } from 'vitest';
import { PeerLoops } from './peer-loops.ts';

describe('PeerLoops (issue #36: told of changes, no 5 s re-read)', () => {
  it('starts a loop for a peer added later and stops one that left, as soon as it is told', async () => {
    let peers = ['a.test'];
    const listeners = new Set<() => void>();
    const running = new Set<string>();
    const loops = new PeerLoops(
      () => peers,
      (server, signal) => {
        running.add(server);
        return new Promise<void>((resolve) => signal.addEventListener('abort', () => (running.delete(server), resolve())));
      },
      () => undefined,
      (listener) => (listeners.add(listener), () => listeners.delete(listener)),
    );
    loops.start();
    expect([...running]).toEqual(['a.test']);
    peers = ['a.test', 'b.test'];
    for (const listener of listeners) listener();
    await new Promise((resolve) => setImmediate(resolve));
    expect([...running].sort()).toEqual(['a.test', 'b.test']);
    peers = ['b.test'];
    for (const listener of listeners) listener();
    await new Promise((resolve) => setImmediate(resolve));
    expect([...running]).toEqual(['b.test']);
    await loops.stop();
    expect(running.size).toBe(0);
    expect(listeners.size).toBe(0);
  });
});
