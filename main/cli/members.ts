/** `paracord-node member invite|list|disable|enable|reset`: the people of this server (issue #34), through the admin API. */
import { Option, type Command } from 'commander';
import { memberOperations } from '../../shared/contract/admin/members.ts';
import { adminCall, daysToSeconds, dataOption, limitedText, printJson, requireSubcommand } from './common.ts';

/** A member named by its user id (`@sam:home.example`) or its user name (`sam`), as the node knows it. */
async function memberId(data: string, named: string): Promise<string> {
  if (named.startsWith('@')) return named;
  const { members } = (await adminCall(data, 'GET', '/members')) as { members: Array<{ user_id: string }> };
  const found = members.find((m) => m.user_id.slice(1, m.user_id.indexOf(':')) === named.toLowerCase());
  if (!found) throw new Error(`${named} is not a member of this server (see: paracord-node member list)`);
  return found.user_id;
}

/** Days (a positive number) to the link lifetime the admin API takes, in seconds, within its bounds. */
const inviteLifetime = (days: string) => daysToSeconds(days, '--expires-in', memberOperations.createMemberInvite.input.shape.lifetime_seconds.unwrap());
const resetLifetime = (days: string) => daysToSeconds(days, '--expires-in', memberOperations.resetMember.input.shape.lifetime_seconds.unwrap());

/** A member link made: the link alone on a line, or all of it as JSON. */
function printLink(created: unknown, json: boolean | undefined): void {
  if (json) printJson(created);
  else process.stdout.write(`${(created as { link: string }).link}\n`);
}

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
      const body = { lifetime_seconds: inviteLifetime(opts.expiresIn), ...(opts.note ? { note: limitedText(opts.note, '--note', memberOperations.createMemberInvite.input.shape.note.unwrap()) } : {}) };
      printLink(await adminCall(opts.data, 'POST', '/members/invites', body), opts.json);
    });
  member
    .command('list')
    .description('list the members: who, disabled or not, last seen, sessions, passkeys')
    .addOption(dataOption())
    .action(async (opts: { data: string }) => printJson(await adminCall(opts.data, 'GET', '/members')));
  for (const [verb, what] of [['disable', 'sign a member out everywhere at once and refuse its sign-in until enabled again'], ['enable', 'let a disabled member sign in again']] as const) {
    member
      .command(`${verb} <member>`)
      .description(`${what} (the member by user name or user id); prints the member`)
      .addOption(dataOption())
      .action(async (named: string, opts: { data: string }) => {
        const userId = await memberId(opts.data, named);
        printJson(await adminCall(opts.data, 'POST', `/members/${encodeURIComponent(userId)}/${verb}`, {}));
      });
  }
  member
    .command('reset <member>')
    .description('print a one-time link that sets a new passphrase for a member (its old one works until the link is used; then its other devices are signed out and its passkeys removed)')
    .addOption(dataOption())
    .addOption(new Option('--expires-in <days>', 'days until the link expires').default('7'))
    .addOption(new Option('--json', 'print {id, link, expires_at} instead of the link'))
    .action(async (named: string, opts: { data: string; expiresIn: string; json?: boolean }) => {
      const lifetime_seconds = resetLifetime(opts.expiresIn);
      const userId = await memberId(opts.data, named);
      printLink(await adminCall(opts.data, 'POST', `/members/${encodeURIComponent(userId)}/reset`, { lifetime_seconds }), opts.json);
    });
  requireSubcommand(member);
}
