import { describe, expect, it } from 'vitest';
import { scheduleWords } from './backup-words.ts';

describe('scheduleWords', () => {
  const now = Date.UTC(2026, 10, 27, 12);
  it('says where, how often, how many are kept, whether encrypted, and when the next comes', () => {
    expect(scheduleWords({ dir: '/srv/bk', every: 'daily', keep: 7, passphrase_file: '/etc/pass' }, now - 3600_000, now)).toBe('Every day into /srv/bk (the newest 7 kept, encrypted): the next one in 23 h.');
    expect(scheduleWords({ dir: '/srv/bk', every: 'hourly', keep: 1 }, now - 2 * 3600_000, now)).toBe('Every hour into /srv/bk (only the newest kept, not encrypted): the next one is due now.');
    expect(scheduleWords({ dir: '/srv/bk', every: 'weekly', keep: 4 }, null, now)).toBe('Every week into /srv/bk (the newest 4 kept, not encrypted): none made yet.');
  });

  it('after a failed try, gives the retry the node will make (next_at), the same time as the warning', () => {
    expect(scheduleWords({ dir: '/srv/bk', every: 'daily', keep: 7 }, now - 600_000, now, now + 3600_000, true)).toBe('Every day into /srv/bk (the newest 7 kept, not encrypted): the next try in 1 h.');
    expect(scheduleWords({ dir: '/srv/bk', every: 'daily', keep: 7 }, null, now, now + 1800_000, true)).toBe('Every day into /srv/bk (the newest 7 kept, not encrypted): none made yet; the next try in 30 min.');
    expect(scheduleWords({ dir: '/srv/bk', every: 'daily', keep: 7 }, now - 3600_000, now, now + 23 * 3600_000)).toBe('Every day into /srv/bk (the newest 7 kept, not encrypted): the next one in 23 h.');
  });
});
