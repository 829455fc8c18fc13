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

  it('says so when the peer list cannot be read, and the loops that run go on', async () => {
    let fail = false;
    const listeners = new Set<() => void>();
    const running = new Set<string>();
    const told: unknown[] = [];
    const loops = new PeerLoops(
      () => {
        if (fail) throw new Error('SQLITE_IOERR: disk I/O error');
        return ['a.test'];
      },
      (server, signal) => {
        running.add(server);
        return new Promise<void>((resolve) => signal.addEventListener('abort', () => (running.delete(server), resolve())));
      },
      () => undefined,
      (listener) => (listeners.add(listener), () => listeners.delete(listener)),
      (error) => told.push((error as Error).message),
    );
    loops.start();
    fail = true;
    for (const listener of listeners) listener();
    await new Promise((resolve) => setImmediate(resolve));
    expect(told).toEqual(['SQLITE_IOERR: disk I/O error']);
    expect([...running]).toEqual(['a.test']);
    await loops.stop();
  });
});
