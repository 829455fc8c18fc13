/** `paracord-node doctor` (README "Keep it running"); the checks live in main/core/doctor. */
import { Command, Option } from 'commander';
import { defaultDataDir } from '../core/data-dir.ts';
import { runDoctor } from '../core/doctor/doctor.ts';

const MARK = { ok: 'ok      ', warning: 'warning ', problem: 'PROBLEM ', note: 'note    ' } as const;

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check what goes wrong on a home server (permissions, disk, clock, listener, TLS, ports, queue, backups); exit 1 on a problem')
    .addOption(new Option('--data <dir>', 'data directory').env('PARACORD_DATA').default(defaultDataDir(), 'per-user data folder'))
    .addOption(new Option('--listen <host:port>', 'the federation address the node uses (port check when it is not running)').env('PARACORD_LISTEN'))
    .addOption(new Option('--admin-listen <host:port>', 'the admin address the node uses (port check when it is not running)').env('PARACORD_ADMIN_LISTEN'))
    .addOption(new Option('--json', 'print a JSON array of {check, status, message}'))
    .action(async (opts: { data: string; listen?: string; adminListen?: string; json?: boolean }) => {
      const results = await runDoctor({ dataDir: opts.data, ...(opts.listen ? { listen: opts.listen } : {}), ...(opts.adminListen ? { adminListen: opts.adminListen } : {}) });
      if (opts.json) process.stdout.write(JSON.stringify(results) + '\n');
      else for (const r of results) process.stdout.write(`${MARK[r.status]}${r.check.padEnd(20)} ${r.message}\n`);
      // A problem makes the exit code 1 (warnings and notes do not), with one line on stderr.
      const problems = results.filter((r) => r.status === 'problem').map((r) => r.check);
      if (problems.length > 0) throw new Error(`doctor found ${problems.length === 1 ? 'a problem' : `${problems.length} problems`}: ${problems.join(', ')}`);
    });
}
