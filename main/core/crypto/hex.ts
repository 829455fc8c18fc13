const HEX = /^[0-9a-f]*$/;

/** Decodes lowercase hex of an exact byte length; null when the text is not that. */
export function decodeHex(text: string, bytes: number): Buffer | null {
  if (text.length !== bytes * 2 || !HEX.test(text)) return null;
  return Buffer.from(text, 'hex');
}

export function encodeHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
