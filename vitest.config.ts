import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Files that must not share the machine with another test file: the browser tests (Chromium is
 * the heaviest process we start), the network-namespace tests (routers and their timers), the
 * benchmark harness, and the tests whose waits are the shortest for what they wait on
 * (self-tests and retry timers with second-long settings; the relayed-name red team, which
 * failed under load). They run one at a time, after the others.
 */
const ALONE = [
  'test/ui/**/*.test.ts',
  'test/electron/**/*.test.ts',
  'test/bench/**/*.test.ts',
  'test/ipv6*.test.ts',
  'test/nat-*.test.ts',
  'test/port-mapping.test.ts',
  'test/reachability*.test.ts',
  'test/outbox-faults.test.ts',
  'test/redteam/relayed-name.test.ts',
  // Failed once in three runs beside another file (carol held 2 requests for beta where the test
  // waits for 1; probably a deposit retried after its answer came too late, kept twice: see
  // docs/SECURITY.md, mailboxes, "Still open").
  'test/mailbox.test.ts',
];

export default defineConfig({
  test: {
    // Integration tests start real nodes (child processes, SQLite files, sockets).
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two files at a time (vitest's default on two cores is one): run one by one, the suite kept
    // the machine 44 % busy (its CPU time 1,185 s over 1,338 s on two cores: the rest is waiting on
    // real processes, timers and fsync); two at a time it took 1,040 s instead of 1,270 s
    // (2026-11-25, the same tree). ALONE runs one at a time.
    maxWorkers: 2,
    // expect.poll waits on real processes and a real browser: its default (1 s) is shorter than a
    // page load on a busy 2-core CI machine, which made browser tests fail at random.
    expect: { poll: { timeout: 15_000, interval: 50 } },
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['main/**/*.test.ts', 'shared/**/*.test.ts', 'renderer/src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...ALONE],
          sequence: { groupOrder: 0 },
        },
      },
      { extends: true, test: { name: 'alone', include: ALONE, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
