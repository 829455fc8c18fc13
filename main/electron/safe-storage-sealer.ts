/**
 * The private keys at rest in the desktop app: sealed with Electron's safeStorage (async API),
 * i.e. the OS keychain (macOS Keychain, Windows DPAPI, GNOME Keyring / KWallet). Where Linux
 * offers only `basic_text` (no keyring), sealing would be a pretence: the keys stay in a 0600
 * file and the owner is told plainly.
 */
import { safeStorage } from 'electron';
import type { KeySealer } from '../core/identity/identity.ts';

export const PLAINTEXT_KEYS_WARNING =
  'No system keychain is available, so your server\'s private key is kept in a file only your user can read (not encrypted). Install a keyring (GNOME Keyring or KWallet) and restart Paracord to protect it.';

export async function safeStorageSealer(): Promise<{ sealer?: KeySealer; warning?: string }> {
  const available = await safeStorage.isAsyncEncryptionAvailable().catch(() => false);
  const backend = process.platform === 'linux' ? safeStorage.getSelectedStorageBackend() : 'os';
  if (!available || backend === 'basic_text') return { warning: PLAINTEXT_KEYS_WARNING };
  return {
    sealer: {
      name: 'electron-safestorage',
      seal: async (seedHex) => (await safeStorage.encryptStringAsync(seedHex)).toString('base64'),
      open: async (sealed) => (await safeStorage.decryptStringAsync(Buffer.from(sealed, 'base64'))).result,
    },
  };
}
