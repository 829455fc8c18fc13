/** Setup mode's options: restore an identity backup, a public address, an own certificate — and refusals that change nothing. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, type Nodes } from '../../../../../test/helpers/fixtures.ts';
import { tempDir } from '../../../../../test/helpers/temp-dir.ts';

/** A node in setup mode (no server name yet). */
function fresh(nodes: Nodes) {
  return nodes.inProcess(undefined);
}

describe('setup', () => {
  it('restores an identity from a backup, keeping its keys', async ({ nodes }) => {
    const original = await nodes.inProcess('restored.test');
    const backup = (await original.admin('GET', '/keys/backup')).body.identity as string;
    const keyId = (await original.admin('GET', '/status')).body.key_id;
    const node = await fresh(nodes);
    const setup = await node.admin('POST', '/setup', { server_name: 'restored.test', identity_backup: backup });
    expect(setup.status).toBe(200);
    expect(setup.body).toMatchObject({ mode: 'running', server_name: 'restored.test', key_id: keyId });
  });

  it('refuses a broken backup, a backup of another server, and unusable certificate files — and stays in setup mode', async ({ nodes }) => {
    const node = await fresh(nodes);
    const other = await nodes.inProcess('other.test');
    const otherBackup = (await other.admin('GET', '/keys/backup')).body.identity as string;
    const refusals: Array<[unknown, string]> = [
      [{ server_name: 'x.test', identity_backup: 'not json' }, 'invalid_backup'],
      [{ server_name: 'x.test', identity_backup: '{"version":1}' }, 'invalid_backup'],
      [{ server_name: 'x.test', identity_backup: otherBackup }, 'invalid_backup'],
      [{ server_name: 'x.test', tls_cert_file: '/nonexistent/cert.pem', tls_key_file: '/nonexistent/key.pem' }, 'invalid_certificate'],
      [{ server_name: 'x.test', tls_cert_file: '/only/cert.pem' }, 'invalid_input'],
      [{ server_name: 'x.test', public_url: 'ftp://x' }, 'invalid_input'],
    ];
    for (const [body, error] of refusals) {
      const response = await node.admin('POST', '/setup', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.error).toBe(error);
      expect((await node.admin('GET', '/status')).body).toMatchObject({ mode: 'setup', setup_required: true });
    }
    // Another server's backup says whose it is, as a field (the setup page names the server name it needs).
    expect((await node.admin('POST', '/setup', { server_name: 'x.test', identity_backup: otherBackup })).body).toEqual({ error: 'invalid_backup', message: 'the backup is the identity of other.test, not x.test', backup_server_name: 'other.test' });
    expect((await node.admin('POST', '/setup', { server_name: 'x.test', identity_backup: 'not json' })).body).not.toHaveProperty('backup_server_name');
  });

  it('uses the public address and the own certificate given', async ({ nodes }) => {
    const { default: selfsigned } = await import('selfsigned');
    const dir = tempDir();
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'own.test' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
    writeFileSync(join(dir, 'cert.pem'), pems.cert);
    writeFileSync(join(dir, 'key.pem'), pems.private, { mode: 0o600 });
    const node = await fresh(nodes);
    const setup = await node.admin('POST', '/setup', { server_name: 'own.test', public_url: 'https://own.example.org:7447', tls_cert_file: join(dir, 'cert.pem'), tls_key_file: join(dir, 'key.pem') });
    expect(setup.status).toBe(200);
    expect(setup.body.federation.url).toBe('https://own.example.org:7447');
    // (in-process test nodes run with --insecure-http, so no certificate is served here; the CLI test covers serving one)
    const check = await node.admin('POST', '/setup/check');
    expect(check.body).toMatchObject({ reachable: false, url: 'https://own.example.org:7447' });
    expect(check.body.message).toContain('does not answer');
    // In words, with no screen that does not exist; the raw cause apart (behind "details" on the page).
    expect(check.body.message).not.toMatch(/Settings|ENOTFOUND|fetch failed|getaddrinfo/);
    expect(check.body.message).toContain('--public-url');
    expect(typeof check.body.error).toBe('string');
    expect(check.body.error.length).toBeGreaterThan(0);
  });

  it('says the server answers when its address works', async ({ nodes }) => {
    const node = await nodes.inProcess('reachable.test');
    const check = await node.admin('POST', '/setup/check');
    expect(check.body).toMatchObject({ reachable: true });
    expect(check.body.message).toContain('answers at');
    expect(check.body).not.toHaveProperty('error');
  });
});
