/**
 * Worker thread of the verification pool: verifies a packed chunk of ed25519 signatures
 * (verify-chunk.ts) with libsodium and answers with one byte per item, 1 for valid. Says
 * `{ready: true}` once loaded.
 */
import { parentPort } from 'node:worker_threads';
import sodium from 'sodium-native';
import { forEachPackedItem } from './verify-chunk.ts';

parentPort!.on('message', (chunk: { id: number; count: number; packed: Uint8Array }) => {
  const results = new Uint8Array(chunk.count);
  forEachPackedItem(chunk.packed, chunk.count, (signature, publicKey, message, index) => {
    results[index] = sodium.crypto_sign_verify_detached(signature, message, publicKey) ? 1 : 0;
  });
  parentPort!.postMessage({ id: chunk.id, results }, [results.buffer]);
});

// Loaded: the pool sends chunks from now on (until then it verifies on its own thread rather than
// leave them waiting for this thread's start-up, ~100 ms and more on a slow machine: issue #17).
parentPort!.postMessage({ ready: true });
