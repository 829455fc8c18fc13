/**
 * What the goals of issue #36 leave room for on this machine, measured in the same run as the
 * comparison (printed under its table; no target, nothing asserted).
 *
 * - Signatures: every message is signed once by the sending node and verified once by the
 *   receiving node (plus one request signature per delivery request, shared by a batch). Their
 *   cost per message on one core, beside Prosody's whole CPU per message (both servers and both
 *   clients), says how much of Prosody's budget the signatures alone take, and the most this
 *   machine could carry if nothing else cost anything.
 * - The protocol's minimum (bare-relay.ts, `minimum`): the bare relay that also signs, checks and
 *   stores every message durably, and nothing else; goal 3's figures beside it say how much of
 *   each goal's allowance the protocol itself takes.
 * - Memory: the idle RSS of a Node.js process that loads only this stack's runtime (an HTTP
 *   server, better-sqlite3 with a database open, sodium-native) and none of our code, beside
 *   Prosody's idle RSS, and how much of it is the process's own memory (RssAnon) rather than
 *   pages of the executable and libraries (which an idle node gives back: clean-pages.ts).
 */
import { spawn } from 'node:child_process';
import { keyPairFromSeed, randomSeed, sign, verify } from '../../../main/core/crypto/ed25519.ts';
import { REPO_ROOT } from '../../helpers/node-process.ts';

export interface Floors {
  signUs: number;
  verifyUs: number;
  bareNodeRssMb: number;
  /** Of that, the process's own memory (RssAnon), without pages mapped from files. */
  bareNodePrivateMb?: number;
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

/** VmRSS and RssAnon of a Node.js process with only the stack's runtime loaded, after it idled for `idleMs`. */
function bareNodeMemory(idleMs: number): Promise<{ rss: number; private: number }> {
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
      const status = require('node:fs').readFileSync('/proc/self/status', 'utf8');
      const rss = Number(/VmRSS:\\s+(\\d+)/.exec(status)[1]);
      const own = Number(/RssAnon:\\s+(\\d+)/.exec(status)[1]);
      process.stdout.write(JSON.stringify({ rss: rss / 1024, private: own / 1024 }));
      server.close();
      db.close();
    }, ${idleMs}));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', program], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as { rss: number; private: number }) : reject(new Error(`bare node exited ${code}`))));
  });
}

export async function measureFloors(quick: boolean): Promise<Floors> {
  const pair = keyPairFromSeed(randomSeed());
  const message = Buffer.alloc(330, 'x'); // the signed bytes of a short chat message's envelope
  const signature = sign(message, pair.secretKey);
  const ms = quick ? 200 : 1_000;
  const signUs = bestUs(() => sign(message, pair.secretKey), ms);
  const verifyUs = bestUs(() => verify(signature, message, pair.publicKey), ms);
  const bare = await bareNodeMemory(quick ? 500 : 3_000);
  return { signUs, verifyUs, bareNodeRssMb: bare.rss, bareNodePrivateMb: bare.private };
}

export interface SideCpu { saturation: number; cpuSaturationUs: number; receiverCpuUs: number; clientCpuUs: number; idleRssMb?: number; idlePrivateMb?: number; p50?: number; p99?: number; cpuLowRateUs?: number }

