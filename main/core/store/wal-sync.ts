import { promises as fs } from 'node:fs';

/**
 * Makes the database's write-ahead log durable from a libuv thread, so the event loop does not
 * stop for the disk. GroupCommit commits its transactions with `synchronous = NORMAL` (SQLite
 * writes the WAL frames but does not fsync them) and acknowledges them only after `sync()`
 * has flushed the WAL file: the same guarantee as `synchronous = FULL`, without the wait on the
 * main thread. fdatasync on any descriptor of the file flushes everything written to it.
 */
export class WalSync {
  private readonly walFile: string;
  private handle: fs.FileHandle | null = null;
  private closed = false;

  constructor(databaseFile: string) {
    this.walFile = `${databaseFile}-wal`;
  }

  /** Flushes every WAL frame written so far. */
  async sync(): Promise<void> {
    if (this.closed) throw new Error('the database is closed');
    // Opened for writing: Windows flushes only through a handle with write access. The WAL
    // exists from the first commit on, and SQLite keeps it (same file) while the database is open.
    this.handle ??= await fs.open(this.walFile, 'r+');
    await this.handle.datasync();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.handle?.close();
    this.handle = null;
  }
}
