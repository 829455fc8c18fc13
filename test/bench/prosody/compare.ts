/**
 * `npm run bench -- --vs prosody` (issue #17): the same user-to-user workload against two Debian
 * Prosody servers federating over s2s and against two Paracord nodes, on this machine, in one
 * run. User A on a.test sends chat messages to user B on b.test (over its server's admin stream,
 * one frame per message: main/core/admin/stream/); B's client counts receipts.
 *
 * Figures, for each side: saturation (messages/s from the first send to the last receipt), latency
 * p50/p99 at a steady 200 messages/s (send → receipt, both clients in this process), CPU of the
 * sending server per message (utime+stime of its process, all threads, from /proc/<pid>/stat),
 * and the sending server's RSS a few seconds after the exchange. Never asserts timings.
 */
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { NodeProcess, ok, peerBothWays, percentile, privateMb, readServerSentEvents, roomWith, rssMb } from '../bench-nodes.ts';
import { removeTempDir, tempDir } from '../../helpers/temp-dir.ts';
import { PROSODY_MISSING, SQLITE_MISSING, prosodyAvailable, prosodyVersion, sqliteStorageAvailable, startPair, type Variant } from './servers.ts';
import { XmppClient } from './xmpp-client.ts';
import { explainFloors, measureFloors } from './floors.ts';
import { startBareRelay } from './bare-relay.ts';
import { availableParallelism } from 'node:os';

export interface CompareRow { name: string; value: number; unit: string; target?: string; ratio?: number; pass?: boolean }
export interface CompareSizes { saturation: number; latencySeconds: number; archiveSaturation: number }
export const compareSizes = (quick: boolean): CompareSizes =>
  quick ? { saturation: 300, latencySeconds: 1, archiveSaturation: 200 } : { saturation: 10_000, latencySeconds: 10, archiveSaturation: 2_000 };

interface SideResult { saturation: number; cpuSaturationUs: number; receiverCpuUs: number; clientCpuUs: number; afterSenderUs: number; afterReceiverUs: number; p50?: number; p99?: number; cpuLowRateUs?: number; idleRssMb?: number; idlePrivateMb?: number; lost: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds (user + system, all threads) used so far by a process. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
}

/** What a side must provide: a sender and a way to hear receipts (body text → arrival time). */
interface Side {
  senderPid: number;
  receiverPid: number;
  /** Sends message `i`; resolves when the sender may send more (back-pressure, or HTTP reply). */
  send(i: number): Promise<void> | undefined;
  /** Called per receipt with the message index, its latency in ms and its arrival time. */
  onReceipt: (i: number, latencyMs: number, arrivedAt: number) => void;
}

