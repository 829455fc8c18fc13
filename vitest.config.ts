import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['main/**/*.test.ts', 'shared/**/*.test.ts', 'renderer/src/**/*.test.ts', 'test/**/*.test.ts'],
    // Integration tests start real nodes (child processes, SQLite files, sockets).
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // expect.poll waits on real processes and a real browser: its default (1 s) is shorter than a
    // page load on a busy 2-core CI machine, which made browser tests fail at random.
    expect: { poll: { timeout: 15_000, interval: 50 } },
  },
});
