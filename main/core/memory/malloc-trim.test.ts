import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { IdleMemoryTrim } from './idle-memory-trim.ts';
import { nativeMallocTrim } from './malloc-trim.ts';

const glibc = process.platform === 'linux' && (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime !== undefined;

describe('malloc_trim through koffi', () => {
  it.skipIf(!glibc)('is reached on Linux with glibc and can be called repeatedly', () => {
    const trim = nativeMallocTrim();
    expect(trim).toBeTypeOf('function');
    expect(typeof trim!()).toBe('boolean');
    expect(typeof trim!()).toBe('boolean');
    expect(nativeMallocTrim()).toBe(trim); // loaded once
  });

  it('runs after each memory-reducing collection of the idle trim, before the code pages go', () => {
    const order: string[] = [];
    const trim = new IdleMemoryTrim({
      log: pino({ level: 'silent' }),
      utilization: () => 0,
      resident: () => 100 * 1024 * 1024,
      collect: () => order.push('collect'),
      nativeTrim: () => {
        order.push('malloc_trim');
        return true;
      },
      releaseCleanPages: () => {
        order.push('code pages');
        return 0;
      },
    });
    trim.check(); // the first quiet look after start-up collects
    expect(order).toEqual(['collect', 'malloc_trim', 'code pages']);
  });

  it('is left out when there is none (not Linux, musl)', () => {
    let collected = 0;
    const trim = new IdleMemoryTrim({ log: pino({ level: 'silent' }), utilization: () => 0, resident: () => 100 * 1024 * 1024, collect: () => collected++, nativeTrim: null, releaseCleanPages: null });
    trim.check();
    expect(collected).toBe(1);
  });
});
