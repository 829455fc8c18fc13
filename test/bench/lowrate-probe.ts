/**
 * Development probe (issue #17): where two nodes' CPU goes per message at a steady low rate, and
 * which messages were slow. Two real nodes over plain HTTP; A's user sends single messages
 * (`POST /rooms/{room}/messages`) at RATE per second for SECONDS; B's client listens on its event
 * stream. Prints the latency p50/p99, the CPU µs per message of each thread (by name) of A
 * and of B and of each process by the scheduler's run time (schedstat) beside the ticks, the
 * context switches per message of each thread, both nodes' garbage collections during the run (by
 * kind, from their `/metrics`) and RSS at the end, and the probe's own
 * event-loop stalls (so a slow message is not blamed on the nodes when the probe itself stalled).
 *
 *   node --no-warnings test/bench/lowrate-probe.ts [rate] [seconds]
 *
 * after `npm run build`. Environment:
 * - PARACORD_NODE_FLAGS: V8/Node flags for both nodes (e.g. `--cpu-prof --cpu-prof-dir=DIR`);
 * - PROBE_SLOW=ms: lists the messages slower than that (send time into the run: latency, and with
 *   PROBE_STREAM how long A took to answer the send: a stall of A shows in both);
 * - PROBE_STREAM=1: A's client sends over the admin stream (one WebSocket frame per message, as
 *   `npm run bench -- --vs prosody` does) instead of one HTTP request per message;
 * - PROBE_WARM=n: warm-up messages before the run (default 300, one at a time 5 ms apart);
 * - PROBE_BURST=n: n messages pipelined right before the run; once B's stream has them all,
 *   PROBE_BURST_GAP ms (500) before the run starts;
 * - PROBE_CLOCK=1: prints the run's start on the monotonic clock (µs), the clock of CPU profiles;
 * - PROBE_STRACE=file: traces A's system calls during the run into that file (`strace -f`, with
 *   PROBE_STRACE_ARGS or `-c`: a count per call; e.g. `-tt -e trace=pwrite64,fdatasync` for each);
 * - PROBE_GREP=regexp: prints both nodes' log lines (JSON on stderr) that match, from 1 s before
 *   the run to 2 s into it (with PARACORD_LOG_LEVEL=debug for the debug lines).
 */
import { spawn } from 'node:child_process';
import { request } from 'undici';
import WebSocket from 'ws';
import type { NodeProcess } from '../helpers/node-process.ts';
import { cpuByThread, cpuPerUnit, enc, peeredPair, percentile, rssMb, runNs, switchesByThread, switchesPerUnit, watchRoomEvents } from './bench-nodes.ts';

