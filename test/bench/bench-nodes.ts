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

export { NodeProcess };

/** CPU seconds used so far by each thread of a process, summed by thread name (Linux /proc). */
export function cpuByThread(pid: number): Map<string, number> {
  const ticksPerSecond = 100; // USER_HZ on Linux
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12])) / ticksPerSecond; // utime + stime
      byName.set(name, (byName.get(name) ?? 0) + seconds);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return byName;
}

/** CPU used by each thread name between two `cpuByThread` readings, in µs per unit of work. */
export function cpuPerUnit(before: Map<string, number>, after: Map<string, number>, units: number): string {
  const parts: string[] = [];
  let total = 0;
  for (const [name, seconds] of after) {
    const used = seconds - (before.get(name) ?? 0);
    total += used;
    if (used > 0) parts.push(`${name} ${((used * 1e6) / units).toFixed(0)}`);
  }
  return `${((total * 1e6) / units).toFixed(0)} µs (${parts.join(', ')})`;
}
