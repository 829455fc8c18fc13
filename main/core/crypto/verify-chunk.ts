/**
 * The packed chunk the verification pool sends to a worker: one transferable buffer holding,
 * per item, signature (64 bytes) · public key (32) · message length (u32, big-endian) · message.
 */
export const SIGNATURE_BYTES = 64;
export const PUBLIC_KEY_BYTES = 32;
export const ITEM_HEADER_BYTES = SIGNATURE_BYTES + PUBLIC_KEY_BYTES + 4;
/** A chunk to sign: per item, message length (u32, big-endian) · message; answered with signature (64) · SHA-256 (32) per item. */
export const SIGN_ITEM_HEADER_BYTES = 4;
export const HASH_BYTES = 32;

/** Packs items to verify into one chunk (the layout above), in a buffer of its own (transferable). */
export function packToVerify(items: ReadonlyArray<{ signature: Uint8Array; publicKey: Uint8Array; message: Uint8Array }>): Uint8Array<ArrayBuffer> {
  let bytes = 0;
  for (const item of items) bytes += ITEM_HEADER_BYTES + item.message.length;
  const packed = new Uint8Array(bytes);
  const view = new DataView(packed.buffer);
  let at = 0;
  for (const item of items) {
    packed.set(item.signature, at);
    packed.set(item.publicKey, at + SIGNATURE_BYTES);
    view.setUint32(at + SIGNATURE_BYTES + PUBLIC_KEY_BYTES, item.message.length);
    packed.set(item.message, at + ITEM_HEADER_BYTES);
    at += ITEM_HEADER_BYTES + item.message.length;
  }
  return packed;
}

/** Packs messages to sign into one chunk (length · message each), in a buffer of its own. */
export function packToSign(items: ReadonlyArray<{ message: Uint8Array }>): Uint8Array<ArrayBuffer> {
  let bytes = 0;
  for (const item of items) bytes += SIGN_ITEM_HEADER_BYTES + item.message.length;
  const packed = new Uint8Array(bytes);
  const view = new DataView(packed.buffer);
  let at = 0;
  for (const item of items) {
    view.setUint32(at, item.message.length);
    packed.set(item.message, at + SIGN_ITEM_HEADER_BYTES);
    at += SIGN_ITEM_HEADER_BYTES + item.message.length;
  }
  return packed;
}

/** Calls `each` with views (no copies) of every item of a packed chunk. */
export function forEachPackedItem(packed: Uint8Array, count: number, each: (signature: Buffer, publicKey: Buffer, message: Buffer, index: number) => void): void {
  const buffer = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  let at = 0;
  for (let index = 0; index < count; index++) {
    const keyAt = at + SIGNATURE_BYTES;
    const lengthAt = keyAt + PUBLIC_KEY_BYTES;
    const start = at + ITEM_HEADER_BYTES;
    const length = buffer.readUInt32BE(lengthAt);
    each(buffer.subarray(at, keyAt), buffer.subarray(keyAt, lengthAt), buffer.subarray(start, start + length), index);
    at = start + length;
  }
}

/** Calls `each` with views (no copies) of every message of a packed chunk to sign. */
export function forEachMessageToSign(packed: Uint8Array, count: number, each: (message: Buffer, index: number) => void): void {
  const buffer = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  let at = 0;
  for (let index = 0; index < count; index++) {
    const length = buffer.readUInt32BE(at);
    const start = at + SIGN_ITEM_HEADER_BYTES;
    each(buffer.subarray(start, start + length), index);
    at = start + length;
  }
}
