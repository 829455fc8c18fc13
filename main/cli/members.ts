/** `paracord-node member invite|list`: the people of this server (issue #34), through the admin API. */
import { Option, type Command } from 'commander';
import { adminCall, dataOption, positiveNumber, printJson } from './common.ts';

export function register(program: Command): void {
  const member = program.command('member').description('members: people who sign in to this server from their own devices');
  member
    .command('invite')
    .description('print a one-time link that lets someone become a member (they choose a name and a passphrase)')
    .addOption(dataOption())
    .addOption(new Option('--note <text>', 'a note to remember who the link was for'))
    .addOption(new Option('--expires-in <days>', 'days until the link expires').default('7'))
    .addOption(new Option('--json', 'print {id, link, expires_at} instead of the link'))
    .action(async (opts: { data: string; note?: string; expiresIn: string; json?: boolean }) => {
      const seconds = Math.round(positiveNumber(opts.expiresIn, '--expires-in') * 24 * 3600);
      const created = (await adminCall(opts.data, 'POST', '/members/invites', { lifetime_seconds: seconds, ...(opts.note ? { note: opts.note } : {}) })) as { link: string };
      if (opts.json) printJson(created);
      else process.stdout.write(`${created.link}\n`);
    });
  member
    .command('list')
    .description('list the members: who, disabled or not, last seen, sessions')
    .addOption(dataOption())
    .action(async (opts: { data: string }) => printJson(await adminCall(opts.data, 'GET', '/members')));
}
