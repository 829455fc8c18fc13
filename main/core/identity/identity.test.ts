import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkKeysDocument } from '../federation/keys-document.ts';
import { Identity, KEY_VALIDITY_MS } from './identity.ts';
import { removeTempDirs, tempDir } from '../../../test/helpers/temp-dir.ts';

afterAll(() => removeTempDirs());

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

  it('rotates: the announced next key becomes active, the old one keeps verifying the past', () => {
    const file = join(tempDir(), 'identity.json');
    const identity = Identity.create(file, 'alpha.test');
    const first = { key_id: identity.keyId, public_key: identity.publicKeyHex };
    const announced = identity.announceNextKey();
    expect(identity.keysDocument().next_keys.map((k) => k.key_id)).toEqual([announced.key_id]);
    const rotatedAt = Date.now();
    const rotation = identity.rotate(rotatedAt);
    expect(rotation).toMatchObject({ key_id: announced.key_id, previous_key_id: first.key_id });
    const document = identity.keysDocument();
    expect(document.active_key.key_id).toBe(announced.key_id);
    expect(document.old_keys).toEqual([{ ...first, expired_at: rotatedAt, valid_until: rotatedAt }]);
    expect(checkKeysDocument(document, 'alpha.test').ok).toBe(true);
    // Persisted: a reload sees the rotation, and a second rotation without announcement works.
    const reloaded = Identity.load(file);
    expect(reloaded.keyId).toBe(announced.key_id);
    reloaded.rotate();
    expect(reloaded.keysDocument().old_keys.map((k) => k.key_id)).toEqual([announced.key_id, first.key_id]);
  });
});
