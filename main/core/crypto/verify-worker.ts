/**
 * Worker thread of the crypto pool (verify-pool.ts): verifies a packed chunk of ed25519
 * signatures (verify-chunk.ts) and answers with one byte per item, 1 for valid; signs a packed
 * chunk of messages with a key it was given and answers with signature · SHA-256 per item.
 * Says `{ready: true}` once loaded.
 */
import { hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import sodium from 'sodium-native';
import { HASH_BYTES, SIGNATURE_BYTES, forEachMessageToSign, forEachPackedItem } from './verify-chunk.ts';

/** Secret keys by key id, in libsodium's guarded memory (as on the main thread). */
const keys = new Map<string, Buffer>();

type Message =
  | { key: string; secretKey: Uint8Array }
  | { id: number; kind: 'verify' | 'sign'; keyId?: string; count: number; packed: Uint8Array };

parentPort!.on('message', (message: Message) => {
  if ('key' in message) {
    const secretKey = sodium.sodium_malloc(sodium.crypto_sign_SECRETKEYBYTES);
    secretKey.set(message.secretKey);
    message.secretKey.fill(0);
    keys.set(message.key, secretKey);
    return;
  }
  const chunk = message;
  if (chunk.kind === 'sign') {
    const secretKey = keys.get(chunk.keyId ?? '');
    if (!secretKey) {
      // Cannot happen (the pool sends the key first, on the same port); the pool signs these itself.
      parentPort!.postMessage({ id: chunk.id, results: new Uint8Array(0) });
      return;
    }
    const results = new Uint8Array(chunk.count * (SIGNATURE_BYTES + HASH_BYTES));
    const out = Buffer.from(results.buffer);
    forEachMessageToSign(chunk.packed, chunk.count, (toSign, index) => {
      const at = index * (SIGNATURE_BYTES + HASH_BYTES);
      sodium.crypto_sign_detached(out.subarray(at, at + SIGNATURE_BYTES), toSign, secretKey);
      out.set(hash('sha256', toSign, 'buffer'), at + SIGNATURE_BYTES);
    });
    parentPort!.postMessage({ id: chunk.id, results }, [results.buffer]);
    return;
  }
  const results = new Uint8Array(chunk.count);
  forEachPackedItem(chunk.packed, chunk.count, (signature, publicKey, toVerify, index) => {
    results[index] = sodium.crypto_sign_verify_detached(signature, toVerify, publicKey) ? 1 : 0;
  });
  parentPort!.postMessage({ id: chunk.id, results }, [results.buffer]);
});

// Loaded: the pool sends chunks from now on (until then it verifies on its own thread rather than
// leave them waiting for this thread's start-up, ~100 ms and more on a slow machine: issue #17).
parentPort!.postMessage({ ready: true });
