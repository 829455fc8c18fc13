/**
 * Red team (2026-11-26; SECURITY.md "Operations", Backup and restore): scheduled backups of two
 * servers in one folder. Pruning keeps "only this server's backups" by the start of the file
 * name, `paracord-<server>-`; a server whose name continues another's with a hyphen
 * (`alpha.test` and `alpha.test-nas.example`, `home` and `home-nas`) had its backups counted as
 * the other's and removed by the other's retention. Now a backup is this server's only when
 * its whole name is `paracord-<server>-<time>.pcbak`.
 * A real in-process node, its admin API, real files.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from '../helpers/fixtures.ts';
import { eventually } from '../helpers/rooms.ts';
import { tempDir } from '../helpers/temp-dir.ts';

describe('red team: backup retention and another server\'s backups', () => {
  it('keep N removes only this server\'s older backups, not those of a server whose name starts with its name', async ({ nodes }) => {
    const alpha = await nodes.inProcess('alpha.test');
    // Another node, its backups in the same folder (a family NAS): real archives of it.
    const nas = await nodes.inProcess('alpha.test-nas.example');
    const dir = tempDir();
    // A schedule with no backup yet makes its first at once; one more run makes two.
    const firstMade = async (node: typeof alpha) => eventually(async () => expect((await node.admin('GET', '/backups')).body.last_backup_file).toEqual(expect.stringContaining(dir)), 10_000, 50);
    expect((await nas.admin('PUT', '/backups/schedule', { dir, every: 'daily', keep: 5 })).status).toBe(200);
    await firstMade(nas);
    expect((await nas.admin('POST', '/backups/run', {})).status).toBe(200);
    const nasBackups = readdirSync(dir).sort();
    expect(nasBackups).toHaveLength(2);
    for (const name of nasBackups) expect(name).toMatch(/^paracord-alpha\.test-nas\.example-\d{8}-\d{6}\.\d{3}Z\.pcbak$/);

    expect((await alpha.admin('PUT', '/backups/schedule', { dir, every: 'daily', keep: 1 })).status).toBe(200);
    await firstMade(alpha);
    expect((await alpha.admin('POST', '/backups/run', {})).status).toBe(200);
    const after = readdirSync(dir).sort();
    // alpha keeps its newest one; nas's two are still there.
    expect(after.filter((name) => !nasBackups.includes(name))).toHaveLength(1);
    for (const name of nasBackups) expect(after, name).toContain(name);
    expect(after.every((name) => !name.endsWith('.tmp'))).toBe(true);
  });
});
