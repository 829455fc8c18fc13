/**
 * The shared vitest fixtures of the tests (https://vitest.dev/guide/test-context, `test.extend`):
 * import `test`/`it` from here instead of from vitest and ask for what a test needs.
 *
 * - `nodes`: a set that starts nodes (child processes or in this process), fake peers and plain
 *   servers for one test, and stops all of them after it (their temp dirs go at the file's end).
 * - `fileNodes`: the same for a whole file, stopped after its last test (ask for it in
 *   `beforeAll(async ({ fileNodes }) => …)` or in the tests); at the end it also removes every
 *   temp dir the file made (test/helpers/temp-dir.ts).
 * - `pair`: alpha.test and beta.test, child processes peered with each other, for the file.
 * - `tempDb`: a migrated SQLite database in a temp dir, closed and removed after the test.
 * - `browser`: Chromium for the file (test/helpers/browser.ts), closed after its last test (before
 *   the nodes of `fileNodes` stop); `chromiumArgs`, more switches for it, set with `test.override`.
 *
 * `adminApi(node)` (test/helpers/admin-api.ts) is the typed admin client of any of these nodes.
 * This module loads the node's code only when a test starts a node in its process or opens a
 * database: a file of child processes only pays for what it uses.
 */
import type { Server } from 'node:net';
import { join } from 'node:path';
import { test as base } from 'vitest';
import type { Db } from '../../main/core/store/database.ts';
import type { FakePeer, FakePeerOptions } from './fake-peer.ts';
import type { startInProcessNode } from './in-process-node.ts';
import { NodeProcess, startPeered, stopAll } from './node-process.ts';
import type { ReferencePeer, ReferencePeerOptions } from './reference-peer.ts';
import { removeTempDir, removeTempDirs, tempDir } from './temp-dir.ts';

export type InProcessNode = Awaited<ReturnType<typeof startInProcessNode>>;
type NodeOptions = ConstructorParameters<typeof NodeProcess>[0];
type InProcessOptions = NonNullable<Parameters<typeof startInProcessNode>[1]> & {
  /** How long the node's stop waits for work in flight (ParacordNode.stop); its default otherwise. */
  graceMs?: number;
};

/** Everything a test (or a file) started, stopped together at its end. */
export class Nodes {
  /** Child-process nodes, in the order they were made. */
  readonly processes: NodeProcess[] = [];
  /** In-process nodes, in the order they were started. */
  readonly inProcessNodes: InProcessNode[] = [];
  readonly fakes: FakePeer[] = [];
  /** Reference-shaped peers (test/helpers/reference-peer.ts). */
  readonly references: ReferencePeer[] = [];
  /** Plain servers (forwarders, traps) of the test, closed at the end. */
  readonly servers: Server[] = [];
  private readonly graces = new Map<InProcessNode, number | undefined>();
  private readonly removesTempDirs: boolean;

  /**
   * `removesTempDirs`: its stop also removes every temp dir the file made (`fileNodes`). A test's
   * own set leaves them to the file's end: a dir made during a test may be the data dir of a node
   * the file's set started in that test, which runs on.
   */
  constructor(removesTempDirs = false) {
    this.removesTempDirs = removesTempDirs;
  }

  /** A child-process node, not started yet. */
  process(options: NodeOptions): NodeProcess {
    const node = new NodeProcess(options);
    this.processes.push(node);
    return node;
  }

  /** A child-process node, started. */
  async start(options: NodeOptions, extraArgs: string[] = []): Promise<NodeProcess> {
    const node = this.process(options);
    await node.start(extraArgs);
    return node;
  }

  /** Child-process nodes (a server name, or the options of one), started, each a peer of every other (plain http on loopback). */
  async peered<T extends Array<string | NodeOptions>>(...nodes: T): Promise<{ [K in keyof T]: NodeProcess }> {
    const made = nodes.map((n) => this.process(typeof n === 'string' ? { serverName: n } : n));
    return (await startPeered(made)) as { [K in keyof T]: NodeProcess };
  }

  /** A node in this process (real SQLite, real sockets), started. */
  async inProcess(serverName: string | undefined, options: InProcessOptions = {}): Promise<InProcessNode> {
    const { graceMs, ...rest } = options;
    // Imported when first used: the whole node is a second of module loading a file of child processes does not need.
    const { startInProcessNode } = await import('./in-process-node.ts');
    const node = await startInProcessNode(serverName, rest);
    this.inProcessNodes.push(node);
    this.graces.set(node, graceMs);
    return node;
  }

