/**
 * A lone message after a quiet gap (issue #36 goal 2, "a persistent link between friends' nodes"):
 * how people chat, one message after more than ten seconds of quiet. Two pairs of real nodes over
 * HTTPS, peered through an invite link (certificates pinned, as real peering does), one room each
 * hosted by the sender:
 *
 * - "10 s link": both nodes with `--keep-alive-timeout 10000`, the federation listener's timeout
 *   before the persistent link (the sender then closes its side after 8 s, the 10 s its peer
 *   says less undici's 2 s margin): what every lone message paid before;
 * - "5 min link": the defaults.
 *
 * Each round waits out a quiet gap longer than the old timeout on both pairs at once, then sends
 * one lone message on each (the pairs' order alternates), then two messages 1 s apart on each
 * (a warm connection). Per message: CPU of both nodes (every thread's run time from
 * /proc/<pid>/task/<tid>/schedstat, ns: /proc/<pid>/stat counts 10 ms ticks, coarser than one
 * message), latency from the sender's admin `POST /messages` to the event on the receiver's event
 * stream, and the connections and TLS handshakes the receiver's federation listener took (its
 * /metrics counters, read outside the measured window). Each message's window ends 300 ms after
 * its arrival (the sender's delivery has been acknowledged by then).
 */
import { NodeProcess, enc, ok, percentile, roomWith, runNs, watchRoomEvents } from './bench-nodes.ts';

interface LoneRow { name: string; value: number; unit: string; target?: string; ratio?: number; pass?: boolean }

/** The receiver's federation listener counters (node-metrics.ts). */
async function listenerCounts(n: NodeProcess): Promise<{ connections: number; handshakes: number }> {
  const text = await (await fetch(`${n.ready.admin_url}/metrics`, { headers: { authorization: `Bearer ${n.adminToken}` } })).text();
  const read = (name: string) => Number(/^(\S+) (\S+)$/m.exec(text.split('\n').find((l) => l.startsWith(`${name} `)) ?? '')?.[2] ?? NaN);
  return { connections: read('paracord_federation_connections_accepted_total'), handshakes: read('paracord_federation_tls_handshakes_total') };
}

interface Sample { aUs: number; bUs: number; ms: number; connections: number; handshakes: number }

class Pair {
  readonly a: NodeProcess;
  readonly b: NodeProcess;
  roomId = '';
  private readonly arrived = new Map<string, number>();
  private stopWatching: () => void = () => undefined;
  readonly samples: { lone: Sample[]; warm: Sample[] } = { lone: [], warm: [] };

  readonly label: string;

  constructor(label: string, args: string[]) {
    this.label = label;
    this.a = new NodeProcess({ serverName: 'a.test', args, secure: true });
    this.b = new NodeProcess({ serverName: 'b.test', args, secure: true });
  }

