/**
 * What the goals of issue #36 leave room for on this machine, measured in the same run as the
 * comparison (printed under its table; no target, nothing asserted).
 *
 * - Signatures: every message is signed once by the sending node and verified once by the
 *   receiving node (plus one request signature per delivery request, shared by a batch). Their
 *   cost per message on one core, beside Prosody's whole CPU per message (both servers and both
 *   clients), says how much of Prosody's budget the signatures alone take, and the most this
 *   machine could carry if nothing else cost anything.
 * - Memory: the idle RSS of a Node.js process that loads only this stack's runtime (an HTTP
 *   server, better-sqlite3 with a database open, sodium-native) and none of our code, beside
 *   Prosody's idle RSS: the floor under goal 5 (idle RSS <= 75 MB).
 */
import { spawn } from 'node:child_process';
import { keyPairFromSeed, randomSeed, sign, verify } from '../../../main/core/crypto/ed25519.ts';
import { REPO_ROOT } from '../../helpers/node-process.ts';

export interface Floors {
  signUs: number;
  verifyUs: number;
  bareNodeRssMb: number;
}

/**
 * µs per call of `run` on one core, the best of five rounds of `ms` / 5 each (a round another
 * process interrupted says nothing about the machine). Also the benchmark's verify ceiling.
 */
export function bestUs(run: () => void, ms: number): number {
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    let count = 0;
    const started = performance.now();
    while (performance.now() - started < ms / 5) {
      for (let i = 0; i < 100; i++) run();
      count += 100;
    }
    best = Math.min(best, ((performance.now() - started) * 1000) / count);
  }
  return best;
}

