/** `paracord-node invite`, `peer redeem|list|add` and `trust`: peering with other servers. */
import { Option, type Command } from 'commander';
import { peerInviteOperations } from '../../shared/contract/admin/peer-invites.ts';
import { peerOperations } from '../../shared/contract/admin/peers.ts';
import { adminCall, daysToSeconds, dataOption, limitedText, positiveNumber, printJson, requireSubcommand, UsageError } from './common.ts';

export function register(program: Command): void {
  program
    .command('invite')
    .description('print a one-click peer invite link for a friend (single use, expires)')
    .addOption(dataOption())
    .addOption(new Option('--expires-in <days>', 'days until the link expires').default('7'))
    .addOption(new Option('--note <text>', 'a note to remember who the link was for'))
    .addOption(new Option('--json', 'print {id, link, https_link, expires_at} instead of the link'))
    .action(async (opts: { data: string; expiresIn: string; note?: string; json?: boolean }) => {
      const fields = peerInviteOperations.createPeerInvite.input.shape;
      const seconds = daysToSeconds(opts.expiresIn, '--expires-in', fields.expires_in_seconds.unwrap());
      const note = opts.note ? limitedText(opts.note, '--note', fields.note.unwrap()) : undefined;
      const created = (await adminCall(opts.data, 'POST', '/invites/peer', { expires_in_seconds: seconds, ...(note ? { note } : {}) })) as { link: string };
      if (opts.json) printJson(created);
      else process.stdout.write(`${created.link}\n`);
    });

  const peer = program.command('peer').description('peers: redeem a friend\'s link, list, add by hand');
  peer
    .command('redeem')
    .description('peer with the server whose invite link this is')
    .argument('<link>', 'paracord://peer/… or https://…/_paracord/peer#…, or - to read it from standard input (a link on the command line is seen by other users of this machine while it runs, and kept in the shell\'s history)')
    .addOption(dataOption())
    .action(async (given: string, opts: { data: string }) => {
      const link = given === '-' ? await firstLineOfStdin() : given;
      // The link's form and signature are checked here, as the node would (nothing is contacted): a
      // damaged or foreign link is bad usage, said before any node is asked.
      const { parseLink } = await import('../core/peering/invite-link.ts');
      const parsed = parseLink(link.trim());
      if (!parsed.ok) throw new UsageError(parsed.reason);
      printJson(await adminCall(opts.data, 'POST', '/invites/peer/redeem', { link }));
    });
  peer
    .command('list')
    .description('list known servers with their trust and keys')
    .addOption(dataOption())
    .action(async (opts: { data: string }) => printJson(await adminCall(opts.data, 'GET', '/peers')));
  peer
    .command('add')
    .description('allow a server by hand (fetches its keys, or pins the given one)')
    .argument('<server_name>')
    .addOption(dataOption())
    .addOption(new Option('--endpoint <url>', 'its federation URL, when not at https://<server_name>'))
    .addOption(new Option('--key-id <id>', 'pin this key id (with --public-key)'))
    .addOption(new Option('--public-key <hex>', 'pin this public key (with --key-id)'))
    .addOption(new Option('--replace', 'confirm changing the endpoint, certificate or key of a server already peered'))
    .addOption(new Option('--reference <version>', 'it runs the Paracord reference server, this version (when its discovery is off; needs --endpoint and its key)').choices(['0.8', '3']))
    .action(async (serverName: string, opts: { data: string; endpoint?: string; keyId?: string; publicKey?: string; replace?: boolean; reference?: '0.8' | '3' }) =>
      printJson(await adminCall(opts.data, 'POST', '/peers', {
        server_name: serverName,
        ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
        ...(opts.keyId ? { key_id: opts.keyId } : {}),
        ...(opts.publicKey ? { public_key: opts.publicKey } : {}),
        ...(opts.replace ? { replace: true } : {}),
        ...(opts.reference ? { reference_version: opts.reference } : {}),
      })));

  program
    .command('trust')
    .description('set how much you trust a server: allow, block or quarantine')
    .argument('<server_name>')
    .argument('<mode>', 'allow | block | quarantine')
    .addOption(dataOption())
    .addOption(new Option('--reason <text>', 'why (shown in the peer list)'))
    .addOption(new Option('--hours <n>', 'quarantine only: end it after this many hours'))
    .action(async (serverName: string, mode: string, opts: { data: string; reason?: string; hours?: string }) => {
      if (!['allow', 'block', 'quarantine'].includes(mode)) throw new UsageError(`mode must be allow, block or quarantine, not "${mode}"`);
      if (opts.reason) limitedText(opts.reason, '--reason', peerOperations.setPeerTrust.input.shape.reason.unwrap());
      const until = opts.hours ? Date.now() + positiveNumber(opts.hours, '--hours') * 3600_000 : undefined;
      printJson(await adminCall(opts.data, 'PUT', `/peers/${encodeURIComponent(serverName)}/trust`, {
        mode, ...(opts.reason ? { reason: opts.reason } : {}), ...(until ? { until_ms: Math.round(until) } : {}),
      }));
    });
  requireSubcommand(peer);
}

/** The first line of standard input (at most 64 KiB read: an invite link is a few hundred bytes). */
async function firstLineOfStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes('\n') || text.length > 65_536) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}