  /** The fake federation server (test/helpers/fake-peer.ts), started. */
  async fakePeer(serverName: string, options: FakePeerOptions = {}): Promise<FakePeer> {
    const { FakePeer } = await import('./fake-peer.ts');
    const fake = await new FakePeer(serverName, options).start();
    this.fakes.push(fake);
    return fake;
  }

  /** A reference-shaped peer (test/helpers/reference-peer.ts), started. */
  async referencePeer(options: ReferencePeerOptions): Promise<ReferencePeer> {
    const { ReferencePeer } = await import('./reference-peer.ts');
    const peer = await new ReferencePeer(options).start();
    this.references.push(peer);
    return peer;
  }

  /** Stops every node, fake, reference peer and server (a node the test stopped already is no matter), then removes the temp dirs made since this set began. */
  async stop(): Promise<void> {
    // A node a test paused (SIGSTOP) has to run again to hear its SIGTERM.
    for (const n of this.processes) if (n.child && n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGCONT');
    await stopAll(this.processes.splice(0));
    await Promise.all(this.inProcessNodes.splice(0).map((n) => n.node.stop(this.graces.get(n))));
    this.graces.clear();
    await Promise.all(this.fakes.splice(0).map((f) => f.stop()));
    await Promise.all(this.references.splice(0).map((r) => r.stop()));
    await Promise.all(this.servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    if (this.removesTempDirs) removeTempDirs();
  }
}

export interface TempDb {
  db: Db;
  file: string;
  /** Closes the database and opens the same file again (a restart). */
  reopen(): Db;
}

// vitest reads which fixtures a fixture needs from its first parameter, which must be a destructuring.
/* eslint-disable no-empty-pattern */
export const test = base
  // auto: set up in every file that uses this `test`, so the file's temp dirs are removed at its end.
  .extend('fileNodes', { scope: 'file', auto: true }, async ({}, { onCleanup }) => {
    const nodes = new Nodes(true);
    onCleanup(() => nodes.stop());
    return nodes;
  })
  .extend('nodes', async ({}, { onCleanup }) => {
    const nodes = new Nodes();
    onCleanup(() => nodes.stop());
    return nodes;
  })
  .extend('pair', { scope: 'file' }, async ({ fileNodes }) => {
    const [alpha, beta] = await fileNodes.peered('alpha.test', 'beta.test');
    return { alpha, beta };
  })
  .extend('tempDb', async ({}, { onCleanup }) => {
    const { openDatabase } = await import('../../main/core/store/database.ts');
    const dir = tempDir('paracord-db-');
    const file = join(dir, 'paracord.db');
    const handle: TempDb = {
      db: openDatabase(file),
      file,
      reopen() {
        handle.db.close();
        handle.db = openDatabase(file);
        return handle.db;
      },
    };
    onCleanup(() => {
      if (handle.db.open) handle.db.close();
      removeTempDir(dir);
    });
    return handle;
  })
  // More Chromium switches for the file's `browser` (launchBrowser): `test.override('chromiumArgs', [...])` at the file's top.
  .extend('chromiumArgs', { scope: 'file' }, [] as string[])
  // Chromium (test/helpers/browser.ts), launched for the file when a test first asks for it and closed after its last test.
  // Without Chromium it throws NO_CHROMIUM: the browser tests are skipped then (describe.skipIf(!HAVE_CHROMIUM)).
  .extend('browser', { scope: 'file' }, async ({ chromiumArgs }, { onCleanup }) => {
    // Imported when first used: playwright is for the browser files only.
    const { HAVE_CHROMIUM, NO_CHROMIUM, launchBrowser } = await import('./browser.ts');
    if (!HAVE_CHROMIUM) throw new Error(NO_CHROMIUM);
    const browser = await launchBrowser(chromiumArgs);
    onCleanup(() => browser.close());
    return browser;
  });
/* eslint-enable no-empty-pattern */

export const it = test;
/** The hooks of `test`: `beforeAll`/`afterAll` get the file fixtures (`fileNodes`, `pair`). */
export const beforeAll: typeof test.beforeAll = (fn, timeout) => test.beforeAll(fn, timeout);
export const afterAll: typeof test.afterAll = (fn, timeout) => test.afterAll(fn, timeout);
export const beforeEach: typeof test.beforeEach = (fn, timeout) => test.beforeEach(fn, timeout);
export const afterEach: typeof test.afterEach = (fn, timeout) => test.afterEach(fn, timeout);
export { describe, expect } from 'vitest';
