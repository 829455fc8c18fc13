/**
 * How a node starts and stops: each capability (storage, the federation services, the admin
 * listener, housekeeping, memory trim, backups, live streams) says what it does at start and on
 * the way down, and the node starts them in the order they are given and stops them in reverse.
 * Stopping has three phases, so that what one capability waits for in one phase is not gone yet:
 *
 * 1. halt, in reverse start order: timers and work in progress end (catch-ups, peering, cleanups);
 * 2. drain, all together: listeners close and requests in flight finish within the grace period,
 *    deliveries in flight settle;
 * 3. close, in reverse start order, one after another: what the others wrote reaches the disk and
 *    storage closes (it started first, so it closes last).
 */

export interface Capability {
  readonly name: string;
  start?(): void | Promise<void>;
  halt?(): void;
  /** `graceMs`: how long requests in flight may take before they are cut. */
  drain?(graceMs: number): void | Promise<void>;
  close?(): void | Promise<void>;
}

export class Lifecycle {
  private readonly started: Capability[] = [];
  private stopping = false;

  /** Starts each capability in turn, after those started before (federation may start later, at the end of setup). */
  async start(...capabilities: Capability[]): Promise<void> {
    for (const capability of capabilities) {
      await capability.start?.();
      this.started.push(capability);
    }
  }

  /** Capabilities that exist from construction and need no start (storage): stopped with the others. */
  hold(...capabilities: Capability[]): void {
    this.started.push(...capabilities);
  }

  /** The three phases over every started capability; a second call finds nothing to stop. */
  async stop(graceMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const running = this.started.splice(0).reverse();
    for (const capability of running) capability.halt?.();
    await Promise.all(running.map((capability) => capability.drain?.(graceMs)));
    for (const capability of running) await capability.close?.();
  }

  /** The names of the started capabilities, in start order (tests, doctor). */
  names(): string[] {
    return this.started.map((c) => c.name);
  }
}
