/** `paracord-node status` and `login`: ask the running node. */
import type { Command } from 'commander';
import { adminCall, dataOption, printJson } from './common.ts';

export function register(program: Command): void {
  program
    .command('status')
    .description('print the running node\'s status as JSON')
    .addOption(dataOption())
    .action(async (opts: { data: string }) => printJson(await adminCall(opts.data, 'GET', '/status')));

  program
    .command('login')
    .description('print a one-time link that opens the web UI, logged in')
    .addOption(dataOption())
    .action(async (opts: { data: string }) => {
      const { login_url } = (await adminCall(opts.data, 'POST', '/login-links')) as { login_url: string };
      process.stdout.write(`${login_url}\n`);
    });
}
