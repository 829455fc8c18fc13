#!/usr/bin/env node
/**
 * `npm test`: the whole suite in two phases, so that it fits a CI run's 20 minutes on two cores.
 *
 * 1. The "shared" project: every file that can share the machine, four at a time (vitest.config.ts).
 * 2. The "browser" project (Chromium, the benchmark harness), the "alone" project (network
 *    namespaces, files that failed beside others) and the "beside" project (shared files that are
 *    mostly CPU, in the other lanes' idle time) side by side, each one file at a time: never two
 *    browsers and never two namespace routers at once. One vitest run would take them one after
 *    the other (a group of files has one worker count, and the kinds must not meet themselves).
 *    They start while the shared run's last files end (scripts/files-left-reporter.mjs counts
 *    them): the browser and beside lanes at three left, the alone lane at one (up to five files
 *    at once then).
 *
 * Each run writes a blob report; vitest then merges them into one report (`--json=PATH` adds its
 * JSON form, which .ci/run reads). Any other argument (a file filter, `--project`, a reporter)
 * runs vitest once with that argument, as `vitest run` would, the projects in their group order.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const vitestBin = join(root, 'node_modules', 'vitest', 'vitest.mjs');

let jsonOut = null;
const rest = [];
for (const arg of process.argv.slice(2)) {
  const m = /^--json=(.+)$/.exec(arg);
  if (m) jsonOut = m[1];
  else rest.push(arg);
}
const jsonArgs = jsonOut ? ['--reporter=json', `--outputFile.json=${jsonOut}`] : [];

// The ports the tests reserve (test/helpers/closed-port.ts): one directory for every run below,
// which run side by side, so that no two tests are given the same port; removed at the end.
const ports = join(tmpdir(), 'paracord-test-ports', `npm-test-${process.pid}`);
process.env.PARACORD_TEST_PORTS_DIR = ports;
// V8's compile cache for every Node.js process of the run (vitest's workers, the nodes and CLI runs
// the tests start, which also cache the bundle themselves: bin/paracord-node.js): each compiles
// what the others compiled before once per build, not once per process (~14 % of a node's start).
process.env.NODE_COMPILE_CACHE ??= join(root, 'node_modules', '.cache', 'node-compile-cache');
process.on('exit', () => rmSync(ports, { recursive: true, force: true }));

/** The vitest runs going on: a signal to this script is passed on to them (npm signals only us). */
const children = new Set();
let stoppedBy = null;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    stoppedBy = signal;
    for (const child of children) child.kill(signal);
  });
}
const signalNumber = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/**
 * Runs vitest with these arguments; resolves with its exit code. Its output is passed on whole
 * lines at a time (two runs print at once in phase 2), in colour (`--color`, not FORCE_COLOR,
 * which would reach the tests' own processes) when ours is a terminal; vitest then sees a pipe,
 * so it prints a line per file instead of redrawing a summary window.
 */
function vitest(args, onFilesLeft = null) {
  if (stoppedBy) return Promise.resolve(1);
  return new Promise((resolve) => {
    const color = process.stdout.isTTY && !process.env.NO_COLOR ? ['--color'] : [];
    // With onFilesLeft: scripts/files-left-reporter.mjs tells, on a pipe of its own, how many files are left.
    const counted = onFilesLeft ? [`--reporter=${join(root, 'scripts', 'files-left-reporter.mjs')}`] : [];
    const child = spawn(process.execPath, [vitestBin, ...args, ...counted, ...color], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe', ...(onFilesLeft ? ['pipe'] : [])],
      env: onFilesLeft ? { ...process.env, PARACORD_FILES_LEFT_FD: '3' } : process.env,
    });
    children.add(child);
    if (onFilesLeft) {
      let partial = '';
      child.stdio[3].setEncoding('utf8');
      child.stdio[3].on('data', (chunk) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop();
        for (const line of lines) if (/^\d+$/.test(line)) onFilesLeft(Number(line));
      });
    }
    for (const [from, to] of [
      [child.stdout, process.stdout],
      [child.stderr, process.stderr],
    ]) {
      let partial = '';
      from.setEncoding('utf8');
      from.on('data', (chunk) => {
        const text = partial + chunk;
        const end = text.lastIndexOf('\n') + 1;
        partial = text.slice(end);
        if (end > 0) to.write(text.slice(0, end));
      });
      from.on('end', () => partial && to.write(partial));
    }
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

/** Ends with this status once the output is written (process.exit could cut a piped log short). */
function finish(status) {
  process.exitCode = stoppedBy ? 128 + signalNumber[stoppedBy] : status;
}

if (rest.length > 0) {
  finish(await vitest(['run', ...rest, ...(jsonOut ? ['--reporter=default', ...jsonArgs] : [])]));
} else {
  const blobs = join(root, 'test-artifacts', 'blob');
  rmSync(blobs, { recursive: true, force: true });
  mkdirSync(blobs, { recursive: true });
  if (jsonOut) rmSync(jsonOut, { force: true });
  /** One project's run: its progress as lines (two runs may print at once), and its blob report. */
  const project = async (name, onFilesLeft = null) => {
    const blob = join(blobs, `${name}.json`);
    const code = await vitest(['run', '--project', name, '--reporter=default', '--reporter=blob', `--outputFile.blob=${blob}`], onFilesLeft);
    // A run that died before its report (out of memory, killed) is missing from the merged one: said here.
    if (code !== 0) process.stderr.write(`npm test: the "${name}" run exited with ${code}${existsSync(blob) ? '' : ' and wrote no report: its files are missing from the totals below'}\n`);
    return code;
  };

  const started = Date.now();
  // The lanes start while the shared run ends, not after it: the browser lane (the longer one)
  // once the shared run has three files left, that is, none waiting for a worker (it runs four at
  // a time), the alone lane once it has one left (its files are there for failing beside shared
  // ones: one at most). Measured 2026-11-29 (vmstat, 5 s samples): from three files left to the
  // end, ~75 s, the cores were ~35 % idle, and the browser lane, started at one left, ended ~55 s
  // after the alone lane.
  const lane = (name, filesLeft) => {
    let start;
    const mayStart = new Promise((resolve) => (start = resolve));
    return { start: (left) => left <= filesLeft && start(), run: mayStart.then(() => project(name)), end: () => start() };
  };
  const browser = lane('browser', 3);
  const alone = lane('alone', 1);
  // A third lane of CPU work (vitest.config.ts BESIDE), in the time the other two leave the cores idle.
  const beside = lane('beside', 3);
  const shared = project('shared', (left) => {
    browser.start(left);
    alone.start(left);
    beside.start(left);
  });
  const sharedCode = await shared;
  browser.end();
  alone.end();
  beside.end();
  const codes = [sharedCode, ...(await Promise.all([browser.run, alone.run, beside.run]))];
  process.stdout.write('\nThe four runs merged (their "Duration" is the sum of the runs):\n');
  const merged = await vitest(['run', `--merge-reports=${blobs}`, '--reporter=default', ...jsonArgs]);
  process.stdout.write(`npm test: ${Math.round((Date.now() - started) / 1000)} s from the first file to the last\n`);
  finish(codes.some((c) => c !== 0) || merged !== 0 ? 1 : 0);
}
