/** Small helpers for the benchmark: real nodes, their admin API, and a room with members. */
import { readFileSync, readdirSync } from 'node:fs';
import { request } from 'undici';
import { NodeProcess } from '../helpers/node-process.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import { makeEvent } from '../helpers/events.ts';
import { MEMBERSHIP_WIRE_ORDER, wireJson } from '../../main/core/federation/wire-json.ts';
import { sendSigned } from '../helpers/signed-request.ts';

export const enc = encodeURIComponent;

export async function ok<T = any>(node: NodeProcess, method: string, path: string, body?: unknown): Promise<T> {
  const response = await node.admin<T>(method, path, body);
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

/** Makes two started nodes each other's peers by their federation URLs (plain HTTP, no invite). */
export async function peerBothWays(a: NodeProcess, b: NodeProcess): Promise<void> {
  await ok(a, 'POST', '/peers', { server_name: b.serverName, endpoint: b.federationUrl });
  await ok(b, 'POST', '/peers', { server_name: a.serverName, endpoint: a.federationUrl });
}

export async function roomWith(host: NodeProcess, member?: NodeProcess): Promise<string> {
  const { room_id: roomId } = await ok(host, 'POST', '/rooms', { name: 'bench' });
  if (member) {
    await ok(host, 'POST', `/rooms/${enc(roomId)}/invites`, { user_id: `@owner:${member.serverName}` });
    const { invites } = await ok(member, 'GET', '/invites');
    await ok(member, 'POST', `/invites/${invites[0].invite_id}/accept`);
  }
  return roomId;
}

export async function joinFake(host: NodeProcess, roomId: string, fake: FakePeer): Promise<string> {
  await ok(host, 'POST', '/peers', { server_name: fake.serverName, endpoint: fake.url });
  await ok(host, 'PUT', `/peers/${fake.serverName}/trust`, { mode: 'allow', rate_limit: { per_second: 100_000, burst: 100_000 } });
  const userId = `@u:${fake.serverName}`;
  await ok(host, 'POST', `/rooms/${enc(roomId)}/invites`, { user_id: userId });
  const join = makeEvent(fake.identity, { room_id: roomId, event_type: 'm.member.join', sender: userId, state_key: userId, content: { membership: 'join' }, depth: Date.now() + 1000 });
  const body = wireJson({ origin_server: fake.serverName, room_id: roomId, user_id: userId, event: join }, MEMBERSHIP_WIRE_ORDER);
  const response = await sendSigned(fake.identity, host.federationUrl, 'POST', '/_paracord/federation/v1/join', body);
  if (response.status !== 200) throw new Error(`join failed: ${response.status} ${response.text}`);
  return userId;
}

/**
 * Reads a Server-Sent Events stream: calls back with each message's event type (`message` when
 * it names none), its data line and the time its chunk arrived. Resolves with a function that stops.
 */
export async function readServerSentEvents(url: string, headers: Record<string, string>, onMessage: (type: string, data: string, at: number) => void): Promise<() => void> {
  const response = await request(url, { headers });
  let buffer = '';
  response.body.on('data', (chunk: Buffer) => {
    const at = performance.now();
    buffer += chunk.toString();
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const lines = buffer.slice(0, end).split('\n');
      buffer = buffer.slice(end + 2);
      const data = lines.find((l) => l.startsWith('data: '));
      if (data) onMessage(lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message', data.slice(6), at);
    }
  });
  return () => response.body.destroy();
}

/** Opens the admin SSE stream and calls back with each room event id and its arrival time. */
export function watchRoomEvents(node: NodeProcess, onEvent: (eventId: string, at: number) => void): Promise<() => void> {
  return readServerSentEvents(`${node.ready.admin_url}/_paracord/admin/v1/events`, { authorization: `Bearer ${node.adminToken}` }, (type, data, at) => {
    if (type === 'room') onEvent((JSON.parse(data) as { event_id: string }).event_id, at);
  });
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/**
 * The process's own resident memory (RssAnon: its heaps and stacks), without the pages it maps
 * from files (the executable, libraries), which the system can take back and which an idle node
 * gives back itself (main/core/memory/clean-pages.ts).
 */
export function privateMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

export { NodeProcess };

/**
 * Two real nodes (plain HTTP, a.test and b.test) made peers, and a room of A's that B is in: the
 * development probes' setup. `stop()` on each node is the caller's.
 */
export async function peeredPair(): Promise<{ a: NodeProcess; b: NodeProcess; roomId: string }> {
  const args = ['--max-connections-per-address', '1000'];
  const a = new NodeProcess({ serverName: 'a.test', args });
  const b = new NodeProcess({ serverName: 'b.test', args });
  try {
    await Promise.all([a.start(), b.start()]);
    await peerBothWays(a, b);
    return { a, b, roomId: await roomWith(a, b) };
  } catch (error) {
    await Promise.all([a.stop().catch(() => undefined), b.stop().catch(() => undefined)]);
    throw error;
  }
}

/**
 * CPU used so far by a process (/proc/<pid>/stat: it keeps the time of threads that have ended)
 * and by each of its live threads, by thread id (a verify worker that stopped and a new one of
 * the same name are two threads). In seconds, from 10 ms ticks.
 */
export interface CpuSnapshot {
  process: number;
  threads: Map<string, { name: string; seconds: number }>;
}

export function cpuByThread(pid: number): CpuSnapshot {
  const ticksPerSecond = 100; // USER_HZ on Linux
  const seconds = (stat: string) => {
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond; // utime + stime
  };
  const threads = new Map<string, { name: string; seconds: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      threads.set(tid, { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), seconds: seconds(stat) });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return { process: seconds(readFileSync(`/proc/${pid}/stat`, 'utf8')), threads };
}

/**
 * CPU used between two `cpuByThread` readings, in µs per unit of work: the process's, then each
 * thread name's (threads that started in between count whole), then what threads that ended in
 * between used (the process's figure less the live threads').
 */
export function cpuPerUnit(before: CpuSnapshot, after: CpuSnapshot, units: number): string {
  const byName = new Map<string, number>();
  let live = 0;
  for (const [tid, thread] of after.threads) {
    const used = thread.seconds - (before.threads.get(tid)?.seconds ?? 0);
    live += used;
    byName.set(thread.name, (byName.get(thread.name) ?? 0) + used);
  }
  const total = after.process - before.process;
  const us = (seconds: number) => ((seconds * 1e6) / units).toFixed(0);
  const parts = [...byName].filter(([, used]) => used > 0).map(([name, used]) => `${name} ${us(used)}`);
  if (total - live >= 0.02) parts.push(`threads that ended ${us(total - live)}`);
  return `${us(total)} µs (${parts.join(', ')})`;
}

/** Context switches so far of every live thread (`name#tid`): voluntary (the thread waited) and involuntary (preempted). */
export function switchesByThread(pid: number): Map<string, { voluntary: number; involuntary: number }> {
  const byThread = new Map<string, { voluntary: number; involuntary: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const field = (name: string) => Number(new RegExp(`^${name}:\\s*(\\d+)$`, 'm').exec(status)?.[1] ?? 0);
      byThread.set(`${/^Name:\s*(.*)$/m.exec(status)?.[1] ?? '?'}#${tid}`, { voluntary: field('voluntary_ctxt_switches'), involuntary: field('nonvoluntary_ctxt_switches') });
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return byThread;
}

/** Context switches per unit of work between two `switchesByThread` readings, by thread name (live threads): total, then voluntary/involuntary per name. */
export function switchesPerUnit(before: ReturnType<typeof switchesByThread>, after: ReturnType<typeof switchesByThread>, units: number): string {
  const byName = new Map<string, { voluntary: number; involuntary: number }>();
  let total = 0;
  for (const [key, count] of after) {
    const was = before.get(key) ?? { voluntary: 0, involuntary: 0 };
    const name = key.slice(0, key.lastIndexOf('#'));
    const sum = byName.get(name) ?? { voluntary: 0, involuntary: 0 };
    sum.voluntary += count.voluntary - was.voluntary;
    sum.involuntary += count.involuntary - was.involuntary;
    total += count.voluntary - was.voluntary + count.involuntary - was.involuntary;
    byName.set(name, sum);
  }
  const per = (n: number) => (n / units).toFixed(2);
  const parts = [...byName].filter(([, n]) => n.voluntary + n.involuntary > 0).map(([name, n]) => `${name} ${per(n.voluntary)}/${per(n.involuntary)}`);
  return `${per(total)} (voluntary/involuntary: ${parts.join(', ')})`;
}

/**
 * Run time so far of every live thread of a process (ns), from /proc/<pid>/task/<tid>/schedstat:
 * the scheduler's own count. /proc/<pid>/stat samples 10 ms ticks (this kernel has tick
 * accounting), which may charge a process that wakes for short bursts by where the ticks fell.
 */
export function runNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return total;
}