async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The workload, identical for both sides. `inFlight` bounds sends awaiting their promise. */
async function workload(side: Side, sizes: { saturation: number; latencySeconds: number }, withLatency: boolean, inFlight: number): Promise<SideResult> {
  let received = 0;
  let lastAt = 0;
  const latencies: number[] = [];
  let measuringLatency = false;
  side.onReceipt = (_i, latency, arrivedAt) => {
    received++;
    lastAt = Math.max(lastAt, arrivedAt);
    if (measuringLatency) latencies.push(latency);
  };
  // Warm-up: the first message opens the server-to-server connection (and its handshake).
  await side.send(-1);
  await waitFor(() => received >= 1, 30_000, 'the warm-up message');
  for (let i = 0; i < 50; i++) await side.send(-2 - i);
  await waitFor(() => received >= 51, 30_000, 'the warm-up messages');
  received = 0;

  // Saturation: A pipelines everything (bounded in flight), B counts.
  const cpu0 = cpuSeconds(side.senderPid);
  const receiverCpu0 = cpuSeconds(side.receiverPid);
  const clientCpu0 = process.cpuUsage();
  const started = performance.now();
  const pending = new Set<Promise<void>>();
  for (let i = 0; i < sizes.saturation; i++) {
    const p = side.send(i);
    if (p) {
      pending.add(p);
      void p.then(() => pending.delete(p));
      if (pending.size >= inFlight) await Promise.race(pending);
    }
  }
  await Promise.all(pending);
  let lost = 0;
  try {
    await waitFor(() => received >= sizes.saturation, 120_000, 'the saturation receipts');
  } catch {
    lost = sizes.saturation - received;
  }
  const saturation = received / ((lastAt - started) / 1000);
  const cpuSaturationUs = ((cpuSeconds(side.senderPid) - cpu0) * 1e6) / Math.max(1, received);
  // Where else the CPU went (to tell whether the sender, the receiver or the clients set the pace).
  const receiverCpuUs = ((cpuSeconds(side.receiverPid) - receiverCpu0) * 1e6) / Math.max(1, received);
  const clientUsage = process.cpuUsage(clientCpu0);
  const clientCpuUs = (clientUsage.user + clientUsage.system) / Math.max(1, received);
  // Work the burst left for later (the node folds a burst into its search index once it pauses,
  // rooms/search-index.ts): both servers' CPU until neither used any in 100 ms (at most 5 s), counted
  // per message of the burst, shown beside the saturation figures; the next phase starts after it.
  const cpu2 = cpuSeconds(side.senderPid);
  const receiverCpu2 = cpuSeconds(side.receiverPid);
  await sleep(500);
  for (let last = cpuSeconds(side.senderPid) + cpuSeconds(side.receiverPid), waited = 0; waited < 5_000; waited += 100) {
    await sleep(100);
    const now = cpuSeconds(side.senderPid) + cpuSeconds(side.receiverPid);
    if (now - last < 0.005) break;
    last = now;
  }
  const afterSenderUs = ((cpuSeconds(side.senderPid) - cpu2) * 1e6) / Math.max(1, received);
  const afterReceiverUs = ((cpuSeconds(side.receiverPid) - receiverCpu2) * 1e6) / Math.max(1, received);
  const burst = { saturation, cpuSaturationUs, receiverCpuUs, clientCpuUs, afterSenderUs, afterReceiverUs };
  if (!withLatency) return { ...burst, lost };

  // Latency at a steady 200 messages/s.
  received = 0;
  measuringLatency = true;
  const rate = 200;
  const total = rate * sizes.latencySeconds;
  const cpu1 = cpuSeconds(side.senderPid);
  const begun = performance.now();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = begun + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    const p = side.send(1_000_000 + i);
    if (p) sends.push(p);
  }
  await Promise.all(sends);
  await waitFor(() => received >= total, 30_000, 'the latency receipts').catch(() => (lost += total - received));
  const cpuLowRateUs = ((cpuSeconds(side.senderPid) - cpu1) * 1e6) / Math.max(1, received);
  await sleep(3_000);
  const idleRssMb = rssMb(side.senderPid);
  const idlePrivateMb = privateMb(side.senderPid);
  return { ...burst, p50: percentile(latencies, 50), p99: percentile(latencies, 99), cpuLowRateUs, idleRssMb, idlePrivateMb, lost };
}

