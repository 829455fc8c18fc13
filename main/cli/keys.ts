/** `paracord-node keys show|rotate|announce`: this server's signing keys. */
import type { Command } from 'commander';
import { adminCall, dataOption, printJson, requireSubcommand } from './common.ts';

export function register(program: Command): void {
  const keys = program.command('keys').description('this server\'s signing keys');
  keys
    .command('show')
    .description('print the active, announced and old keys')
    .addOption(dataOption())
    .action(async (opts: { data: string }) => printJson(await adminCall(opts.data, 'GET', '/keys')));
  keys
    .command('rotate')
    .description('switch to a new signing key; the old one keeps verifying past events')
    .addOption(dataOption())
    .action(async (opts: { data: string }) => printJson(await adminCall(opts.data, 'POST', '/keys/rotate')));
  keys
    .command('announce')
    .description('publish the next key now, so peers know it before the switch')
    .addOption(dataOption())
    .action(async (opts: { data: string }) => printJson(await adminCall(opts.data, 'POST', '/keys/announce')));
  requireSubcommand(keys);
}
