import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { checkKeysDocument } from '../federation/keys-document.ts';
import { Identity, KEY_VALIDITY_MS, type KeySealer } from './identity.ts';
import { tempDir } from '../../../test/helpers/temp-dir.ts';

describe('Identity', () => {
  it('creates a 0600 key file and reloads the same key', () => {
    const file = join(tempDir(), 'identity.json');
    const created = Identity.create(file, 'alpha.test');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(created.keyId).toMatch(/^ed25519:[A-Za-z0-9_]{1,32}$/);
    const loaded = Identity.load(file);
    expect(loaded.keyId).toBe(created.keyId);
    expect(loaded.publicKeyHex).toBe(created.publicKeyHex);
    expect(() => Identity.create(file, 'alpha.test')).toThrow(/already exists/);
  });

  it('publishes a self-signed keys document whose valid_until moves with time', () => {
    const identity = Identity.create(join(tempDir(), 'identity.json'), 'alpha.test');
    const now = Date.now();
    const document = identity.keysDocument(now);
    expect(document.active_key.valid_until).toBe(now + KEY_VALIDITY_MS);
    expect(identity.keysDocument(now + 1000).active_key.valid_until).toBe(now + 1000 + KEY_VALIDITY_MS);
    expect(checkKeysDocument(document, 'alpha.test')).toMatchObject({ ok: true });
    expect(checkKeysDocument(document, 'beta.test')).toMatchObject({ ok: false });
    const tampered = structuredClone(document);
    tampered.active_key.valid_until += 1;
    expect(checkKeysDocument(tampered, 'alpha.test')).toMatchObject({ ok: false, reason: expect.stringContaining('self-signature') });
  });

  it('rotates: the announced next key becomes active, the old one keeps verifying the past', async () => {
    const file = join(tempDir(), 'identity.json');
    const identity = Identity.create(file, 'alpha.test');
    const first = { key_id: identity.keyId, public_key: identity.publicKeyHex };
    const announced = await identity.announceNextKey();
    expect(identity.keysDocument().next_keys.map((k) => k.key_id)).toEqual([announced.key_id]);
    const rotatedAt = Date.now();
    const rotation = await identity.rotate(rotatedAt);
    expect(rotation).toMatchObject({ key_id: announced.key_id, previous_key_id: first.key_id });
    const document = identity.keysDocument();
    expect(document.active_key.key_id).toBe(announced.key_id);
    expect(document.old_keys).toEqual([{ ...first, expired_at: rotatedAt, valid_until: rotatedAt }]);
    expect(checkKeysDocument(document, 'alpha.test').ok).toBe(true);
    // Persisted: a reload sees the rotation, and a second rotation without announcement works.
    const reloaded = Identity.load(file);
    expect(reloaded.keyId).toBe(announced.key_id);
    await reloaded.rotate();
    expect(reloaded.keysDocument().old_keys.map((k) => k.key_id)).toEqual([announced.key_id, first.key_id]);
  });

  describe('sealed at rest', () => {
    /** A real sealer (AES-256-GCM with a key of its own), standing in for the OS keychain. */
    function aesSealer(name = 'test-aes'): KeySealer & { sealedCount: number } {
      const key = randomBytes(32);
      return {
        name,
        sealedCount: 0,
        async seal(seedHex) {
          this.sealedCount++;
          const iv = randomBytes(12);
          const cipher = createCipheriv('aes-256-gcm', key, iv);
          const body = Buffer.concat([cipher.update(seedHex, 'utf8'), cipher.final()]);
          return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
        },
        async open(sealed) {
          const raw = Buffer.from(sealed, 'base64');
          const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
          decipher.setAuthTag(raw.subarray(12, 28));
          return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
        },
      };
    }

    it('seals a plaintext file on open, keeps no plaintext seed on disk, and reopens', async () => {
      const file = join(tempDir(), 'identity.json');
      const plain = Identity.create(file, 'alpha.test');
      const seed = JSON.parse(readFileSync(file, 'utf8')).active.seed as string;
      const sealer = aesSealer();
      const sealed = await Identity.open(file, sealer);
      const onDisk = readFileSync(file, 'utf8');
      expect(onDisk).not.toContain(seed);
      expect(JSON.parse(onDisk).sealed_by).toBe('test-aes');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(sealed.keyId).toBe(plain.keyId);
      expect(sealed.sealedBy).toBe('test-aes');
      const reopened = await Identity.open(file, sealer);
      expect(reopened.signHex(Buffer.from('x'))).toBe(plain.signHex(Buffer.from('x')));
    });

    it('refuses to open sealed keys without their sealer, or with another', async () => {
      const file = join(tempDir(), 'identity.json');
      Identity.create(file, 'alpha.test');
      await Identity.open(file, aesSealer());
      expect(() => Identity.load(file)).toThrow(/sealed by test-aes/);
      await expect(Identity.open(file)).rejects.toThrow(/sealed by test-aes/);
      await expect(Identity.open(file, aesSealer('other'))).rejects.toThrow(/sealed by test-aes/);
      await expect(Identity.open(file, aesSealer('test-aes'))).rejects.toThrow();
    });

    it('rotates and announces durably when sealed, and backs up in plaintext for a restore elsewhere', async () => {
      const file = join(tempDir(), 'identity.json');
      Identity.create(file, 'alpha.test');
      const sealer = aesSealer();
      const identity = await Identity.open(file, sealer);
      const next = await identity.announceNextKey();
      const rotated = await identity.rotate();
      expect(rotated.key_id).toBe(next.key_id);
      const reopened = await Identity.open(file, sealer);
      expect(reopened.keyId).toBe(next.key_id);
      expect(reopened.keysDocument().old_keys).toHaveLength(1);
      const backup = reopened.backup();
      expect(Identity.checkBackup(backup)).toEqual({ ok: true, serverName: 'alpha.test' });
      const restored = Identity.restore(join(tempDir(), 'identity.json'), backup);
      expect(restored.signHex(Buffer.from('y'))).toBe(reopened.signHex(Buffer.from('y')));
      expect(Identity.checkBackup(readFileSync(file, 'utf8'))).toMatchObject({ ok: false });
      // A backup whose name is no server name (it is said back to the user) is no backup.
      for (const name of ['x'.repeat(300), 'bad name', '<b>alpha</b>.test', '']) {
        expect(Identity.checkBackup(JSON.stringify({ ...JSON.parse(backup), server_name: name })), name.slice(0, 20)).toMatchObject({ ok: false });
      }
    });
  });
});
