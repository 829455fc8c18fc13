/**
 * The federation listener's TLS certificate: the owner's own (cert + key files), or a
 * self-signed one generated on first start whose fingerprint peers pin through invite links
 * (home servers rarely have a CA-signed certificate: docs/PROTOCOL.md §Peering links and pinning).
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { fsReason } from '../util/fs-reason.ts';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** SHA-256 fingerprint, uppercase hex pairs separated by colons. */
  fingerprint256: string;
  selfSigned: boolean;
}

export async function ensureSelfSignedCertificate(certFile: string, keyFile: string, serverName: string, tlsDir: string): Promise<TlsMaterial> {
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
    const host = serverName.split(':')[0]!;
    const altNames: Array<{ type: 2; value: string } | { type: 7; ip: string }> = [
      isIP(host) ? { type: 7 as const, ip: host } : { type: 2 as const, value: host },
      { type: 2, value: 'localhost' },
      { type: 7, ip: '127.0.0.1' },
    ];
    const notAfter = new Date();
    notAfter.setFullYear(notAfter.getFullYear() + 10);
    // Loaded only here: the certificate is made once, and the library is large (idle RSS).
    const { default: selfsigned } = await import('selfsigned');
    const pems = await selfsigned.generate([{ name: 'commonName', value: host }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notAfterDate: notAfter,
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames },
      ],
    });
    writeFileAtomic(keyFile, pems.private);
    writeFileAtomic(certFile, pems.cert, 0o644);
  }
  return loadCertificate(certFile, keyFile, true);
}

/** How the two files are named in errors: the CLI names its options, the node what they are. */
export interface CertificateNames {
  cert: string;
  key: string;
}

const STORED_NAMES: CertificateNames = { cert: 'the TLS certificate', key: 'the TLS private key' };

function readPem(file: string, name: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`${name} ${file}: cannot read it: ${fsReason(error)}`, { cause: error });
  }
}

/**
 * Reads a certificate and its private key, in words when they are missing, unreadable, not PEM
 * or not a pair (Node's own errors were "ENOENT: …, open '/x'" or "error:0480006C:PEM routines::no start line").
 */
export function loadCertificate(certFile: string, keyFile: string, selfSigned: boolean, names: CertificateNames = STORED_NAMES): TlsMaterial {
  const cert = readPem(certFile, names.cert);
  const key = readPem(keyFile, names.key);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new Error(`${names.cert} ${certFile} is not a PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new Error(`${names.key} ${keyFile} is not a PEM private key (-----BEGIN PRIVATE KEY-----), or it is encrypted`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new Error(`${names.key} ${keyFile} is not the private key of ${names.cert} ${certFile}`);
  return { cert, key, fingerprint256: x509.fingerprint256, selfSigned };
}
