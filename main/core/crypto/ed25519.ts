/**
 * ed25519 through libsodium (sodium-native). Keys and signatures are raw bytes here;
 * the wire uses lowercase hex (see hex.ts).
 */
import sodium from 'sodium-native';

export const PUBLIC_KEY_BYTES = sodium.crypto_sign_PUBLICKEYBYTES;
export const SEED_BYTES = sodium.crypto_sign_SEEDBYTES;
export const SIGNATURE_BYTES = sodium.crypto_sign_BYTES;

export interface SigningKeyPair {
  publicKey: Buffer;
  /** libsodium's 64-byte secret key, kept in guarded memory. */
  secretKey: Buffer;
}

export function randomSeed(): Buffer {
  const seed = sodium.sodium_malloc(SEED_BYTES);
  sodium.randombytes_buf(seed);
  return seed;
}

export function keyPairFromSeed(seed: Buffer): SigningKeyPair {
  if (seed.length !== SEED_BYTES) throw new Error(`ed25519 seed must be ${SEED_BYTES} bytes`);
  const publicKey = Buffer.alloc(PUBLIC_KEY_BYTES);
  const secretKey = sodium.sodium_malloc(sodium.crypto_sign_SECRETKEYBYTES);
  sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed);
  return { publicKey, secretKey };
}

export function sign(message: Buffer, secretKey: Buffer): Buffer {
  const signature = Buffer.alloc(SIGNATURE_BYTES);
  sodium.crypto_sign_detached(signature, message, secretKey);
  return signature;
}

export function verify(signature: Buffer, message: Buffer, publicKey: Buffer): boolean {
  if (signature.length !== SIGNATURE_BYTES || publicKey.length !== PUBLIC_KEY_BYTES) return false;
  return sodium.crypto_sign_verify_detached(signature, message, publicKey);
}
