/**
 * Where an idle node's memory goes after an exchange (issue #17, goal 4): starts two real nodes
 * (plain HTTP), makes them peers, has A's user send N messages to a room B is in (admin API,
 * pipelined as in the Prosody comparison), waits until B has them all, then reads each node's
 * memory after some idle seconds: VmRSS, /proc/<pid>/smaps_rollup (anonymous vs file-backed),
 * threads, and the node's own breakdown from its metrics (V8 heap, external).
 *
 *   node --experimental-strip-types --no-warnings test/bench/memory-probe.ts [messages] [idle seconds]
 *
 * PARACORD_NODE_FLAGS passes V8 flags to the nodes (e.g. `--heapsnapshot-signal=SIGUSR2`);
 * PROBE_SNAPSHOT=1 then sends SIGUSR2 to A after the idle wait (the snapshot lands in the cwd).
 * Prints numbers, asserts nothing.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { Pool } from 'undici';
import { NodeProcess, enc, peerBothWays, roomWith, watchRoomEvents } from './bench-nodes.ts';

const total = Number(process.argv[2] ?? 20_000);
const idleSeconds = Number(process.argv[3] ?? 5);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function smaps(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (m && ['Rss', 'Anonymous', 'Shared_Clean', 'Private_Clean', 'Private_Dirty', 'Swap'].includes(m[1]!)) out[m[1]!] = Math.round(Number(m[2]) / 102.4) / 10;
  }
  return out;
}

function threads(pid: number): string {
  const names = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      names.set(name, (names.get(name) ?? 0) + 1);
    } catch {
      // gone
    }
  }
  return [...names].map(([n, c]) => `${n}×${c}`).join(' ');
}

async function metrics(node: NodeProcess): Promise<string> {
  try {
    const response = await fetch(`${node.ready.admin_url}/metrics`, { headers: { authorization: `Bearer ${node.adminToken}` } });
    const text = await response.text();
    const pick = (name: string) => {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
      return m ? `${name.replace(/^nodejs_|^process_/, '')}=${(Number(m[1]) / 1048576).toFixed(1)}` : '';
    };
    return ['nodejs_heap_size_total_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_external_memory_bytes'].map(pick).filter(Boolean).join(' ');
  } catch (error) {
    return `(metrics: ${(error as Error).message})`;
  }
}

/** The largest mappings by resident size (PROBE_SMAPS=1): V8 pages, malloc arenas, files. */
function topMappings(pid: number, count = 12): string {
  const maps: Array<{ what: string; size: number; rss: number }> = [];
  let current: { what: string; size: number; rss: number } | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      current = { what: head[3] || '[anon]', size: (parseInt(head[2]!, 16) - parseInt(head[1]!, 16)) / 1024, rss: 0 };
      maps.push(current);
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && current) current.rss = Number(rss[1]);
  }
  const byKind = new Map<string, number>();
  for (const m of maps) {
    const kind = m.what === '[anon]' ? (m.size === 65536 || m.size === 131072 ? 'anon 64M-aligned (malloc arena?)' : `anon ${m.size >= 1024 ? 'large' : 'small'}`) : m.what.startsWith('/') ? m.what.split('/').pop()! : m.what;
    byKind.set(kind, (byKind.get(kind) ?? 0) + m.rss);
  }
  const kinds = [...byKind].sort((x, y) => y[1] - x[1]).slice(0, count).map(([k, v]) => `${k} ${(v / 1024).toFixed(1)}`).join(', ');
  const top = maps.sort((x, y) => y.rss - x.rss).slice(0, count).map((m) => `${m.what}[${(m.size / 1024).toFixed(1)}M] ${(m.rss / 1024).toFixed(1)}`).join(', ');
  return `   by kind (MB): ${kinds}\n   top mappings (MB): ${top}\n`;
}

async function report(label: string, node: NodeProcess): Promise<void> {
  const pid = node.child.pid!;
  const s = smaps(pid);
  if (process.env.PROBE_SMAPS) process.stdout.write(topMappings(pid));
  process.stdout.write(`${label}: RSS ${s.Rss} MB (anon ${s.Anonymous}, file ${(s.Rss! - s.Anonymous!).toFixed(1)}, private dirty ${s.Private_Dirty}) threads ${threads(pid)}\n   ${await metrics(node)}\n`);
}

// B stores every message A sends: above the default per-peer quota (50 MiB a day) at ~70k messages.
const args = ['--max-connections-per-address', '1000', '--peer-quota-day', String(10 * 1024 ** 3), '--peer-quota-total', String(10 * 1024 ** 3)];
const a = new NodeProcess({ serverName: 'a.test', args });
const b = new NodeProcess({ serverName: 'b.test', args });
let pool: Pool | undefined;
try {
  await Promise.all([a.start(), b.start()]);
  await sleep(idleSeconds * 1000);
  await report('A fresh', a);
  await report('B fresh', b);
  await peerBothWays(a, b);
  const roomId = await roomWith(a, b);
  let received = 0;
  const stop = await watchRoomEvents(b, () => received++);
  pool = new Pool(a.ready.admin_url, { connections: 8, pipelining: 8 });
  const token = a.adminToken;
  const started = performance.now();
  const pending = new Set<Promise<void>>();
  for (let i = 0; i < total; i++) {
    const p = pool
      .request({ method: 'POST', path: `/_paracord/admin/v1/rooms/${enc(roomId)}/messages`, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ body: `${i} ${performance.now()}` }) })
      .then(async (r) => {
        await r.body.dump();
        if (r.statusCode !== 200) throw new Error(`send: ${r.statusCode}`);
      });
    pending.add(p);
    void p.then(() => pending.delete(p));
    if (pending.size >= 64) await Promise.race(pending);
    if (i % 10_000 === 9_999) process.stdout.write(`  … ${i + 1} sent, ${received} received\n`);
  }
  await Promise.all(pending);
  const deadline = performance.now() + 600_000;
  while (received < total && performance.now() < deadline) await sleep(50);
  process.stdout.write(`${received} of ${total} received in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  stop();
  await pool.close();
  pool = undefined;
  await report('A just after', a);
  for (const wait of process.env.PROBE_LONG ? [3, idleSeconds, 35] : [3, idleSeconds]) {
    await sleep(wait * 1000);
    await report(`A +${wait}s`, a);
    await report(`B +${wait}s`, b);
  }
  if (process.env.PROBE_SNAPSHOT) {
    a.child.kill('SIGUSR2');
    await sleep(5000);
  }
} finally {
  await pool?.close();
  await Promise.all([a.stop().catch(() => undefined), b.stop().catch(() => undefined)]);
}
