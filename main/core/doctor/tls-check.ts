/** The doctor's check of the federation certificate (doctor.ts): readable, matching its key, the one served, not expiring. */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type Database from 'better-sqlite3';
import type { DataDirPaths } from '../data-dir.ts';
import { note, ok, problem, warning, type CheckResult } from './check-result.ts';
import { setting } from './read-only-db.ts';

const CERT_WARNING_DAYS = 21;

export function checkTls(paths: DataDirPaths, db: Database.Database | null, servedFingerprint: string | null, federationUrl: string | null, now = Date.now()): CheckResult {
  const certFile = (db && setting(db, 'tls_cert_file')) || paths.tlsCert;
  const keyFile = (db && setting(db, 'tls_key_file')) || paths.tlsKey;
  if (!existsSync(certFile)) {
    if (federationUrl?.startsWith('http://')) return note('tls', 'Federation is served over plain HTTP (--insecure-http): for testing on a LAN only.');
    return note('tls', 'No certificate yet: the node makes a self-signed one when it starts.');
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(certFile));
  } catch (error) {
    return problem('tls', `${certFile} is not a PEM certificate (${(error as Error).message}): replace it, or delete the tls folder to get a new self-signed one (peers will need a new invite link).`);
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(readFileSync(keyFile)))) return problem('tls', `${keyFile} is not the key of ${certFile}: put the matching key there.`);
  } catch (error) {
    return problem('tls', `Cannot read the certificate key ${keyFile} (${(error as Error).message}).`);
  }
  const validTo = Date.parse(cert.validTo);
  const days = Math.floor((validTo - now) / 86400_000);
  if (validTo < now) return problem('tls', `The certificate ${certFile} expired on ${cert.validTo}: renew it, then restart the node.`);
  if (servedFingerprint && servedFingerprint !== cert.fingerprint256) {
    return warning('tls', `The node serves another certificate than ${certFile} (fingerprint ${servedFingerprint}): restart it to serve the file; peers that pinned a fingerprint need the current one (a new invite link).`);
  }
  if (days < CERT_WARNING_DAYS) return warning('tls', `The certificate ${certFile} expires in ${days} days (${cert.validTo}): renew it soon.`);
  return ok('tls', `Certificate valid until ${cert.validTo}; fingerprint ${cert.fingerprint256}${servedFingerprint ? ' (served and pinned by peers through invite links)' : ''}.`);
}
