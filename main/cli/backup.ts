/**
 * `backup`, `restore` and `verify-backup` (README "Keep it running").
 *
 * `backup` always works from its own, second connection to the database (SQLite online backup
 * in WAL mode), whether the node runs or not: it needs no admin API, and the archive can go
 * where the service itself may not write (the systemd unit only lets the node write its data
 * folder). Run it as the user the node runs as, so the database files keep their owner.
 */
import { Command, Option } from 'commander';
import { dataDirPaths } from '../core/data-dir.ts';
import { createBackup } from '../core/backup/create.ts';
import { restoreBackup, verifyBackup } from '../core/backup/restore.ts';
import { readPassphraseFile } from '../core/backup/passphrase-file.ts';
import { IN_THE_CLEAR, recordBackupInDatabase } from '../core/backup/records.ts';
import type { Manifest } from '../core/backup/archive.ts';
import { dataOption, printJson, say } from './common.ts';


function summary(manifest: Manifest): Record<string, unknown> {
  return {
    server_name: manifest.server_name,
    key_id: manifest.key_id,
    created_at: manifest.created_at,
    encrypted: manifest.encrypted,
    node_version: manifest.node_version,
    files: manifest.files.map((f) => f.path),
  };
}

export function register(program: Command): void {
  program
    .command('backup')
    .description('write a consistent backup of the data directory (works while the node runs); prints {file, size, server_name, key_id, ...}')
    .addOption(dataOption())
    .addOption(new Option('--out <file>', 'the backup file to write (an existing file only if it is a Paracord backup, replaced once the new one is complete)').makeOptionMandatory())
    .addOption(new Option('--passphrase-file <file>', 'encrypt the backup with the passphrase in this file (its first line)'))
    .action(async (opts: { data: string; out: string; passphraseFile?: string }) => {
      const passphrase = opts.passphraseFile ? readPassphraseFile(opts.passphraseFile) : null;
      const result = await createBackup({ dataDir: opts.data, out: opts.out, passphrase });
      // Said once the backup exists (a refused backup gets its one error line only).
      if (!passphrase) {
        say(`warning: no --passphrase-file: ${result.file} ${IN_THE_CLEAR}; keep it as safe as the data folder`);
      }
      for (const warning of result.warnings) say(`warning: ${warning}`);
      try {
        recordBackupInDatabase(dataDirPaths(opts.data).database, result.manifest.created_at, result.file, result.manifest.encrypted);
      } catch (error) {
        say(`warning: the backup is written, but its time could not be recorded for the dashboard (${(error as Error).message})`);
      }
      printJson({ file: result.file, size: result.size, ...summary(result.manifest) });
    });

  program
    .command('restore')
    .description('restore a backup into a new, empty data directory; the node then starts with the same identity and rooms')
    .addOption(new Option('--data <dir>', 'the data directory to create (must not exist, or be empty)').env('PARACORD_DATA').makeOptionMandatory())
    .addOption(new Option('--in <file>', 'the backup file').makeOptionMandatory())
    .addOption(new Option('--passphrase-file <file>', 'the passphrase of an encrypted backup (its first line)'))
    .action((opts: { data: string; in: string; passphraseFile?: string }) => {
      const passphrase = opts.passphraseFile ? readPassphraseFile(opts.passphraseFile) : null;
      const manifest = restoreBackup({ dataDir: opts.data, input: opts.in, passphrase });
      printJson({ restored: dataDirPaths(opts.data).root, ...summary(manifest) });
      say(`restored ${manifest.server_name}; start it with: paracord-node serve --data ${opts.data} (peers resend what it missed, and it catches up its rooms)`);
    });

  program
    .command('verify-backup')
    .description('check a backup file completely (checksums, format, passphrase) without writing anything')
    .addOption(new Option('--in <file>', 'the backup file').makeOptionMandatory())
    .addOption(new Option('--passphrase-file <file>', 'the passphrase of an encrypted backup (its first line)'))
    .action((opts: { in: string; passphraseFile?: string }) => {
      const passphrase = opts.passphraseFile ? readPassphraseFile(opts.passphraseFile) : null;
      printJson({ ok: true, ...summary(verifyBackup(opts.in, passphrase)) });
    });
}
