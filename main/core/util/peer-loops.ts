/**
 * One long-running loop per peer (the Puller, the mailbox fetcher): started for every peer the
 * list gives (asked again every 5 s, so peers added later get one), stopped for peers that left
 * it, all stopped together.
 */
export class PeerLoops {
  private readonly loops = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private refreshTimer: NodeJS.Timeout | null = null;
  private running = false;
  private readonly peers: () => Iterable<string>;
  private readonly run: (server: string, signal: AbortSignal) => Promise<void>;
  private readonly crashed: (server: string, error: Error) => void;

  constructor(peers: () => Iterable<string>, run: (server: string, signal: AbortSignal) => Promise<void>, crashed: (server: string, error: Error) => void) {
    this.peers = peers;
    this.run = run;
    this.crashed = crashed;
  }

  get active(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.refresh();
    this.refreshTimer = setInterval(() => this.refresh(), 5_000);
    this.refreshTimer.unref();
  }

  /** Stops every loop and waits for each to end (a page being stored finishes first). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = null;
    const loops = [...this.loops.values()];
    this.loops.clear();
    for (const loop of loops) loop.abort.abort();
    await Promise.all(loops.map((l) => l.done));
  }

  private refresh(): void {
    if (!this.running) return;
    const peers = new Set(this.peers());
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