export async function prosodySide(variant: Variant, sizes: CompareSizes, withLatency: boolean): Promise<SideResult> {
  const pair = await startPair(tempDir('prosody-bench-'), variant);
  let a: XmppClient | undefined;
  let b: XmppClient | undefined;
  try {
    a = await XmppClient.login(pair.a.c2sPort, 'a', 'a.test', 'bench-a');
    b = await XmppClient.login(pair.b.c2sPort, 'b', 'b.test', 'bench-b');
    b.available();
    await sleep(100);
    const sender = a;
    const side: Side = {
      senderPid: pair.a.pid,
      receiverPid: pair.b.pid,
      send: (i) => sender.send('b@b.test', `${i} ${performance.now()}`),
      onReceipt: () => undefined,
    };
    b.onBody = (body, at) => {
      const [i, sent] = body.split(' ');
      side.onReceipt(Number(i), at - Number(sent), at);
    };
    const size = variant === 'archive' ? { saturation: sizes.archiveSaturation, latencySeconds: 0 } : sizes;
    return await workload(side, size, withLatency, 1);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- a.test log:\n${pair.a.fileLog()}${pair.a.log}\n--- b.test log:\n${pair.b.fileLog()}${pair.b.log}`, { cause: error });
  } finally {
    a?.close();
    b?.close();
    await pair.stop();
  }
}

export async function paracordSide(secure: boolean, sizes: CompareSizes, withLatency: boolean): Promise<SideResult> {
  const args = ['--max-connections-per-address', '1000'];
  const a = new NodeProcess({ serverName: 'a.test', args, secure });
  const b = new NodeProcess({ serverName: 'b.test', args, secure });
  let closeStream: (() => void) | undefined;
  let stopWatching: (() => void) | undefined;
  try {
    await Promise.all([a.start(), b.start()]);
    if (secure) {
      const { link } = await ok(a, 'POST', '/invites/peer', {});
      await ok(b, 'POST', '/invites/peer/redeem', { link });
    } else {
      await peerBothWays(a, b);
    }
    const roomId = await roomWith(a, b);
    // The client's connection to its server: the admin stream (one WebSocket, as an XMPP client
    // keeps one stream). Each message is its own frame, sent the moment it is typed; the node
    // answers each with its event id once stored, and stores the frames that arrive together in
    // one transaction (main/core/admin/stream/stream.ts).
    const ws = new WebSocket(`${a.ready.admin_url.replace(/^http/, 'ws')}/_paracord/admin/v1/stream`, { headers: { authorization: `Bearer ${a.adminToken}` } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    closeStream = () => ws.close();
    const sentAt = new Map<string, { i: number; at: number }>();
    const early = new Map<string, number>();
    const waiting = new Map<number, { i: number; at: number; done: () => void; failed: (error: Error) => void }>();
    let nextId = 0;
    const acknowledged = (eventId: string, i: number, at: number) => {
      const arrived = early.get(eventId);
      if (arrived !== undefined) {
        early.delete(eventId);
        // Seen on B before A's answer reached the client: counted now, timed at its arrival.
        side.onReceipt(i, arrived - at, arrived);
      } else sentAt.set(eventId, { i, at });
    };
    ws.on('message', (data) => {
      const answer = JSON.parse(String(data)) as { id: number; ok: boolean; result?: { event_id: string }; error?: string; message?: string };
      const m = waiting.get(answer.id);
      if (!m) return;
      waiting.delete(answer.id);
      if (!answer.ok) return m.failed(new Error(`send failed: ${answer.error} ${answer.message}`));
      acknowledged(answer.result!.event_id, m.i, m.at);
      m.done();
    });
    const side: Side = {
      senderPid: a.child.pid!,
      receiverPid: b.child.pid!,
      send: (i) =>
        new Promise<void>((done, failed) => {
          const id = nextId++;
          const at = performance.now();
          waiting.set(id, { i, at, done, failed });
          ws.send(JSON.stringify({ id, op: 'sendMessage', input: { room_id: roomId, body: `${i} ${at}` } }));
        }),
      onReceipt: () => undefined,
    };
    // B's client: the admin event stream of node b (what the UI uses).
    stopWatching = await readServerSentEvents(`${b.ready.admin_url}/_paracord/admin/v1/events`, { authorization: `Bearer ${b.adminToken}` }, (type, json, at) => {
      if (type !== 'room') return;
      const data = JSON.parse(json) as { event_id: string; event_type: string; sender: string };
      if (data.event_type !== 'm.message' || data.sender !== '@owner:a.test') return;
      const sent = sentAt.get(data.event_id);
      if (sent) {
        sentAt.delete(data.event_id);
        side.onReceipt(sent.i, at - sent.at, at);
      } else early.set(data.event_id, at);
    });
    return await workload(side, sizes, withLatency, 256);
  } finally {
    stopWatching?.();
    closeStream?.();
    await Promise.all([a.stop().catch(() => undefined), b.stop().catch(() => undefined)]);
  }
}

/**
 * The runtime's floor: two bare Node.js processes on the same three hops, no work; with
 * `minimum`, the same relay doing the protocol's minimum per message (signatures made and checked,
 * durable storage on both sides) in that folder (bare-relay.ts). Throws if B did not take every
 * message the workload sent.
 */
export async function bareRelaySide(sizes: CompareSizes, minimum?: string): Promise<SideResult> {
  const relay = await startBareRelay({ minimum });
  try {
    const result = await workload(relay.side, sizes, true, 256);
    // The warm-up's 51 messages, the saturation's and the 200/s run's.
    const expected = 51 + sizes.saturation + Math.round(200 * sizes.latencySeconds);
    const stored = await relay.stored();
    if (stored < expected - result.lost) throw new Error(`the relay's receiver took ${stored} of ${expected} messages`);
    return result;
  } finally {
    relay.stop();
  }
}

/**
 * Runs the comparison and records its rows. Returns false (after one line) when Prosody is absent.
 * Ratios are Paracord / Prosody (for msg/s higher is better; for ms, µs and MB lower is better).
 */
