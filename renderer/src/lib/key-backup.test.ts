import { describe, expect, it } from 'vitest';
import { lookAtKeyBackup } from './key-backup.ts';

const seed = 'ab'.repeat(32);
const backup = { version: 1, server_name: 'alpha.test', active: { key_id: 'ed25519:a', seed, created_at: 1 }, next: [{ key_id: 'ed25519:b', seed, created_at: 2 }], old: [] };

describe('lookAtKeyBackup', () => {
  it('knows a key backup by the fields the node checks, and says whose it is', () => {
    expect(lookAtKeyBackup(JSON.stringify(backup))).toEqual({ kind: 'backup', serverName: 'alpha.test' });
  });
  it('tells a sealed key file from a backup', () => {
    expect(lookAtKeyBackup(JSON.stringify({ ...backup, sealed_by: 'electron-safe-storage', active: { ...backup.active, seed: 'c2VhbGVkIHNlZWQgaGVyZQ==' } }))).toEqual({ kind: 'sealed', serverName: 'alpha.test' });
  });
  it('calls anything else not a backup: not JSON, other JSON, missing or bad keys', () => {
    for (const text of ['not json', '{"hello":1}', '[]', 'null', JSON.stringify({ ...backup, version: 2 }), JSON.stringify({ ...backup, server_name: '' }), JSON.stringify({ ...backup, active: undefined }), JSON.stringify({ ...backup, next: [{}] }), JSON.stringify({ ...backup, old: undefined }), JSON.stringify({ ...backup, active: { ...backup.active, seed: 'xyz' } })]) {
      expect(lookAtKeyBackup(text), text).toEqual({ kind: 'other' });
    }
  });
});
