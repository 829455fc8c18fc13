/**
 * The federation listener's TLS certificate: the owner's own (cert + key files), or a
 * self-signed one generated on first start whose fingerprint peers pin through invite links
 * (home servers rarely have a CA-signed certificate: docs/PROTOCOL.md §Peering links and pinning).
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { writeFileAtomic } from '../util/atomic-file.ts';

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

export function loadCertificate(certFile: string, keyFile: string, selfSigned: boolean): TlsMaterial {
  const cert = readFileSync(certFile, 'utf8');
  const key = readFileSync(keyFile, 'utf8');
  return { cert, key, fingerprint256: new X509Certificate(cert).fingerprint256, selfSigned };
}
