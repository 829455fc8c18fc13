import { fdatasyncSync, promises as fs } from 'node:fs';

/**
 * Makes the database's write-ahead log durable from a libuv thread, so the event loop does not
 * stop for the disk. GroupCommit commits its transactions with `synchronous = NORMAL` (SQLite
 * writes the WAL frames but does not fsync them) and acknowledges them only after `sync()`
 * has flushed the WAL file: the same guarantee as `synchronous = FULL`, without the wait on the
 * main thread. fdatasync on any descriptor of the file flushes everything written to it.
 *
 * libuv's few threads also serve DNS lookups, which can hang for seconds when a peer's name
 * server does not answer. A flush that has not finished after FALLBACK_MS is therefore made on
 * the main thread instead: a short stop of the event loop rather than every acknowledgement
 * waiting for someone else's DNS.
 */
/**
 * 200 ms (was 50): on a busy disk an fsync can take longer than 50 ms by itself, and a second one
 * on the main thread then stopped the node for as long again without helping (issue #17, seen
 * in p99 latency); a pool stuck behind DNS is still caught.
 */
export const FALLBACK_MS = 200;

export class WalSync {
  private readonly walFile: string;
  private handle: fs.FileHandle | null = null;
  private closed = false;
  /** Flushes made on the main thread because the thread pool was busy (for tests and logs). */
  fallbacks = 0;

  constructor(databaseFile: string) {
    this.walFile = `${databaseFile}-wal`;
  }

  /** Flushes every WAL frame written so far. */
  async sync(): Promise<void> {
    if (this.closed) throw new Error('the database is closed');
    // Opened for writing: Windows flushes only through a handle with write access. The WAL
    // exists from the first commit on, and SQLite keeps it (same file) while the database is open.
    this.handle ??= await fs.open(this.walFile, 'r+');
    const handle = this.handle;
    const flushed = handle.datasync().then(() => true);
    // A plain timer, cleared when the flush wins (an aborted promise timer built an error object per flush).
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(resolve, FALLBACK_MS, false);
      timer.unref();
    });
    if (await Promise.race([flushed, late])) {
      clearTimeout(timer);
      return;
    }
    this.fallbacks++;
    fdatasyncSync(handle.fd);
    flushed.catch(() => undefined); // the pool's flush finishes (or fails) later; this one counted
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.handle?.close();
    this.handle = null;
  }
}