const rate = Number(process.argv[2] ?? 200);
const seconds = Number(process.argv[3] ?? 10);
const warmUp = Number(process.env.PROBE_WARM ?? 300);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A node's garbage collections so far by kind, from its `/metrics` (prom-client's GC histogram). */
async function gcPauses(node: NodeProcess): Promise<Map<string, { count: number; seconds: number; over10ms: number }>> {
  const text = await (await fetch(`${node.ready.admin_url}/metrics`, { headers: { authorization: `Bearer ${node.adminToken}` } })).text();
  const byKind = new Map<string, { count: number; seconds: number; over10ms: number }>();
  const entry = (kind: string) => byKind.get(kind) ?? byKind.set(kind, { count: 0, seconds: 0, over10ms: 0 }).get(kind)!;
  for (const m of text.matchAll(/^nodejs_gc_duration_seconds_(count|sum)\{kind="(\w+)"\} ([0-9.e+-]+)$/gm)) {
    if (m[1] === 'count') entry(m[2]!).count = Number(m[3]);
    else entry(m[2]!).seconds = Number(m[3]);
  }
  for (const m of text.matchAll(/^nodejs_gc_duration_seconds_bucket\{le="0.01",kind="(\w+)"\} ([0-9.e+-]+)$/gm)) entry(m[1]!).over10ms = -Number(m[2]);
  for (const v of byKind.values()) v.over10ms += v.count;
  return byKind;
}
const { a, b, roomId } = await peeredPair();
try {
  const arrived = new Map<string, number>();
  const stop = await watchRoomEvents(b, (id, at) => arrived.set(id, at));
  const url = `${a.ready.admin_url}/_paracord/admin/v1/rooms/${enc(roomId)}/messages`;
  const headers = { authorization: `Bearer ${a.adminToken}`, 'content-type': 'application/json' };
  const sendHttp = async (i: number): Promise<{ id: string; at: number; ackedAt?: number }> => {
    const at = performance.now();
    const r = await request(url, { method: 'POST', headers, body: JSON.stringify({ body: `m ${i}` }) });
    const { event_id: id } = (await r.body.json()) as { event_id: string };
    return { id, at };
  };
  let send = sendHttp;
  if (process.env.PROBE_STREAM) {
    const ws = new WebSocket(`${a.ready.admin_url.replace(/^http/, 'ws')}/_paracord/admin/v1/stream`, { headers: { authorization: headers.authorization } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const waiting = new Map<number, (id: string) => void>();
    ws.on('message', (data) => {
      const answer = JSON.parse(String(data)) as { id: number; ok: boolean; result?: { event_id: string }; error?: string };
      if (!answer.ok) throw new Error(`send failed: ${answer.error}`);
      waiting.get(answer.id)?.(answer.result!.event_id);
      waiting.delete(answer.id);
    });
    send = (i: number) =>
      new Promise((resolve) => {
        const at = performance.now();
        waiting.set(i, (id) => resolve({ id, at, ackedAt: performance.now() }));
        ws.send(JSON.stringify({ id: i, op: 'sendMessage', input: { room_id: roomId, body: `m ${i}` } }));
      });
  }
  // Warm-up, then a quiet second (as a chat has).
  for (let i = 0; i < warmUp; i++) {
    await send(i);
    await sleep(5);
  }
  await sleep(1000);
  // PROBE_BURST=n: n messages pipelined (256 in flight) just before the run, then PROBE_BURST_GAP ms
  // (default 500), as the Prosody comparison's 200 msg/s phase follows its saturation phase.
  const burst = Number(process.env.PROBE_BURST ?? 0);
  if (burst > 0) {
    const inFlight = new Set<Promise<{ id: string }>>();
    const ids: string[] = [];
    for (let i = 0; i < burst; i++) {
      const p = send(1_000_000 + i);
      inFlight.add(p);
      void p.then(({ id }) => {
        ids.push(id);
        inFlight.delete(p);
      });
      if (inFlight.size >= 256) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    // As the Prosody comparison: every message of the burst on B's stream, then the gap.
    const until = performance.now() + 120_000;
    while (ids.some((id) => !arrived.has(id)) && performance.now() < until) await sleep(10);
    await sleep(Number(process.env.PROBE_BURST_GAP ?? 500));
  }
  const a0 = cpuByThread(a.child.pid!);
  const b0 = cpuByThread(b.child.pid!);
  const ra0 = runNs(a.child.pid!);
  const rb0 = runNs(b.child.pid!);
  const sa0 = switchesByThread(a.child.pid!);
  const sb0 = switchesByThread(b.child.pid!);
  const total = rate * seconds;
  const tracer = process.env.PROBE_STRACE ? spawn('strace', [...(process.env.PROBE_STRACE_ARGS ?? '-c').split(' '), '-f', '-o', process.env.PROBE_STRACE, '-p', String(a.child.pid!)], { stdio: 'ignore' }) : undefined;
  if (tracer) await sleep(500);
  const gc0 = { a: await gcPauses(a), b: await gcPauses(b) };
  // The probe's own stalls (its client receives the events and times them): gaps of a 2 ms timer.
  const stalls: Array<{ at: number; ms: number }> = [];
  let tickAt = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    if (now - tickAt > 15) stalls.push({ at: tickAt, ms: now - tickAt });
    tickAt = now;
  }, 2);
  const begun = performance.now();
  if (process.env.PROBE_CLOCK) console.log('run started at monotonic µs', Number(process.hrtime.bigint() / 1000n));
  const sends: Array<Promise<{ id: string; at: number; ackedAt?: number }>> = [];
  for (let i = 0; i < total; i++) {
    const wait = begun + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    sends.push(send(i));
  }
  const sent = await Promise.all(sends);
  const deadline = performance.now() + 30_000;
  while (sent.some((s) => !arrived.has(s.id)) && performance.now() < deadline) await sleep(10);
  if (tracer) {
    tracer.kill('SIGINT');
    await new Promise((r) => tracer.once('exit', r));
  }
  const a1 = cpuByThread(a.child.pid!);
  const b1 = cpuByThread(b.child.pid!);
  const ra1 = runNs(a.child.pid!);
  const rb1 = runNs(b.child.pid!);
  const rss = { a: rssMb(a.child.pid!), b: rssMb(b.child.pid!) };
  const sa1 = switchesByThread(a.child.pid!);
  const sb1 = switchesByThread(b.child.pid!);
  const lat = sent.filter((s) => arrived.has(s.id)).map((s) => arrived.get(s.id)! - s.at);
  console.log(`${rate}/s for ${seconds} s: ${lat.length}/${total} arrived; p50 ${percentile(lat, 50).toFixed(2)} ms, p99 ${percentile(lat, 99).toFixed(2)} ms`);
  clearInterval(ticker);
  const gc1 = { a: await gcPauses(a), b: await gcPauses(b) };
  for (const node of ['a', 'b'] as const) {
    const kinds = [...gc1[node]].map(([kind, v]) => {
      const was = gc0[node].get(kind) ?? { count: 0, seconds: 0, over10ms: 0 };
      return `${kind} ${v.count - was.count} (${((v.seconds - was.seconds) * 1000).toFixed(0)} ms, ${v.over10ms - was.over10ms} over 10 ms)`;
    });
    console.log(`${node.toUpperCase()}'s garbage collections during the run: ${kinds.join(', ') || 'none'}`);
  }
  console.log(`the probe's own event loop stalled ${stalls.length} times over 15 ms during the run${stalls.length ? `: ${stalls.map((st) => `${((st.at - begun) / 1000).toFixed(2)}s:${st.ms.toFixed(0)}`).join(' ')}` : ''}`);
  if (process.env.PROBE_SLOW) {
    const slow = sent.filter((s) => arrived.has(s.id) && arrived.get(s.id)! - s.at > Number(process.env.PROBE_SLOW));
    // With PROBE_STREAM, /n is how long A took to answer the send (stored on A): a stall on A shows there too.
    console.log(`over ${process.env.PROBE_SLOW} ms (sent at: latency${process.env.PROBE_STREAM ? '/A\'s answer' : ''}):`, slow.map((s) => `${((s.at - begun) / 1000).toFixed(2)}s:${(arrived.get(s.id)! - s.at).toFixed(0)}${s.ackedAt === undefined ? '' : `/${(s.ackedAt - s.at).toFixed(0)}`}`).join(' '));
  }
  if (process.env.PROBE_GREP) {
    const re = new RegExp(process.env.PROBE_GREP);
    for (const [name, n] of [['A', a], ['B', b]] as const) {
      for (const line of n.stderr.split('\n')) {
        if (!line.startsWith('{') || !re.test(line)) continue;
        const into = ((JSON.parse(line) as { time: number }).time - performance.timeOrigin - begun) / 1000;
        if (into > -1 && into < 2) console.log(name, `${into.toFixed(2)}s`, line.slice(0, 300));
      }
    }
  }
  console.log(`A: ${cpuPerUnit(a0, a1, total)}; run time (schedstat) ${((ra1 - ra0) / 1000 / total).toFixed(0)} µs`);
  console.log(`B: ${cpuPerUnit(b0, b1, total)}; run time (schedstat) ${((rb1 - rb0) / 1000 / total).toFixed(0)} µs`);
  console.log(`RSS at the end of the run: A ${rss.a.toFixed(1)} MB, B ${rss.b.toFixed(1)} MB`);
  console.log(`wake-ups per message: A ${switchesPerUnit(sa0, sa1, total)}; B ${switchesPerUnit(sb0, sb1, total)}`);
  stop();
} finally {
  await Promise.all([a.stop().catch(() => undefined), b.stop().catch(() => undefined)]);
}
