/**
 * Worker thread of the verification pool: verifies batches of ed25519 signatures with
 * libsodium and answers with one boolean per item.
 */
import { parentPort } from 'node:worker_threads';
import sodium from 'sodium-native';

interface Batch {
  id: number;
  items: Array<{ signature: Uint8Array; message: Uint8Array; publicKey: Uint8Array }>;
}

parentPort!.on('message', (batch: Batch) => {
  const results = batch.items.map(({ signature, message, publicKey }) => {
    if (signature.length !== sodium.crypto_sign_BYTES || publicKey.length !== sodium.crypto_sign_PUBLICKEYBYTES) return false;
    return sodium.crypto_sign_verify_detached(Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength), Buffer.from(message.buffer, message.byteOffset, message.byteLength), Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength));
  });
  parentPort!.postMessage({ id: batch.id, results });
});
