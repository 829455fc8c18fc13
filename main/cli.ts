/**
 * The headless entry point (docs/ARCHITECTURE.md §What outside tools rely on; options in README.md §Commands): wires the command groups of main/cli/ into one program.
 * Exit codes: 0 success, 1 runtime failure, 2 bad usage; errors are one line on stderr.
 */
import { Command, CommanderError } from 'commander';
import { VERSION } from './core/version.ts';
import { say, UsageError } from './cli/common.ts';
import { fsErrorCode, fsReason } from './core/util/fs-reason.ts';
import { register as registerInit } from './cli/init.ts';
import { register as registerServe } from './cli/serve.ts';
import { register as registerStatus } from './cli/status.ts';
import { register as registerPeers } from './cli/peers.ts';
import { register as registerKeys } from './cli/keys.ts';
import { register as registerBackup } from './cli/backup.ts';
import { register as registerService } from './cli/service.ts';
import { register as registerDoctor } from './cli/doctor.ts';
import { register as registerReachTest } from './cli/reach-test.ts';
import { register as registerMembers } from './cli/members.ts';

export function buildProgram(): Command {
  const program = new Command('paracord-node')
    .description('Paracord federation node: run a personal Paracord server and federate it with friends')
    .version(VERSION)
    // A usage error is one line on stderr, the hint to --help on it (the contract's "one clear line").
    .configureOutput({ outputError: (text, write) => write(`paracord-node: ${text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')} (run with --help for usage)\n`) })
    .exitOverride();
  registerInit(program);
  registerServe(program);
  registerStatus(program);
  registerPeers(program);
  registerKeys(program);
  registerBackup(program);
  registerService(program);
  registerDoctor(program);
  registerReachTest(program);
  registerMembers(program);
  return program;
}

/**
 * The line for a failure. Every command says in words what went wrong with a path it was given;
 * a raw file system error that still gets here ("ENOENT: no such file or directory, open …")
 * is put in words too, with the path it names.
 */
function failureLine(error: unknown): string {
  if (fsErrorCode(error) === null) return (error as Error).message;
  const { path, dest } = error as NodeJS.ErrnoException & { dest?: string };
  return `cannot use ${path ?? 'a file'}${dest ? ` (to ${dest})` : ''}: ${fsReason(error)}`;
}

/** Runs the CLI; resolves with the exit code, or 'serving' while `serve` keeps the process up. */
export async function main(argv: string[]): Promise<number | 'serving'> {
  const program = buildProgram();
  let serving = false;
  program.hook('postAction', (_program, action) => {
    serving = action.name() === 'serve';
  });
  // No command at all: the one line of any usage error, not the whole usage on stderr.
  if (argv.length <= 2) {
    say('no command given (run with --help for usage)');
    return 2;
  }
  try {
    await program.parseAsync(argv);
    return serving ? 'serving' : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version "fail" with exit code 0; real usage errors were printed by commander.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof UsageError) {
      say(error.message);
      return 2;
    }
    say(failureLine(error));
    return 1;
  }
}

const outcome = await main(process.argv);
// `serve` keeps running (its listeners hold the process) until a signal; other commands end here.
if (outcome !== 'serving') process.exit(outcome);