/** The lines printed under the comparison's table, and the rows recorded. */
export function explainFloors(floors: Floors, paracord: SideCpu, prosody: SideCpu, cores: number, bare?: SideCpu, minimum?: SideCpu): { lines: string[]; rows: Array<{ name: string; value: number; unit: string }> } {
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
    `  - memory: a Node.js process with only this stack's runtime loaded (HTTP server, better-sqlite3, sodium-native; none of our code) idles at ${floors.bareNodeRssMb.toFixed(1)} MB = ${prosody.idleRssMb ? (floors.bareNodeRssMb / prosody.idleRssMb).toFixed(2) : '?'}× Prosody's idle RSS` +
      (floors.bareNodePrivateMb !== undefined
        ? `, ${floors.bareNodePrivateMb.toFixed(1)} MB of it its own memory (RssAnon; the rest are pages of the executable and libraries, which an idle node gives back: main/core/memory/clean-pages.ts)` +
          (paracord.idlePrivateMb !== undefined ? `; the node's own memory after the exchange is ${paracord.idlePrivateMb.toFixed(1)} MB = the runtime's + ${(paracord.idlePrivateMb - floors.bareNodePrivateMb).toFixed(1)} MB${prosody.idlePrivateMb ? ` (Prosody's ${prosody.idlePrivateMb.toFixed(1)} MB)` : ''}` : '')
        : `; goal 5 (≤ 75 MB) leaves ${(75 - floors.bareNodeRssMb).toFixed(1)} MB for the whole application`),
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
  // Goals 3 and 4 against what the protocol itself costs: the relay that only signs, checks and
  // stores durably (bare-relay.ts, `minimum`). Goal 3 allows our sending CPU 1.5x the bare relay's
  // and our p50 2x its p50: if the minimum alone is above that, no node keeping the protocol's
  // promises meets the goal on this machine.
  if (minimum) {
    const cpuOverBare = bare?.cpuLowRateUs ? (minimum.cpuLowRateUs ?? NaN) / bare.cpuLowRateUs : NaN;
    const p50OverBare = bare?.p50 ? (minimum.p50 ?? NaN) / bare.p50 : NaN;
    const verdict = (ratio: number, goal: number) => (Number.isNaN(ratio) ? '' : ratio > goal ? ` — above goal 3's ${goal}× already, before any of our code` : ` — under goal 3's ${goal}×`);
    lines.push(
      `  - the protocol's minimum: the same relay, A signing each message and each request and committing every message before forwarding it, B checking both signatures and committing before it streams; each flushes its WAL to disk before the frame is answered (one SQLite table, no indexes, no thread hops; nothing else): ` +
        `at 200 msg/s the sending process's CPU ${minimum.cpuLowRateUs?.toFixed(0)} µs per message = ${cpuOverBare.toFixed(2)}× the bare relay's${verdict(cpuOverBare, 1.5)}; ours is ${times(paracord.cpuLowRateUs, minimum.cpuLowRateUs)} the minimum's; ` +
        `p50 ${minimum.p50?.toFixed(2)} ms = ${p50OverBare.toFixed(2)}× the bare relay's${verdict(p50OverBare, 2)}; ours is ${times(paracord.p50, minimum.p50)}; ` +
        `p99 ${minimum.p99?.toFixed(2)} ms = ${times(minimum.p99, prosody.p99)} Prosody's (goal 3: ours ≤ 2×); ours is ${times(paracord.p99, minimum.p99)}; ` +
        `at saturation its CPU per message (sender ${minimum.cpuSaturationUs.toFixed(0)} µs, receiver ${minimum.receiverCpuUs.toFixed(0)} µs, both clients ${minimum.clientCpuUs.toFixed(0)} µs) is ${times(minimum.cpuSaturationUs + minimum.receiverCpuUs + minimum.clientCpuUs, ours)} ours, and it carries ${Math.round(minimum.saturation).toLocaleString('en')} msg/s = ${times(minimum.saturation, prosody.saturation)} Prosody (not a ceiling: each flush holds its process's one thread)`,
    );
  }
  // The same four figures of each relay, recorded under its name.
  const relayRows = (relay: string, side: SideCpu) => [
    { name: `floor: ${relay}, latency at 200 msg/s p50`, value: side.p50 ?? NaN, unit: 'ms' },
    { name: `floor: ${relay}, latency at 200 msg/s p99`, value: side.p99 ?? NaN, unit: 'ms' },
    { name: `floor: ${relay}, sending process CPU per message at 200 msg/s`, value: side.cpuLowRateUs ?? NaN, unit: 'µs' },
    { name: `floor: ${relay}, saturation`, value: side.saturation, unit: 'msg/s' },
  ];
  const bareRows = bare ? relayRows('bare Node.js relay', bare) : [];
  const minimumRows = minimum
    ? [
        ...relayRows("the protocol's minimum relay", minimum),
        ...(bare?.cpuLowRateUs ? [{ name: "floor: the protocol's minimum over the bare relay, sending CPU at 200 msg/s", value: (minimum.cpuLowRateUs ?? NaN) / bare.cpuLowRateUs, unit: 'x' }] : []),
      ]
    : [];
  const rows = [
    ...bareRows,
    ...minimumRows,
    { name: 'floor: ed25519 sign + verify per message (one core)', value: crypto, unit: 'µs' },
    { name: 'floor: Prosody whole-path CPU per message (both servers, both clients)', value: prosodyWhole, unit: 'µs' },
    { name: 'floor: Paracord whole-path CPU per message (both nodes, both clients)', value: ours, unit: 'µs' },
    { name: 'floor: saturation if only the signatures cost CPU, ratio to Prosody', value: cryptoOnlyRate / prosody.saturation, unit: 'x' },
    { name: 'floor: idle RSS of Node.js with only the stack runtime', value: floors.bareNodeRssMb, unit: 'MB' },
    ...(floors.bareNodePrivateMb !== undefined ? [{ name: 'floor: idle private memory (RssAnon) of Node.js with only the stack runtime', value: floors.bareNodePrivateMb, unit: 'MB' }] : []),
  ];
  return { lines, rows };
}
