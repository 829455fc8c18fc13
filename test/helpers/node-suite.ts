/**
 * The hooks of a test file that starts node processes (and plain servers: forwarders, traps):
 * after each test every node is stopped, every server closed and the temp dirs removed.
 */
import type { Server } from 'node:net';
import { afterEach } from 'vitest';
import { NodeProcess, stopAll } from './node-process.ts';
import { removeTempDirs } from './temp-dir.ts';

export function nodesPerTest(): { node(serverName: string, args?: string[]): NodeProcess; servers: Server[] } {
  const nodes: NodeProcess[] = [];
  const servers: Server[] = [];
  afterEach(async () => {
    await stopAll(nodes.splice(0));
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    removeTempDirs();
  });
  return {
    servers,
    /** A node (not started yet), stopped after the test. */
    node(serverName, args = []) {
      const n = new NodeProcess({ serverName, args });
      nodes.push(n);
      return n;
    },
  };
}
