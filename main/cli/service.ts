/**
 * `service print` and `service install --user` (README "Keep it running": start at boot).
 * The units come from main/core/service/units.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { defaultDataDir } from '../core/data-dir.ts';
import { PACKAGE_ROOT } from '../core/version.ts';
import { createReason, makeFolders } from '../core/util/fs-reason.ts';
import { checkServeArguments } from './serve.ts';
import { requireSubcommand, UsageError } from './common.ts';
import { SYSTEM_DATA_DIR, UNIT_NAME, launchdPlist, systemdSystemUnit, systemdUserUnit, userUnitPath, type UnitOptions } from '../core/service/units.ts';

/** A user name as useradd takes it by default (POSIX portable, lower case): what a unit's User= may name. */
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

function checkUserName(user: string): void {
  if (!USER_NAME.test(user)) throw new UsageError(`--run-as "${user}" is not a user name (lower-case letters, digits, _ and -, starting with a letter or _, at most 32 characters)`);
}

/**
 * The unit's options, its input checked first (UsageError, nothing written): the account, no
 * control character anywhere (a newline in a path or URL would start a directive of its own in
 * the unit), --data given once (before --: the unit's sandbox is made for that folder), and the
 * serve arguments as serve parses them.
 */
function unitOptions(dataDir: string, serveArgs: string[], user?: string): UnitOptions {
  if (user !== undefined) checkUserName(user);
  for (const word of [dataDir, ...serveArgs]) {
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(word)) throw new UsageError(`${JSON.stringify(word)} holds a control character (a newline, a tab, …): a service cannot carry it`);
  }
  // A word that is no option (`service print --system extra`, with or without --): serve takes none.
  const stray = serveArgs[0] !== undefined && !serveArgs[0].startsWith('-') ? serveArgs[0] : undefined;
  if (stray !== undefined) throw new UsageError(`${JSON.stringify(stray)} is not an option of serve: a service passes serve options only, after -- (for example -- --listen 0.0.0.0:7447)`);
  if (serveArgs.some((arg) => arg === '--data' || arg.startsWith('--data='))) throw new UsageError('give --data before --, not among the serve arguments: the unit is made for that folder');
  checkServeArguments(serveArgs, resolve(dataDir));
  return { nodePath: process.execPath, cliPath: join(PACKAGE_ROOT, 'bin', 'paracord-node.js'), dataDir: resolve(dataDir), serveArgs, ...(user ? { user } : {}) };
}

function hasSystemctl(): boolean {
  const probe = spawnSync('systemctl', ['--version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

export function register(program: Command): void {
  const service = program.command('service').description('start the node at boot: systemd units (Linux), launchd (macOS)');

  service
    .command('print')
    .description('print the systemd user unit (default), the hardened system unit (--system) or a launchd plist (--launchd)')
    .addOption(new Option('--system', 'the system unit: a dedicated user, the data in /var/lib/paracord-node unless --data is given'))
    .addOption(new Option('--launchd', 'a macOS launchd agent instead'))
    .addOption(new Option('--data <dir>', 'data directory').env('PARACORD_DATA'))
    .addOption(new Option('--run-as <user>', 'system unit: the account it runs as').default('paracord'))
    .argument('[serve-args...]', 'extra `serve` arguments after --, e.g. -- --listen 0.0.0.0:7447 --public-url https://…')
    .action((serveArgs: string[], opts: { system?: boolean; launchd?: boolean; data?: string; runAs: string }) => {
      if (opts.system && opts.launchd) throw new UsageError('choose --system or --launchd, not both');
      checkUserName(opts.runAs);
      if (opts.system) {
        process.stdout.write(systemdSystemUnit(unitOptions(opts.data ?? SYSTEM_DATA_DIR, serveArgs, opts.runAs)));
        return;
      }
      const options = unitOptions(opts.data ?? defaultDataDir(), serveArgs);
      process.stdout.write(opts.launchd ? launchdPlist(options) : systemdUserUnit(options));
    });

  service
    .command('install')
    .description('write the systemd user unit to ~/.config/systemd/user and enable it (needs --user)')
    .addOption(new Option('--user', 'a user unit (the system unit: `service print --system`, see README)').makeOptionMandatory())
    .addOption(new Option('--data <dir>', 'data directory').env('PARACORD_DATA').default(defaultDataDir(), 'per-user data folder'))
    .addOption(new Option('--no-enable', 'only write the unit file'))
    .argument('[serve-args...]', 'extra `serve` arguments after --')
    .action((serveArgs: string[], opts: { data: string; enable: boolean }) => {
      const file = userUnitPath();
      const unit = systemdUserUnit(unitOptions(opts.data, serveArgs));
      const existed = existsSync(file);
      if (existed && readFileSync(file, 'utf8') === unit) process.stderr.write(`paracord-node: ${file} is already up to date\n`);
      else {
        try {
          // One folder at a time: Node's recursive mkdir never returns where mkdir answers ENOENT (/proc).
          makeFolders(dirname(file), 0o755);
          writeFileSync(file, unit, { mode: 0o644 });
        } catch (error) {
          throw new Error(`cannot write the unit file ${file}: ${createReason(error)}`, { cause: error });
        }
        process.stderr.write(`paracord-node: ${existed ? 'updated' : 'wrote'} ${file}\n`);
      }
      const commands = [['systemctl', '--user', 'daemon-reload'], ['systemctl', '--user', 'enable', '--now', UNIT_NAME]];
      const linger = 'loginctl enable-linger "$USER"   # start at boot, before you log in';
      if (!opts.enable || !hasSystemctl()) {
        process.stderr.write(
          `paracord-node: ${opts.enable ? 'systemctl is not available here; ' : ''}to start it now and at every boot, run:\n` +
            commands.map((c) => `  ${c.join(' ')}\n`).join('') + `  ${linger}\n`,
        );
        return;
      }
      for (const command of commands) {
        const result = spawnSync(command[0]!, command.slice(1), { encoding: 'utf8' });
        if (result.status !== 0) {
          throw new Error(`\`${command.join(' ')}\` failed: ${(result.stderr || result.error?.message || `exit ${result.status}`).trim().split('\n')[0]}`);
        }
      }
      process.stderr.write(`paracord-node: enabled and started ${UNIT_NAME} (logs: journalctl --user -u ${UNIT_NAME}); to start it at boot before you log in: ${linger}\n`);
    });
  requireSubcommand(service);
}
