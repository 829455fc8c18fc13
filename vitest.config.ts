import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['main/**/*.test.ts', 'shared/**/*.test.ts', 'renderer/src/**/*.test.ts', 'test/**/*.test.ts'],
    // Integration tests start real nodes (child processes, SQLite files, sockets).
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