export async function compareWithProsody(quick: boolean, record: (row: CompareRow) => void, say: (line: string) => void): Promise<boolean> {
  if (!prosodyAvailable()) {
    say(`  ${PROSODY_MISSING}\n`);
    return false;
  }
  const sizes = compareSizes(quick);
  say(`  Prosody ${prosodyVersion()} (Debian), two servers federating over s2s on 127.0.0.1; ${sizes.saturation.toLocaleString('en')} messages at saturation, ${sizes.latencySeconds} s at 200/s\n`);
  const prosodyPlain = await prosodySide('plain', sizes, true);
  const paracordPlain = await paracordSide(false, sizes, true);
  let prosodyTls: SideResult | undefined;
  let paracordTls: SideResult | undefined;
  try {
    prosodyTls = await prosodySide('tls', sizes, false);
    paracordTls = await paracordSide(true, sizes, false);
  } catch (error) {
    say(`  (TLS variant failed: ${(error as Error).message.split('\n')[0]})\n`);
  }
  let prosodyArchive: SideResult | undefined;
  if (sqliteStorageAvailable()) {
    try {
      prosodyArchive = await prosodySide('archive', sizes, false);
    } catch (error) {
      say(`  (archive variant failed: ${(error as Error).message.split('\n')[0]})\n`);
    }
  } else say(`  ${SQLITE_MISSING}\n`);

  // Goal 4 by the median of three rounds, Prosody and Paracord alternating (this machine's speed
  // moves ±15-25 % from one minute to the next, so one pair of runs says little): the first round
  // is the pair above, two more follow, saturation only.
  const rounds: Array<{ prosody: SideResult; paracord: SideResult }> = [{ prosody: prosodyPlain, paracord: paracordPlain }];
  for (let round = 1; round < (quick ? 1 : 3); round++) {
    try {
      const prosody = await prosodySide('plain', sizes, false);
      rounds.push({ prosody, paracord: await paracordSide(false, sizes, false) });
    } catch (error) {
      say(`  (saturation round ${round + 1} failed: ${(error as Error).message.split('\n')[0]})\n`);
    }
  }
  // A round where either side carried nothing says nothing (it failed as it ran): not counted.
  const counted = rounds.filter((r) => r.paracord.saturation > 0 && r.prosody.saturation > 0);
  const roundRatios = counted.map((r) => r.paracord.saturation / r.prosody.saturation);
  const sortedRatios = [...roundRatios].sort((a, b) => a - b);
  const medianRound = counted.length > 0 ? counted[roundRatios.indexOf(sortedRatios[Math.floor((sortedRatios.length - 1) / 2)]!)]! : rounds[0]!;

  const lost = [prosodyPlain, paracordPlain, prosodyTls, paracordTls, prosodyArchive, ...rounds.slice(1).flatMap((r) => [r.prosody, r.paracord])].reduce((n, r) => n + (r?.lost ?? 0), 0);
  if (lost > 0) say(`  (!) ${lost} messages not received in time (saturation counts what arrived)\n`);

  const cpuLine = (label: string, r: SideResult | undefined) => {
    if (r) say(`  ${label.padEnd(26)} ${Math.round(r.saturation).toLocaleString('en').padStart(6)} msg/s; CPU µs per message at saturation: sending server ${r.cpuSaturationUs.toFixed(0)}, receiving server ${r.receiverCpuUs.toFixed(0)}, both clients (this process) ${r.clientCpuUs.toFixed(0)}; after it, until quiet: sending ${r.afterSenderUs.toFixed(0)}, receiving ${r.afterReceiverUs.toFixed(0)}\n`);
  };
  cpuLine('Prosody, plain', prosodyPlain);
  cpuLine('Paracord, plain', paracordPlain);
  cpuLine('Prosody, TLS', prosodyTls);
  cpuLine('Paracord, TLS', paracordTls);
  cpuLine('Prosody, SQLite archive', prosodyArchive);
  if (rounds.length > 1) {
    say(`  saturation rounds, plain (Paracord / Prosody msg/s): ${counted.map((r, i) => `${(roundRatios[i]!).toFixed(2)}× (${Math.round(r.paracord.saturation).toLocaleString('en')} / ${Math.round(r.prosody.saturation).toLocaleString('en')})`).join(', ')}${counted.length < 3 ? ` (only ${counted.length} of 3 rounds ran: the median of those)` : ''}\n`);
  }
  say(`\n  | figure | Paracord node | Prosody | ratio |\n  |---|---|---|---|\n`);
  const line = (name: string, ours: number | undefined, theirs: number | undefined, unit: string, higherIsBetter: boolean, target?: { text: string; pass: (ratio: number) => boolean }) => {
    if (ours === undefined || theirs === undefined) return;
    const ratio = ours / theirs;
    const shown = (n: number) => `${n >= 100 ? Math.round(n).toLocaleString('en') : n.toFixed(2)} ${unit}`;
    const better = higherIsBetter ? ratio >= 1 : ratio <= 1;
    const verdict = `${ratio.toFixed(2)}× (${better ? 'Paracord ahead' : 'Prosody ahead'})`;
    say(`  | ${name} | ${shown(ours)} | ${shown(theirs)} | ${verdict} |\n`);
    record({ name: `vs Prosody: ${name} (Paracord)`, value: ours, unit });
    record({ name: `vs Prosody: ${name} (Prosody)`, value: theirs, unit });
    record({ name: `vs Prosody: ${name} (ratio Paracord/Prosody)`, value: ratio, unit: 'x', ratio, ...(target ? { target: target.text, pass: target.pass(ratio) } : {}) });
  };
  // Issue #36's goals: saturation >= 0.5x Prosody plain, p99 at 200 msg/s <= 2x Prosody's; the
  // sending CPU and p50 at 200 msg/s are judged against the bare relay's (the floor) further down.
  line('saturation, plain', paracordPlain.saturation, prosodyPlain.saturation, 'msg/s', true, rounds.length === 1 ? { text: '>= 0.5', pass: (r) => r >= 0.5 } : undefined);
  if (rounds.length > 1) {
    line('saturation, plain, median of 3 alternating rounds', medianRound.paracord.saturation, medianRound.prosody.saturation, 'msg/s', true, { text: '>= 0.5', pass: (r) => r >= 0.5 });
  }
  line('saturation, TLS', paracordTls?.saturation, prosodyTls?.saturation, 'msg/s', true);
  line('latency at 200 msg/s p50', paracordPlain.p50, prosodyPlain.p50, 'ms', false);
  line('latency at 200 msg/s p99', paracordPlain.p99, prosodyPlain.p99, 'ms', false, { text: '<= 2.0', pass: (r) => r <= 2 });
  line('sending server CPU per message, saturation', paracordPlain.cpuSaturationUs, prosodyPlain.cpuSaturationUs, 'µs', false);
  line('sending server CPU per message, 200 msg/s', paracordPlain.cpuLowRateUs, prosodyPlain.cpuLowRateUs, 'µs', false);
  line('idle RSS after the exchange', paracordPlain.idleRssMb, prosodyPlain.idleRssMb, 'MB', false);
  line('idle private memory after the exchange (RssAnon)', paracordPlain.idlePrivateMb, prosodyPlain.idlePrivateMb, 'MB', false);
  if (paracordPlain.idleRssMb !== undefined) {
    say(`  idle RSS after the exchange: ${paracordPlain.idleRssMb.toFixed(1)} MB (goal <= 75 MB)\n`);
    record({ name: 'idle RSS after the exchange (Paracord, absolute)', value: paracordPlain.idleRssMb, unit: 'MB', target: '<= 75', pass: paracordPlain.idleRssMb <= 75 });
  }
  line('saturation vs Prosody with SQLite archive (mod_mam)', paracordPlain.saturation, prosodyArchive?.saturation, 'msg/s', true);
  let bare: SideResult | undefined;
  try {
    bare = await bareRelaySide(sizes);
  } catch (error) {
    say(`  (bare Node.js relay failed: ${(error as Error).message.split('\n')[0]})\n`);
  }
  if (bare) {
    // Same run: our figure over the bare relay's on the same three hops (no storage, signatures, checks).
    const overFloor = (name: string, ours: number | undefined, floor: number | undefined, unit: string, goal: number) => {
      if (ours === undefined || floor === undefined || !(floor > 0)) return;
      const ratio = ours / floor;
      say(`  ${name}: ${ours.toFixed(unit === 'µs' ? 0 : 2)} ${unit} = ${ratio.toFixed(2)}x the bare relay's ${floor.toFixed(unit === 'µs' ? 0 : 2)} ${unit} (goal <= ${goal}x)\n`);
      record({ name: `vs bare relay: ${name} (ratio Paracord/floor)`, value: ratio, unit: 'x', ratio, target: `<= ${goal}`, pass: ratio <= goal });
    };
    overFloor('sending CPU per message at 200 msg/s', paracordPlain.cpuLowRateUs, bare.cpuLowRateUs, 'µs', 1.5);
    overFloor('latency at 200 msg/s p50', paracordPlain.p50, bare.p50, 'ms', 2);
  }
  let minimum: SideResult | undefined;
  const minimumDir = tempDir('paracord-minimum-relay-');
  try {
    minimum = await bareRelaySide(sizes, minimumDir);
  } catch (error) {
    say(`  (the relay with the protocol's minimum failed: ${(error as Error).message.split('\n')[0]})\n`);
  } finally {
    removeTempDir(minimumDir);
  }
  const floors = explainFloors(await measureFloors(quick), paracordPlain, prosodyPlain, availableParallelism(), bare, minimum);
  say(`\n${floors.lines.join('\n')}\n`);
  for (const row of floors.rows) record(row);
  return true;
}
