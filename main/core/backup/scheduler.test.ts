import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { vi } from 'vitest';
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { tempDir } from '../../../test/helpers/temp-dir.ts';
import { initDataDir } from '../node.ts';
import { openDatabase } from '../store/database.ts';
import { Settings } from '../store/settings.ts';
import { BackupRecords } from './records.ts';
import { BackupScheduler } from './scheduler.ts';

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
});
