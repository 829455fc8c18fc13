/** `paracord-node doctor` (README "Keep it running"); the checks live in main/core/doctor. */
import { Command, Option } from 'commander';
import { defaultDataDir } from '../core/data-dir.ts';
import { envFlag, positiveNumber } from './common.ts';
import { cleanText, terminalJson } from '../core/util/untrusted-text.ts';

const MARK = { ok: 'ok      ', warning: 'warning ', problem: 'PROBLEM ', note: 'note    ' } as const;

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check what goes wrong on a home server (permissions, disk, clock, listener, TLS, ports, queue, backups); exit 1 on a problem')
    .addOption(new Option('--data <dir>', 'data directory').env('PARACORD_DATA').default(defaultDataDir(), 'per-user data folder'))
    .addOption(new Option('--listen <host:port>', 'the federation address the node uses (port check when it is not running)').env('PARACORD_LISTEN'))
    .addOption(new Option('--admin-listen <host:port>', 'the admin address the node uses (port check when it is not running)').env('PARACORD_ADMIN_LISTEN'))
    .addOption(new Option('--min-free-mib <n>', 'free disk below this many MiB is a problem, below 8 times it a warning (default 256)').env('PARACORD_DOCTOR_MIN_FREE_MIB'))
    .addOption(new Option('--max-backlog <n>', 'events waiting for one peer from this many on are a problem (default 1000)').env('PARACORD_DOCTOR_MAX_BACKLOG'))
    .addOption(new Option('--insecure-http', 'as serve: plain http to loopback peers is allowed (implied when the node serves http)'))
    .addOption(new Option('--allow-private-addresses', 'as serve: peers on private (LAN) addresses may be asked for their clocks'))
    .addOption(new Option('--json', 'print a JSON array of {check, status, message}'))
    .action(async (opts: { data: string; listen?: string; adminListen?: string; json?: boolean; minFreeMib?: string; maxBacklog?: string; insecureHttp?: boolean; allowPrivateAddresses?: boolean }) => {
      const { runDoctor } = await import('../core/doctor/doctor.ts'); // loaded only for this command
      const results = await runDoctor({
        dataDir: opts.data,
        ...(opts.listen ? { listen: opts.listen } : {}),
        ...(opts.adminListen ? { adminListen: opts.adminListen } : {}),
        ...(opts.minFreeMib !== undefined ? { minFreeBytes: positiveNumber(opts.minFreeMib, '--min-free-mib') * 1024 ** 2 } : {}),
        ...(opts.maxBacklog !== undefined ? { maxBacklog: positiveNumber(opts.maxBacklog, '--max-backlog') } : {}),
        insecureHttp: opts.insecureHttp === true || envFlag('PARACORD_INSECURE_HTTP'),
        allowPrivateAddresses: opts.allowPrivateAddresses === true || envFlag('PARACORD_ALLOW_PRIVATE_ADDRESSES'),
      });
      // Messages carry peers' words and names (clock skew, reachability): never raw on the terminal.
      if (opts.json) process.stdout.write(terminalJson(results) + '\n');
      else for (const r of results) process.stdout.write(`${MARK[r.status]}${r.check.padEnd(20)} ${cleanText(r.message, 4000)}\n`);
      // A problem makes the exit code 1 (warnings and notes do not), with one line on stderr.
      const problems = results.filter((r) => r.status === 'problem').map((r) => r.check);
      if (problems.length > 0) throw new Error(`doctor found ${problems.length === 1 ? 'a problem' : `${problems.length} problems`}: ${problems.join(', ')}`);
    });
}
