/**
 * Background work that fails (a timer's, a listener's) is logged, not thrown out of it: nothing
 * catches there, and the process has no handler of its own (a failure ended the node).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { NodeEvents, type NodeNotification } from '../node-events.ts';
import { guarded } from './guarded.ts';

function capture() {
  const lines: Array<{ event?: string; msg?: string }> = [];
  const log = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } }));
  return { log, lines };
}

describe('guarded', () => {
  it('logs a thrown error and a rejected promise under its event, and throws neither', async () => {
    const { log, lines } = capture();
    expect(() => guarded(log, 'tick_failed', () => { throw new Error('SQLITE_FULL: database or disk is full'); })).not.toThrow();
    let unhandled = 0;
    const count = () => unhandled++;
    process.on('unhandledRejection', count);
    try {
      guarded(log, 'round_failed', async () => { throw new Error('disk I/O error'); });
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.off('unhandledRejection', count);
    }
    expect(unhandled).toBe(0);
    expect(lines.map((l) => l.event)).toEqual(['tick_failed', 'round_failed']);
    // Work that succeeds logs nothing.
    guarded(log, 'fine', () => 1);
    guarded(log, 'fine', async () => 1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(lines).toHaveLength(2);
  });
});

describe('NodeEvents', () => {
  it('a listener that throws keeps no other from hearing a notification and throws nothing into the notifier; once-listeners still go', () => {
    const errors: unknown[] = [];
    const events = new NodeEvents((error) => errors.push(error));
    const heard: string[] = [];
    events.on('notification', () => { throw new Error('a stream read its session from a failing database'); });
    events.on('notification', (n: NodeNotification) => heard.push(`second ${n.type}`));
    events.once('notification', (n: NodeNotification) => heard.push(`once ${n.type}`));
    expect(() => events.notify({ type: 'status' })).not.toThrow();
    events.notify({ type: 'status', scope: 'queue' });
    expect(heard).toEqual(['second status', 'once status', 'second status']);
    expect(errors).toHaveLength(2);
    expect(events.listenerCount('notification')).toBe(2);
  });
});
