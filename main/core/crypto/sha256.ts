import { hash } from 'node:crypto';

/** One-shot SHA-256 (no Hash object per call: this runs for every stored event). */
export function sha256Hex(data: Uint8Array | string): string {
  return hash('sha256', data, 'hex');
}
