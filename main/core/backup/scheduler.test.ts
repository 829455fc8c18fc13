import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pino } from 'pino';
import { vi } from 'vitest';
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { tempDir } from '../../../test/helpers/temp-dir.ts';
import { initDataDir } from '../node.ts';
import { openDatabase } from '../store/database.ts';
import { Settings } from '../store/settings.ts';
import { BackupRecords } from './records.ts';
import { BackupScheduler } from './scheduler.ts';
import { backupFileName } from './create.ts';

/** A set-up node's data dir with a daily schedule into `first`; `second` is another empty folder. */
async function scheduled() {
  const dir = join(tempDir(), 'data');
  await initDataDir(dir, 'alpha.test');
  const db = openDatabase(join(dir, 'paracord.db'));
  const records = new BackupRecords(new Settings(db));
  const first = join(tempDir(), 'first');
  const second = join(tempDir(), 'second');
  mkdirSync(first);
  mkdirSync(second);
  records.setSchedule({ dir: first, every: 'daily', keep: 7 });
  const scheduler = new BackupScheduler({ dataDir: dir, db, records, log: pino({ level: 'silent' }), serverName: () => 'alpha.test' });
  return { db, records, scheduler, first, second };
}

describe('backup scheduler', () => {
  // A second backup would start in the first one's `finally`, before its promise settles: the
  // number of runs right after it is the answer, with no wait to guess.
  for (const order of ['stop, then the schedule corrected', 'the schedule corrected, then stop'] as const) {
    it(`stopped while a backup runs, starts no other once it is done (${order})`, async () => {
      const { db, records, scheduler, first, second } = await scheduled();
      const runs = vi.spyOn(scheduler, 'run');
      try {
        // The scheduled backup runs; the node begins to stop; about then the owner corrects the
        // folder (a new schedule is checked at once, and owed a check once the running backup ends).
        const running = scheduler.run();
        const correct = async () => {
          records.setSchedule({ dir: second, every: 'daily', keep: 7 });
          await scheduler.checkNow();
        };
        let stopping: Promise<void>;
        if (order === 'stop, then the schedule corrected') {
          stopping = scheduler.stop();
          await correct();
        } else {
          await correct();
          stopping = scheduler.stop();
        }
        await running;
        expect(runs).toHaveBeenCalledTimes(1);
        await stopping;
        expect(readdirSync(first)).toHaveLength(1);
        expect(readdirSync(second)).toEqual([]);
      } finally {
        db.close();
      }
    });
  }

  it('not stopped, the schedule corrected while a backup runs gets its first backup once that one is done', async () => {
    const { db, records, scheduler, first, second } = await scheduled();
    try {
      const runs = vi.spyOn(scheduler, 'run');
      const running = scheduler.run();
      records.setSchedule({ dir: second, every: 'daily', keep: 7 });
      await scheduler.checkNow();
      await running;
      expect(runs).toHaveBeenCalledTimes(2);
      await expect.poll(() => readdirSync(second).length, { timeout: 10_000 }).toBe(1);
      expect(readdirSync(first)).toHaveLength(1);
    } finally {
      await scheduler.stop();
      db.close();
    }
  });

  it('a failed try is tried again after the hour, even before the interval since the last good one; not sooner (records nextAt says when)', async () => {
    const { db, records, scheduler, first } = await scheduled();
    const tick = () => (scheduler as unknown as { tick(): Promise<void> }).tick();
    try {
      const now = Date.now();
      records.recordSuccess(now - 2 * 3600_000, join(first, 'old.pcbak'), false);
      // Failed 30 min ago (a "Back up now" into the folder, say): not again yet, and nextAt says in 30 min.
      records.recordFailure(now - 30 * 60_000, 'cannot write: the folder does not exist');
      expect(records.nextAt(now)).toBe(now + 30 * 60_000);
      await tick();
      expect(readdirSync(first)).toEqual([]);
      // 61 min ago: tried now, though the daily interval since the good one has not passed.
      records.recordFailure(now - 61 * 60_000, 'cannot write: the folder does not exist');
      expect(records.nextAt(now)).toBe(now);
      await tick();
      expect(readdirSync(first)).toHaveLength(1);
      expect(records.last().error).toBeNull();
      expect(records.nextAt()).toBe(records.last().at! + 24 * 3600_000);
    } finally {
      await scheduler.stop();
      db.close();
    }
  });

  it('never prunes the backup it just wrote, even when the clock went back behind backups already there', async () => {
    const { records, scheduler, first } = await scheduled();
    records.setSchedule({ dir: first, every: 'daily', keep: 1 });
    // Made an hour "later" by a clock since set back: newer by name than the one about to be written.
    const ahead = join(first, backupFileName('alpha.test', Date.now() + 3_600_000));
    writeFileSync(ahead, 'an earlier backup', { mode: 0o600 });
    const made = await scheduler.run();
    expect(readdirSync(first).sort()).toEqual([basename(ahead), basename(made.file)].sort());
  });
});
