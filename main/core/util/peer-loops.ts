/** How often the peer list is read again without being told of a change (a safety net). */
const REFRESH_EVERY_MS = 60_000;

/**
 * One long-running loop per peer (the Puller, the mailbox fetcher): started for every peer the
 * list gives, stopped for peers that left it, all stopped together. The list is read again when
 * `changes` says it changed (a peer added, its trust changed), and once a minute besides: an idle
 * node does not wake every few seconds for it (issue #36; it was read every 5 s).
 */
export class PeerLoops {
  private readonly loops = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private refreshTimer: NodeJS.Timeout | null = null;
  private running = false;
  private readonly peers: () => Iterable<string>;
  private readonly run: (server: string, signal: AbortSignal) => Promise<void>;
  private readonly crashed: (server: string, error: Error) => void;
  private readonly changes: (listener: () => void) => () => void;
  private readonly listFailed: (error: unknown) => void;
  private unsubscribe: (() => void) | null = null;
  private refreshSoon: NodeJS.Immediate | null = null;

  constructor(
    peers: () => Iterable<string>,
    run: (server: string, signal: AbortSignal) => Promise<void>,
    crashed: (server: string, error: Error) => void,
    changes: (listener: () => void) => () => void,
    /** Told when the peer list cannot be read (the loops that run go on). */
    listFailed: (error: unknown) => void = () => {},
  ) {
    this.peers = peers;
    this.run = run;
    this.crashed = crashed;
    this.changes = changes;
    this.listFailed = listFailed;
  }

  get active(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.refresh();
    this.refreshTimer = setInterval(() => this.refresh(), REFRESH_EVERY_MS);
    this.refreshTimer.unref();
    // Read after the change's transaction (a rolled-back one changes nothing).
    this.unsubscribe = this.changes(() => {
      this.refreshSoon ??= setImmediate(() => {
        this.refreshSoon = null;
        this.refresh();
      });
    });
  }

  /** Stops every loop and waits for each to end (a page being stored finishes first). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.refreshSoon) clearImmediate(this.refreshSoon);
    this.refreshSoon = null;
    const loops = [...this.loops.values()];
    this.loops.clear();
    for (const loop of loops) loop.abort.abort();
    await Promise.all(loops.map((l) => l.done));
  }

  private refresh(): void {
    if (!this.running) return;
    let peers: Set<string>;
    try {
      peers = new Set(this.peers());
    } catch (error) {
      // The list could not be read (a failure of the database): the loops that run go on, and the
      // next change or the minute's refresh reads it again (thrown from a timer, it ended the node).
      try {
        this.listFailed(error);
      } catch {
        // a logger's own failure is no reason to end the node either
      }
      return;
    }
    for (const [server, loop] of this.loops) {
      if (!peers.has(server)) {
        loop.abort.abort();
        this.loops.delete(server);
      }
    }
    for (const server of peers) {
      if (this.loops.has(server)) continue;
      const abort = new AbortController();
      const done = this.run(server, abort.signal).catch((error: Error) => this.crashed(server, error));
      this.loops.set(server, { abort, done });
    }
  }
}
