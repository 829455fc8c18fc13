import { describe, expect, it } from 'vitest';
import { keyPairFromSeed, sign, verify } from './ed25519.ts';
import { encodeHex } from './hex.ts';
import { sha256Hex } from './sha256.ts';
import { envelopeSigningBytes, envelopeWireJson, signEnvelope, type UnsignedEnvelope } from '../federation/envelope.ts';
import { signRequestHeaders, signingString } from '../federation/request-signature.ts';
import { loadWireVectors, COPIED_VECTORS_PATH, SHARED_VECTORS_PATH } from '../../../test/helpers/vectors.ts';
import { existsSync, readFileSync } from 'node:fs';

const vectors = loadWireVectors();

function signerFromSeed(seedHex: string, keyId: string, serverName: string) {
  const pair = keyPairFromSeed(Buffer.from(seedHex, 'hex'));
  return { serverName, keyId, signHex: (m: Buffer) => encodeHex(sign(m, pair.secretKey)), pair };
}

describe('ed25519 through our wrapper', () => {
  it('reproduces RFC 8032 test 1', () => {
    const v = vectors.ed25519_rfc8032_test1;
    const pair = keyPairFromSeed(Buffer.from(v.seed_hex, 'hex'));
    expect(encodeHex(pair.publicKey)).toBe(v.public_key_hex);
    const signature = sign(Buffer.from(v.message_hex, 'hex'), pair.secretKey);
    expect(encodeHex(signature)).toBe(v.signature_hex);
    expect(verify(signature, Buffer.from(v.message_hex, 'hex'), pair.publicKey)).toBe(true);
  });

  it('rejects a flipped bit, a wrong key, and wrong lengths', () => {
    const v = vectors.ed25519_rfc8032_test1;
    const pair = keyPairFromSeed(Buffer.from(v.seed_hex, 'hex'));
    const signature = Buffer.from(v.signature_hex, 'hex');
    const tampered = Buffer.from(signature);
    tampered[0]! ^= 1;
    expect(verify(tampered, Buffer.alloc(0), pair.publicKey)).toBe(false);
    const other = keyPairFromSeed(Buffer.alloc(32, 7));
    expect(verify(signature, Buffer.alloc(0), other.publicKey)).toBe(false);
    expect(verify(signature.subarray(1), Buffer.alloc(0), pair.publicKey)).toBe(false);
    expect(verify(signature, Buffer.from('x'), pair.publicKey)).toBe(false);
  });
});

describe('event envelope (wire-v1 vector)', () => {
  const v = vectors.event;
  const signer = signerFromSeed(v.seed_hex, v.key_id, 'alpha.test');
  const unsigned = v.unsigned_envelope as unknown as UnsignedEnvelope;

  it('signs the canonical bytes of the envelope without signatures', () => {
    expect(envelopeSigningBytes(unsigned).equals(Buffer.from(v.signing_bytes_utf8, 'utf8'))).toBe(true);
    const signed = signEnvelope(unsigned, signer);
    expect(signed.signatures['alpha.test']!['ed25519:v1']).toBe(v.signature_hex);
  });

  it('serializes the wire body in the reference order, byte for byte', () => {
    const signed = signEnvelope(unsigned, signer);
    expect(Buffer.from(envelopeWireJson(signed), 'utf8').equals(Buffer.from(v.wire_body_utf8, 'utf8'))).toBe(true);
    // The signing bytes do not depend on the order the envelope arrives in.
    const reordered = JSON.parse(v.wire_body_utf8);
    expect(envelopeSigningBytes(reordered).toString('utf8')).toBe(v.signing_bytes_utf8);
  });
});

describe('request signature (wire-v1 vector)', () => {
  const v = vectors.request;
  const signer = signerFromSeed(vectors.event.seed_hex, 'ed25519:v1', 'alpha.test');

  it('hashes the raw body and builds the signing string', () => {
    expect(sha256Hex(Buffer.from(v.body_utf8, 'utf8'))).toBe(v.body_sha256_hex);
    expect(signingString(v.method, v.path, v.timestamp_ms, Buffer.from(v.body_utf8, 'utf8'))).toBe(v.signing_string);
  });

  it('produces the four headers', () => {
    const headers = signRequestHeaders(signer, v.method, v.path, Buffer.from(v.body_utf8, 'utf8'), v.timestamp_ms);
    expect(headers).toEqual(v.headers);
  });

  it('signs the GET form with the hash of the empty body', () => {
    expect(signingString('get', '/x?y=1', 5, '')).toBe(`GET\n/x?y=1\n5\n${sha256Hex('')}`);
  });
});

describe('vector copy', () => {
  it.runIf(existsSync(SHARED_VECTORS_PATH))('test/vectors matches ../shared/vectors', () => {
    expect(readFileSync(COPIED_VECTORS_PATH, 'utf8')).toBe(readFileSync(SHARED_VECTORS_PATH, 'utf8'));
  });
});
