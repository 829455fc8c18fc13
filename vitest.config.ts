import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Files that must not share the machine with another file of their kind, in two lanes that
 * `npm test` (scripts/test.mjs) runs side by side (with a third, "beside", below), each one file
 * at a time, after the others:
 * - "browser": the Chromium tests (the heaviest process we start; two browsers at once made page
 *   loads miss their waits) and the benchmark harness (~15 s). This lane starts once the shared
 *   run has three files left;
 * - "alone": the network-namespace tests (a router each, with its timers; never two at once), the
 *   relayed-name red team (failed under load), the mailbox test (failed once in three runs beside
 *   another file of the shared group) and reachability-hysteresis (~40 s, no namespace: a
 *   short-wait test, one at a time). This lane starts once the shared run has one left.
 * Each lane's worker runs its files one after the other without starting again (isolate: false).
 * A plain `vitest run` runs the lanes one after the other (groupOrder 1, 2, then "beside" below: 3).
 * Measured 2026-11-27 (AMD, 2 cores): the lanes took 417 s and 513 s side by side, 707 s one
 * after the other; a file beside the other lane takes up to 1.6× as long as alone.
 */
const BROWSER = ['test/ui/**/*.test.ts', 'test/electron/**/*.test.ts', 'test/bench/**/*.test.ts'];
const ALONE = [
  'test/ipv6*.test.ts',
  'test/nat-*.test.ts',
  'test/port-mapping.test.ts',
  'test/reachability.test.ts',
  'test/reachability-proof*.test.ts',
  'test/reachability-triggers.test.ts',
  'test/redteam/relayed-name.test.ts',
  'test/redteam/gateway-datagrams.test.ts',
  'test/mailbox.test.ts',
  'test/reachability-hysteresis.test.ts',
];

/**
 * "beside": files of the shared kind that are mostly CPU (CLI processes started one after another,
 * Argon2id, the search index, hundreds of messages), run one at a time in a third lane beside the
 * two above. The lanes left the cores ~22 % idle (vmstat, 5 s samples, 2026-11-30: 513 s, the
 * browser and alone lanes side by side), while the shared run, four at a time, keeps them busy:
 * its CPU work done in that idle time shortens the whole run. Starts with the browser lane.
 * First CI run with it (2026-11-30): the shared run ended at 385 s instead of ~470, the browser
 * lane at 978 s, alone at 947, beside at 686 (npm test 987 s instead of 1,054); outbox-faults
 * (SIGKILL loops, ~50 s) and mailbox-shares (~20 s) then came here from "browser" to even them.
 */
const BESIDE = [
  'test/cli.test.ts',
  'test/cli-input-edges.test.ts',
  'main/core/members/member-store.test.ts',
  'main/core/rooms/search-index.test.ts',
  'test/backup-restore.test.ts',
  'test/local-accidents.test.ts',
  'test/pull-mode.test.ts',
  'test/outbox-faults.test.ts',
  'test/mailbox-shares.test.ts',
];

/**
 * The directory of the ports the tests reserve: the one scripts/test.mjs made for all its runs,
 * else one for this vitest run, removed when it ends.
 */
function portsDir(): string {
  const given = process.env.PARACORD_TEST_PORTS_DIR;
  if (given) return given;
  const dir = join(tmpdir(), 'paracord-test-ports', `vitest-${process.pid}`);
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export default defineConfig({
  test: {
    // Integration tests start real nodes (child processes, SQLite files, sockets).
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // A worker runs file after file without starting again (no fresh module graph per file), in
    // every project: measured 2026-11-29 with process accounting, the same tree, the shared project
    // alone: 1,104 s of CPU and 604 s isolated, 885 s and 497 s not (a worker's start and imports
    // were ~0.6 s of CPU a file, 261 files; hostile-network's address flood, cut from 10,500
    // requests to 4,000 in the same change, is a part of the difference, not measured apart). The
    // tests use no module mocks; each file stops what it starts, and what a file sets for its
    // worker (a helper's cache by address, a fixture override) is put back before the next by
    // the setup file.
    isolate: false,
    setupFiles: ['test/helpers/each-file.ts'],
    // Two files at a time (vitest's default on two cores is one): run one by one, the suite kept
    // the machine 44 % busy (its CPU time 1,185 s over 1,338 s on two cores: the rest is waiting on
    // real processes, timers and fsync); two at a time it took 1,040 s instead of 1,270 s
    // (2026-11-25, the same tree). ALONE runs one at a time.
    maxWorkers: 2,
    // expect.poll waits on real processes and a real browser: its default (1 s) is shorter than a
    // page load on a busy 2-core CI machine, which made browser tests fail at random.
    expect: { poll: { timeout: 15_000, interval: 50 } },
    // A `serve` runs itself again with these when they are unset (bin/paracord-node.js: glibc reads
    // them at start); set here, the nodes the tests start skip that second start-up of Node.js:
    // 940 against 1,086 ms of CPU from a fresh node's start to its ready line (ten starts each,
    // 2026-11-27). test/malloc-arenas.test.ts unsets them to check the run again itself. Vitest's
    // workers, Chromium and the other processes the tests start get them too (no test reads them).
    // PARACORD_TEST_PORTS_DIR: the ports the tests reserved (test/helpers/closed-port.ts), one
    // directory for all the runs of an `npm test` (scripts/test.mjs), else one per vitest run.
    env: {
      MALLOC_ARENA_MAX: '2',
      MALLOC_MMAP_THRESHOLD_: '131072',
      PARACORD_TEST_PORTS_DIR: portsDir(),
    },
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['main/**/*.test.ts', 'shared/**/*.test.ts', 'renderer/src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...BROWSER, ...ALONE, ...BESIDE],
          // Four at a time: on a slower day of this VM (2026-11-29, a verify ceiling of 10k/s
          // against 20k) two at a time took 732 s and the whole CI run 1,362 s, past its 20
          // minutes; three took 568 s with the cores 90 % busy and every test passing; later that
          // day three took 630 s with the cores 85 % busy (vmstat; the whole run 1,263 s).
          maxWorkers: 4,
          sequence: { groupOrder: 0 },
        },
      },
      { extends: true, test: { name: 'browser', include: BROWSER, maxWorkers: 1, sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: 'alone', include: ALONE, maxWorkers: 1, sequence: { groupOrder: 2 } } },
      { extends: true, test: { name: 'beside', include: BESIDE, maxWorkers: 1, sequence: { groupOrder: 3 } } },
    ],
  },
});
