/** `paracord-node init`: create the data directory, the signing identity and the admin token. */
import { Option, type Command } from 'commander';
import { dataDirPaths, ensureDataDir } from '../core/data-dir.ts';
import { lockDataDir } from '../core/data-dir-lock.ts';
import { checkServerName, dataOption, printJson } from './common.ts';

export function register(program: Command): void {
  program
    .command('init')
    .description('create the data directory, the signing identity and the admin token; prints {server_name, key_id, public_key}')
    .addOption(dataOption())
    .addOption(new Option('--server-name <name>', 'this server\'s name, e.g. paracord.example.org').env('PARACORD_SERVER_NAME').makeOptionMandatory())
    .action(async (opts: { data: string; serverName: string }) => {
      const serverName = checkServerName(opts.serverName);
      // One writer per data dir: a node running on it (or another init) is named and left alone.
      const paths = dataDirPaths(opts.data);
      ensureDataDir(paths);
      const lock = lockDataDir(paths);
      try {
        const { initDataDir } = await import('../core/node.ts'); // loaded only for this command (see serve.ts)
        const identity = await initDataDir(opts.data, serverName);
        printJson({ server_name: identity.serverName, key_id: identity.keyId, public_key: identity.publicKeyHex });
      } finally {
        lock.release();
      }
    });
}
