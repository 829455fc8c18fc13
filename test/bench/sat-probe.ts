/**
 * Development probe (issue #36 goal 4): two real nodes at saturation, A's client sending over the
 * admin stream with COUNT messages, at most INFLIGHT awaiting their answer (the Prosody
 * comparison's workload). Prints msg/s, each thread's CPU µs per message on A and B and how busy
 * the machine's two cores were (from /proc/stat) over the run.
 *
 *   node --experimental-strip-types --no-warnings test/bench/sat-probe.ts [count] [inflight]
 *
 * PROBE_RSS=1: both nodes' RSS (anonymous and file-backed) at 1–25 s after the run; PROBE_THREADS=1
 * adds A's thread names. PROBE_LOG=<regexp>: the lines of both nodes' logs it matches, after the
 * run (with PARACORD_LOG_LEVEL=debug: `memory|code_pages` shows each idle trim). PROBE_WARMUP=N, PROBE_PAUSE_MS=M: N messages
 * before the run (300), then M ms of quiet (500); 51 and 0 are the Prosody comparison's.
 */
import { readdirSync, readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { cpuByThread, cpuPerUnit, peeredPair, watchRoomEvents } from './bench-nodes.ts';

const count = Number(process.argv[2] ?? 10_000);
const inFlight = Number(process.argv[3] ?? 256);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const machine = () => {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3]! + f[4]!, total: f.reduce((s, x) => s + x, 0) };
};
const { a, b, roomId } = await peeredPair();
try {
  let received = 0;
  let lastAt = 0;
  const stop = await watchRoomEvents(b, (_id, at) => {
    received++;
    lastAt = Math.max(lastAt, at);
  });
  const ws = new WebSocket(`${a.ready.admin_url.replace(/^http/, 'ws')}/_paracord/admin/v1/stream`, { headers: { authorization: `Bearer ${a.adminToken}` } });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const waiting = new Map<number, () => void>();
  ws.on('message', (data) => {
    const answer = JSON.parse(String(data)) as { id: number; ok: boolean; error?: string };
    if (!answer.ok) throw new Error(`send failed: ${answer.error}`);
    waiting.get(answer.id)?.();
    waiting.delete(answer.id);
  });
  const send = (i: number) =>
    new Promise<void>((resolve) => {
      waiting.set(i, resolve);
      ws.send(JSON.stringify({ id: i, op: 'sendMessage', input: { room_id: roomId, body: `m ${i}` } }));
    });
  const warmUp = Number(process.env.PROBE_WARMUP ?? 300);
  for (let i = 0; i < warmUp; i++) await send(-1 - i);
  while (received < warmUp) await sleep(5);
  await sleep(Number(process.env.PROBE_PAUSE_MS ?? 500));
  received = 0;
  const a0 = cpuByThread(a.child.pid!);
  const b0 = cpuByThread(b.child.pid!);
  const m0 = machine();
  const c0 = process.cpuUsage();
  const started = performance.now();
  const pending = new Set<Promise<void>>();
  for (let i = 0; i < count; i++) {
    const p = send(i);
    pending.add(p);
    void p.then(() => pending.delete(p));
    if (pending.size >= inFlight) await Promise.race(pending);
  }
  await Promise.all(pending);
  while (received < count) await sleep(2);
  const m1 = machine();
  const a1 = cpuByThread(a.child.pid!);
  const b1 = cpuByThread(b.child.pid!);
  const c = process.cpuUsage(c0);
  const busy = 1 - (m1.idle - m0.idle) / (m1.total - m0.total);
  console.log(`${count} messages, ${inFlight} in flight: ${(count / ((lastAt - started) / 1000)).toFixed(0)} msg/s; cores busy ${(busy * 100).toFixed(0)} %; client ${((c.user + c.system) / count).toFixed(0)} µs`);
  console.log(`A: ${cpuPerUnit(a0, a1, count)}`);
  console.log(`B: ${cpuPerUnit(b0, b1, count)}`);
  if (process.env.PROBE_DELIVERIES) {
    // With PARACORD_LOG_LEVEL=debug: A's deliveries during the run (events per request, ms each).
    const lines = a.stderr.split('\n').filter((l) => l.includes('"event":"delivered"')).map((l) => JSON.parse(l) as { count: number; ms: number; time: string }).map((l) => ({ ...l, at: Date.parse(l.time) }));
    const inRun = lines.filter((l) => l.at - performance.timeOrigin >= started);
    const span = (inRun.at(-1)!.at - inRun[0]!.at) / 1000;
    const busy = inRun.reduce((s, l) => s + l.ms, 0) / 1000;
    console.log(`A's requests to B: ${inRun.length}, ${(count / inRun.length).toFixed(0)} events each on average, ${((busy / span) * 100).toFixed(0)} % of the run with one in flight; sizes ${inRun.map((l) => l.count).slice(0, 40).join(' ')}; ms ${inRun.map((l) => l.ms).slice(0, 40).join(' ')}`);
  }
  if (process.env.PROBE_RSS) {
    // Both nodes' RSS (MB) at these seconds after the run, as the idle trim and the workers' ends give memory back.
    const field = (pid: number, name: string) => (Number(new RegExp(`${name}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024).toFixed(1);
    const rss = (pid: number) => `${field(pid, 'VmRSS')} (anon ${field(pid, 'RssAnon')}, file ${field(pid, 'RssFile')})`;
    const t0 = performance.now();
    for (const at of [1, 2, 3, 4, 6, 8, 10, 12, 15, 25]) {
      await sleep(at * 1000 - (performance.now() - t0));
      console.log(`+${at} s: RSS A ${rss(a.child.pid!)} MB, B ${rss(b.child.pid!)} MB; threads A ${readFileSync(`/proc/${a.child.pid}/status`, 'utf8').match(/Threads:\s+(\d+)/)?.[1]}${process.env.PROBE_THREADS ? ` ${readdirSync(`/proc/${a.child.pid}/task`).map((t) => readFileSync(`/proc/${a.child.pid}/task/${t}/comm`, 'utf8').trim()).join(',')}` : ''}`);
    }
  }
  if (process.env.PROBE_LOG) {
    // What each node logged after the run about memory and its threads (PARACORD_LOG_LEVEL=debug).
    for (const [name, node] of [['A', a], ['B', b]] as const) {
      for (const line of readFileSync(`${node.dataDir}/logs/node.log`, 'utf8').split('\n')) {
        if (new RegExp(process.env.PROBE_LOG).test(line)) console.log(name, line.slice(0, 300));
      }
    }
  }
  stop();
  ws.close();
} finally {
  await Promise.all([a.stop().catch(() => undefined), b.stop().catch(() => undefined)]);
}