  async start(): Promise<void> {
    await Promise.all([this.a.start(), this.b.start()]);
    // Peered as friends peer: b redeems a's invite link; both pin the other's key and certificate.
    const { link } = await ok(this.a, 'POST', '/invites/peer', {});
    await ok(this.b, 'POST', '/invites/peer/redeem', { link });
    this.roomId = await roomWith(this.a, this.b);
    // Each node's reachability self-test after its first peer opens connections of its own: done before the measurements.
    const deadline = performance.now() + 30_000;
    while (![this.a, this.b].every((n) => n.stderr.includes('"reachability_checked"')) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    this.stopWatching = await watchRoomEvents(this.b, (id, at) => this.arrived.set(id, at));
  }

  /** Sends one message a -> b and measures it (see the file's comment). */
  async message(kind: 'lone' | 'warm' | null): Promise<void> {
    const before = kind ? await listenerCounts(this.b) : null;
    const a0 = runNs(this.a.child.pid!);
    const b0 = runNs(this.b.child.pid!);
    const t0 = performance.now();
    const { event_id: id } = await ok(this.a, 'POST', `/rooms/${enc(this.roomId)}/messages`, { body: `${kind ?? 'warm-up'} message` });
    const deadline = t0 + 30_000;
    while (!this.arrived.has(id) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    const at = this.arrived.get(id);
    await new Promise((r) => setTimeout(r, 300));
    const a1 = runNs(this.a.child.pid!);
    const b1 = runNs(this.b.child.pid!);
    if (!kind || !before) return;
    if (at === undefined) throw new Error(`${this.label}: a message did not arrive within 30 s`);
    const after = await listenerCounts(this.b);
    this.samples[kind].push({ aUs: (a1 - a0) / 1e3, bUs: (b1 - b0) / 1e3, ms: at - t0, connections: after.connections - before.connections, handshakes: after.handshakes - before.handshakes });
  }

  async stop(): Promise<void> {
    this.stopWatching();
    await Promise.all([this.a.stop().catch(() => undefined), this.b.stop().catch(() => undefined)]);
  }
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function loneBench(options: { quick: boolean; rounds?: number; gapS?: number }, record: (row: LoneRow) => void, say: (line: string) => void): Promise<void> {
  const rounds = options.rounds ?? (options.quick ? 1 : 4);
  const gapS = options.gapS ?? (options.quick ? 1 : 12);
  const pairs = [new Pair('10 s link', ['--keep-alive-timeout', '10000']), new Pair('5 min link', [])];
  try {
    await Promise.all(pairs.map((p) => p.start()));
    // Warm-up: each node's code paths and connections as a node that has talked before.
    for (let i = 0; i < 5; i++) for (const p of pairs) await p.message(null);
    say(`  (two pairs over HTTPS, pinned; ${rounds} rounds: a quiet gap of ${gapS} s, one lone message on each pair, then two 1 s apart)\n`);
    for (let round = 0; round < rounds; round++) {
      await sleep(gapS * 1000);
      const order = round % 2 === 0 ? pairs : [...pairs].reverse();
      // The second pair's lone message waits the first's few hundred ms longer: still a lone one.
      for (const p of order) await p.message('lone');
      for (let i = 0; i < 2; i++) {
        for (const p of order) {
          await sleep(1000 / order.length);
          await p.message('warm');
        }
      }
    }
    for (const p of pairs) {
      for (const kind of ['lone', 'warm'] as const) {
        const s = p.samples[kind];
        say(`  ${p.label.padEnd(10)} ${kind}: sender ${mean(s.map((x) => x.aUs)).toFixed(0)} µs, receiver ${mean(s.map((x) => x.bUs)).toFixed(0)} µs CPU a message; latency p50 ${percentile(s.map((x) => x.ms), 50).toFixed(2)} ms, max ${Math.max(...s.map((x) => x.ms)).toFixed(2)} ms; new connections ${s.reduce((n, x) => n + x.connections, 0)}, TLS handshakes ${s.reduce((n, x) => n + x.handshakes, 0)} in ${s.length} messages\n`);
      }
    }
    const [old, kept] = pairs as [Pair, Pair];
    const cpu = (p: Pair, kind: 'lone' | 'warm') => mean(p.samples[kind].map((x) => x.aUs + x.bUs));
    const p50 = (p: Pair, kind: 'lone' | 'warm') => percentile(p.samples[kind].map((x) => x.ms), 50);
    const perMessage = (p: Pair, field: 'connections' | 'handshakes') => mean(p.samples.lone.map((x) => x[field]));
    record({ name: 'lone message, 10 s link: CPU of both nodes', value: cpu(old, 'lone'), unit: 'µs', ratio: cpu(old, 'lone') / cpu(old, 'warm') });
    record({ name: 'lone message, 5 min link: CPU of both nodes', value: cpu(kept, 'lone'), unit: 'µs', ratio: cpu(kept, 'lone') / cpu(old, 'lone') });
    record({ name: 'warm message, 5 min link: CPU of both nodes', value: cpu(kept, 'warm'), unit: 'µs', ratio: cpu(kept, 'warm') / cpu(old, 'warm') });
    record({ name: 'lone message, 10 s link: latency p50', value: p50(old, 'lone'), unit: 'ms', ratio: p50(old, 'lone') / p50(old, 'warm') });
    record({ name: 'lone message, 5 min link: latency p50', value: p50(kept, 'lone'), unit: 'ms', ratio: p50(kept, 'lone') / p50(old, 'lone') });
    record({ name: 'lone message, 10 s link: TLS handshakes a message', value: perMessage(old, 'handshakes'), unit: '' });
    const handshakes = perMessage(kept, 'handshakes');
    record({ name: 'lone message, 5 min link: TLS handshakes a message', value: handshakes, unit: '', target: '= 0', pass: handshakes === 0 });
  } finally {
    await Promise.all(pairs.map((p) => p.stop()));
  }
}