/** VmRSS of a Node.js process with only the stack's runtime loaded, after it idled for `idleMs`. */
function bareNodeRssMb(idleMs: number): Promise<number> {
  const program = `
    const http = require('node:http');
    const Database = require('better-sqlite3');
    const sodium = require('sodium-native');
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (x)');
    const key = Buffer.alloc(sodium.crypto_sign_SECRETKEYBYTES);
    sodium.crypto_sign_keypair(Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES), key);
    const server = http.createServer((_req, res) => res.end('ok'));
    server.listen(0, '127.0.0.1', () => setTimeout(() => {
      const kb = Number(/VmRSS:\\s+(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]);
      process.stdout.write(String(kb / 1024));
      server.close();
      db.close();
    }, ${idleMs}));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', program], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`bare node exited ${code}`))));
  });
}

export async function measureFloors(quick: boolean): Promise<Floors> {
  const pair = keyPairFromSeed(randomSeed());
  const message = Buffer.alloc(330, 'x'); // the signed bytes of a short chat message's envelope
  const signature = sign(message, pair.secretKey);
  const ms = quick ? 200 : 1_000;
  const signUs = bestUs(() => sign(message, pair.secretKey), ms);
  const verifyUs = bestUs(() => verify(signature, message, pair.publicKey), ms);
  return { signUs, verifyUs, bareNodeRssMb: await bareNodeRssMb(quick ? 500 : 3_000) };
}

export interface SideCpu { saturation: number; cpuSaturationUs: number; receiverCpuUs: number; clientCpuUs: number; idleRssMb?: number; p50?: number; p99?: number; cpuLowRateUs?: number }

/** The lines printed under the comparison's table, and the rows recorded. */
export function explainFloors(floors: Floors, paracord: SideCpu, prosody: SideCpu, cores: number, bare?: SideCpu): { lines: string[]; rows: Array<{ name: string; value: number; unit: string }> } {
  const crypto = floors.signUs + floors.verifyUs;
  const prosodyWhole = prosody.cpuSaturationUs + prosody.receiverCpuUs + prosody.clientCpuUs;
  const ours = paracord.cpuSaturationUs + paracord.receiverCpuUs + paracord.clientCpuUs;
  // At Prosody's rate, the machine's cores give each message this much CPU in all.
  const budgetAtParity = (cores * 1e6) / prosody.saturation;
  const cryptoOnlyRate = (cores * 1e6) / crypto;
  const lines = [
    `  What the goals leave room for on this machine (same run):`,
    `  - signatures: ${floors.signUs.toFixed(0)} µs to sign + ${floors.verifyUs.toFixed(0)} µs to verify = ${crypto.toFixed(0)} µs per message, ${((100 * crypto) / prosodyWhole).toFixed(0)} % of the ${prosodyWhole.toFixed(0)} µs Prosody spends on the whole path (both servers, both clients); with nothing else costing anything, ${cores} cores would carry ${Math.round(cryptoOnlyRate).toLocaleString('en')} msg/s = ${(cryptoOnlyRate / prosody.saturation).toFixed(2)}× Prosody`,
    `  - saturation ≥ 0.5× Prosody (goal 4) leaves ${(2 * budgetAtParity).toFixed(0)} µs of CPU per message for both nodes and both clients (parity would leave ${budgetAtParity.toFixed(0)} µs), ${Math.max(0, 2 * budgetAtParity - crypto).toFixed(0)} µs of it for everything but the signatures; today the Paracord side spends ${ours.toFixed(0)} µs, ${Math.max(0, ours - crypto).toFixed(0)} µs of it on everything but the signatures`,
    `  - memory: a Node.js process with only this stack's runtime loaded (HTTP server, better-sqlite3, sodium-native; none of our code) idles at ${floors.bareNodeRssMb.toFixed(1)} MB = ${prosody.idleRssMb ? (floors.bareNodeRssMb / prosody.idleRssMb).toFixed(2) : '?'}× Prosody's idle RSS; goal 5 (≤ 75 MB) leaves ${(75 - floors.bareNodeRssMb).toFixed(1)} MB for the whole application`,
  ];
  // Goal 3 at 200/s: what the same three hops cost two Node.js processes that do nothing else.
  const times = (ours: number | undefined, theirs: number | undefined) => (ours !== undefined && theirs ? `${(ours / theirs).toFixed(2)}×` : '?');
  if (bare) {
    lines.push(
      `  - the runtime at a low rate: two bare Node.js processes relaying each message over the same three hops (WebSocket in, one HTTP request between them, Server-Sent Events out; no storage, signatures or checks): ` +
        `p50 ${bare.p50?.toFixed(2)} ms = ${times(bare.p50, prosody.p50)} Prosody's, p99 ${bare.p99?.toFixed(2)} ms = ${times(bare.p99, prosody.p99)} (goal 3: ours ≤ 2× Prosody's), ` +
        `the sending process's CPU ${bare.cpuLowRateUs?.toFixed(0)} µs per message = ${times(bare.cpuLowRateUs, prosody.cpuLowRateUs)} Prosody's sending server (goal 3: ours ≤ 1.5× this, and our p50 ≤ 2× this p50); ` +
        `at saturation ${Math.round(bare.saturation).toLocaleString('en')} msg/s = ${times(bare.saturation, prosody.saturation)} Prosody, the sending process ${bare.cpuSaturationUs.toFixed(0)} µs per message`,
    );
  }
  const bareRows = bare
    ? [
        { name: 'floor: bare Node.js relay, latency at 200 msg/s p50', value: bare.p50 ?? NaN, unit: 'ms' },
        { name: 'floor: bare Node.js relay, latency at 200 msg/s p99', value: bare.p99 ?? NaN, unit: 'ms' },
        { name: 'floor: bare Node.js relay, sending process CPU per message at 200 msg/s', value: bare.cpuLowRateUs ?? NaN, unit: 'µs' },
        { name: 'floor: bare Node.js relay, saturation', value: bare.saturation, unit: 'msg/s' },
      ]
    : [];
  const rows = [
    ...bareRows,
    { name: 'floor: ed25519 sign + verify per message (one core)', value: crypto, unit: 'µs' },
    { name: 'floor: Prosody whole-path CPU per message (both servers, both clients)', value: prosodyWhole, unit: 'µs' },
    { name: 'floor: Paracord whole-path CPU per message (both nodes, both clients)', value: ours, unit: 'µs' },
    { name: 'floor: saturation if only the signatures cost CPU, ratio to Prosody', value: cryptoOnlyRate / prosody.saturation, unit: 'x' },
    { name: 'floor: idle RSS of Node.js with only the stack runtime', value: floors.bareNodeRssMb, unit: 'MB' },
  ];
  return { lines, rows };
}
