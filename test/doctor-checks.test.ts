/**
 * Issue #18, doctor: the checks' warning and problem paths against real node processes, real
 * peers and fake peers (somebody else's server), each with a sentence on what to do.
 *  - clock skew: a peer whose Date header is 2 minutes off; a peer the node's outbound address
 *    policy refuses is never asked (docs/SECURITY.md §8);
 *  - reachability: "not tested yet" without peers; with a peer, doctor asks the node to run its
 *    self-test (POST /reachability/check) when none has run;
 *  - free disk below --min-free-mib; outbox backlog to a dead peer; TLS certificate replaced
 *    (served ≠ file) and expired.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import selfsigned from 'selfsigned';
import { describe, expect, it } from './helpers/fixtures.ts';
import { CLI } from './helpers/node-process.ts';
import { eventually, roomWithMembers, send } from './helpers/rooms.ts';

interface Check {
  check: string;
  status: 'ok' | 'warning' | 'problem' | 'note';
  message: string;
}

/** Runs `doctor --json` without blocking this process (the fake peers answer from here). */
async function doctor(dataDir: string, extra: string[] = []) {
  const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [CLI, 'doctor', '--data', dataDir, '--json', ...extra], { encoding: 'utf8', timeout: 90_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
  let checks: Check[] = [];
  try {
    checks = JSON.parse(result.stdout) as Check[];
  } catch {
    // a usage error prints no JSON
  }
  return { code: result.code, stderr: result.stderr, checks, get: (name: string) => checks.find((c) => c.check === name) };
}

describe('doctor checks', () => {
  it('clock skew: a peer 2 minutes off is a problem; a peer the address policy refuses is not asked', async ({ fileNodes }) => {
    const alpha = fileNodes.process({ serverName: 'alpha.test' });
    await alpha.start();
    const skewed = await fileNodes.fakePeer('skewed.test');
    const sneaky = await fileNodes.fakePeer('sneaky.test');
    const added = await alpha.admin('POST', '/peers', { server_name: 'skewed.test', endpoint: skewed.url });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    skewed.dateOffsetMs = 120_000;
    // A peer whose endpoint a peer named by a host name that resolves to loopback: the node never
    // connects there (SECURITY.md §8), so doctor must not either.
    const db = new Database(join(alpha.dataDir, 'paracord.db'));
    const now = Date.now();
    db.prepare("INSERT INTO federation_servers (server_name, trust, endpoint, endpoint_source, added_at, updated_at, last_seen_at) VALUES ('sneaky.test', 'allow', ?, 'peer', ?, ?, ?)").run(
      `http://localhost:${new URL(sneaky.url).port}`, now, now, now + 1,
    );
    db.close();
    sneaky.dateOffsetMs = 600_000;
    const before = skewed.requests.length;

    const result = await doctor(alpha.dataDir);
    expect(result.get('clock_skew'), result.stderr).toMatchObject({ status: 'problem', message: expect.stringMatching(/skewed\.test's clock differs by 1[12]\d s: events are refused beyond ±60 s; turn on time sync/) });
    expect(result.get('clock_skew')?.message).toContain('the node\'s address policy refuses sneaky.test');
    expect(skewed.requests.slice(before)).toContain('/_paracord/federation/v1/keys');
    expect(sneaky.requests).not.toContain('/_paracord/federation/v1/keys');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('clock_skew');

    skewed.dateOffsetMs = 30_000;
    expect((await doctor(alpha.dataDir)).get('clock_skew')).toMatchObject({ status: 'warning', message: expect.stringContaining('check time sync') });
  });

  it('reachability: "not tested yet" without peers; with one, doctor has the node run its self-test (or says when its own test ran)', async ({ fileNodes }) => {
    const gamma = fileNodes.process({ serverName: 'gamma.test', args: ['--retry-initial', '200', '--retry-max', '1000'] });
    const beta = fileNodes.process({ serverName: 'beta.test' });
    await Promise.all([gamma.start(), beta.start()]);
    // The node's own first self-test (a second after start) finds no peer.
    await eventually(async () => expect((await gamma.admin('GET', '/reachability')).body.error).toBeTruthy());
    const lonely = await doctor(gamma.dataDir);
    expect(lonely.get('reachability')).toMatchObject({ status: 'note', message: expect.stringMatching(/^Not tested yet: .*add a peer first/) });

    await gamma.addPeer(beta);
    await beta.addPeer(gamma);
    // The first peer: the node tests itself at once, which beta refuses if it comes before beta
    // added gamma; doctor has the node run the test when it holds no result, so either way it says
    // the node was reached, and when.
    const result = await doctor(gamma.dataDir);
    expect(result.get('reachability'), JSON.stringify(result.checks)).toMatchObject({ status: 'ok', message: expect.stringMatching(/^Peers can reach this node \(tested (just now|\d+ s ago) by beta\.test\)\.$/) });
    expect((await gamma.admin('GET', '/reachability')).body).toMatchObject({ reachable: true, via: 'beta.test' });

    // Outbox: beta goes down with events queued for it: a warning, a problem from --max-backlog on.
    const roomId = await roomWithMembers(gamma, 'backlog', [[beta, '@owner:beta.test']]);
    await beta.stop();
    for (let i = 0; i < 4; i++) await send(gamma, roomId, `while beta is down ${i}`);
    await eventually(async () => expect((await doctor(gamma.dataDir)).get('outbox')).toMatchObject({ status: 'warning', message: expect.stringContaining('Deliveries to beta.test (4) fail and are being retried') }), 40_000, 500);
    const backlog = await doctor(gamma.dataDir, ['--max-backlog', '3']);
    expect(backlog.get('outbox')).toMatchObject({ status: 'problem', message: expect.stringMatching(/^4 events wait for beta\.test, the oldest for \d+ s \(4 in all\): that server is down/) });
    expect(backlog.code).toBe(1);

    // Free disk under the threshold is a problem; a bad threshold is one clear line.
    const disk = await doctor(gamma.dataDir, ['--min-free-mib', String(1024 ** 3)]);
    expect(disk.get('disk_space')).toMatchObject({ status: 'problem', message: expect.stringContaining('free some space now') });
    expect(disk.stderr).toContain('disk_space');
    expect((await doctor(gamma.dataDir)).get('disk_space')?.status).not.toBe('problem');
    const bad = await doctor(gamma.dataDir, ['--min-free-mib', 'lots']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringContaining('--min-free-mib must be a positive number')]);
  });

  it('TLS: the served certificate differs from the file (warning), then the file expired (problem)', async ({ fileNodes }) => {
    const delta = fileNodes.process({ serverName: 'delta.test', secure: true });
    await delta.start();
    const certFile = join(delta.dataDir, 'tls', 'cert.pem');
    const keyFile = join(delta.dataDir, 'tls', 'key.pem');
    const first = await doctor(delta.dataDir);
    expect(first.get('tls'), JSON.stringify(first.checks)).toMatchObject({ status: 'ok', message: expect.stringContaining('served and pinned') });

    // The owner put a renewed certificate (same key) in place but did not restart the node.
    const privateKey = readFileSync(keyFile, 'utf8');
    const publicKey = createPublicKey(createPrivateKey(privateKey)).export({ type: 'spki', format: 'pem' }).toString();
    const renewed = await selfsigned.generate([{ name: 'commonName', value: 'delta.test' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256', keyPair: { privateKey, publicKey } });
    writeFileSync(certFile, renewed.cert);
    expect((await doctor(delta.dataDir)).get('tls')).toMatchObject({ status: 'warning', message: expect.stringContaining('serves another certificate') });

    // An expired certificate (with its own key).
    await delta.stop();
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const expired = await selfsigned.generate([{ name: 'commonName', value: 'delta.test' }], {
      keyType: 'ec', curve: 'P-256', algorithm: 'sha256',
      keyPair: { privateKey: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
      notBeforeDate: new Date(Date.now() - 400 * 86400_000), notAfterDate: new Date(Date.now() - 30 * 86400_000),
    });
    writeFileSync(certFile, expired.cert);
    writeFileSync(keyFile, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
    const result = await doctor(delta.dataDir);
    expect(result.get('tls')).toMatchObject({ status: 'problem', message: expect.stringMatching(/expired on .*: renew it, then restart the node/) });
    expect(result.code).toBe(1);
  });
});
