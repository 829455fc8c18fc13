/**
 * Idle cost (issue #36 goal 1): three real node processes peered with each other and one room
 * hosted by the first with the others' owners in it; once the last message has settled, each
 * process's context switches (every thread: wake-ups) and CPU time are read from /proc over a
 * window. Prosody's idle pair (two servers, one user each, s2s) is measured beside it, the same
 * way, in the same run.
 */
import { NodeProcess } from '../helpers/node-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { enc, ok, peerBothWays, switchesByThread } from './bench-nodes.ts';
import { prosodyAvailable, PROSODY_MISSING, startPair } from './prosody/servers.ts';
import { cpuSeconds } from './prosody/compare.ts';

interface IdleRow { name: string; value: number; unit: string; target?: string; ratio?: number; pass?: boolean }

/** Voluntary + involuntary context switches so far of every thread, by thread name (threads of one name summed; "main" the process's own). */
function threads(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const [key, count] of switchesByThread(pid)) {
    const hash = key.lastIndexOf('#');
    const name = key.slice(hash + 1) === String(pid) ? 'main' : key.slice(0, hash);
    byName.set(name, (byName.get(name) ?? 0) + count.voluntary + count.involuntary);
  }
  return byName;
}

interface Idle { wakeups: number; cpu: number; perThread: string }

/** Wake-ups per second and share of one core (%) of each process over the same window, and the threads that woke. */
async function measure(pids: number[], seconds: number): Promise<Idle[]> {
  const before = pids.map((pid) => ({ threads: threads(pid), c: cpuSeconds(pid) }));
  const started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - started) / 1000;
  return pids.map((pid, i) => {
    const after = threads(pid);
    let total = 0;
    const woke: string[] = [];
    for (const [name, switches] of after) {
      const perSecond = (switches - (before[i]!.threads.get(name) ?? 0)) / elapsed;
      total += perSecond;
      if (perSecond >= 0.05) woke.push(`${name} ${perSecond.toFixed(2)}`);
    }
    return { wakeups: total, cpu: ((cpuSeconds(pid) - before[i]!.c) / elapsed) * 100, perThread: woke.join(', ') };
  });
}

const line = (name: string, r: Idle) => `  ${name.padEnd(12)} ${r.wakeups.toFixed(2)} wake-ups/s, ${r.cpu.toFixed(2)} % of a core (wake-ups/s by thread: ${r.perThread || 'none'})\n`;

export async function idleBench(quick: boolean, record: (row: IdleRow) => void, say: (line: string) => void): Promise<void> {
  // The idle state is what a node is in for hours: past its start-up work (the last deliveries'
  // retries, the first memory trim, V8's background compilation and collections), which on a
  // busy machine outlasts 20 s.
  const settleMs = quick ? 2_000 : 60_000;
  const windowS = quick ? 3 : 60;
  const nodes = ['alpha.test', 'beta.test', 'gamma.test'].map((serverName) => new NodeProcess({ serverName }));
  try {
    await Promise.all(nodes.map((n) => n.start()));
    const [a, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    await peerBothWays(a, b);
    await peerBothWays(a, c);
    await peerBothWays(b, c);
    const { room_id: roomId } = await ok(a, 'POST', '/rooms', { name: 'idle' });
    for (const member of [b, c]) {
      await ok(a, 'POST', `/rooms/${enc(roomId)}/invites`, { user_id: `@owner:${member.serverName}` });
      const { invites } = await ok(member, 'GET', '/invites');
      await ok(member, 'POST', `/invites/${invites[0].invite_id}/accept`);
    }
    await ok(b, 'POST', `/rooms/${enc(roomId)}/messages`, { body: 'hello before the quiet' });
    await new Promise((r) => setTimeout(r, settleMs));
    say(`  (three peered nodes, one room; ${settleMs / 1000} s to settle, then ${windowS} s from /proc)\n`);
    const results = await measure(nodes.map((n) => n.child.pid!), windowS);
    nodes.forEach((n, i) => say(line(n.serverName!, results[i]!)));
    const worst = { wakeups: Math.max(...results.map((r) => r.wakeups)), cpu: Math.max(...results.map((r) => r.cpu)) };
    let prosody: Idle | null = null;
    if (prosodyAvailable()) {
      const pair = await startPair(tempDir('prosody-idle-'), 'plain');
      try {
        await new Promise((r) => setTimeout(r, settleMs));
        prosody = (await measure([pair.a.pid], windowS))[0]!;
        say(line('Prosody', prosody));
      } finally {
        await pair.stop();
      }
    } else say(`  Prosody beside it skipped: ${PROSODY_MISSING}\n`);
    record({ name: 'idle node wake-ups (worst of 3, all threads)', value: worst.wakeups, unit: '/s', target: '<= 10/s', pass: worst.wakeups <= 10, ...(prosody && prosody.wakeups > 0 ? { ratio: worst.wakeups / prosody.wakeups } : {}) });
    record({ name: 'idle node CPU (worst of 3)', value: worst.cpu, unit: '% core', target: '<= 0.3 %', pass: worst.cpu <= 0.3, ...(prosody && prosody.cpu > 0 ? { ratio: worst.cpu / prosody.cpu } : {}) });
    if (prosody) {
      record({ name: 'Prosody idle wake-ups (same run)', value: prosody.wakeups, unit: '/s' });
      record({ name: 'Prosody idle CPU (same run)', value: prosody.cpu, unit: '% core' });
    }
  } finally {
    await Promise.all(nodes.map((n) => (n.child && n.child.exitCode === null ? n.stop().catch(() => undefined) : undefined)));
  }
}
