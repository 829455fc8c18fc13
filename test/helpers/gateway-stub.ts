/**
 * The gateway worker's stand-in for PortMapper's unit tests (main/core/reachability/): a router that
 * maps at once and never answers a removal (stub-gateway-worker.ts), a log that keeps warnings,
 * and the messages posted to the worker.
 */
import { Worker } from 'node:worker_threads';
import { expect, vi } from 'vitest';
import { GatewayThread } from '../../main/core/reachability/gateway-thread.ts';
import { PortMapper } from '../../main/core/reachability/port-mapping.ts';

/** A router that no longer answers a removal (test/helpers/stub-gateway-worker.ts: `unmap` never, `renew` after 7 s). */
export const silentRouter = () => new GatewayThread({ script: new URL('./stub-gateway-worker.ts', import.meta.url) });
export const logged = () => {
  const warnings: object[] = [];
  return { warnings, log: { info: () => undefined, warn: (o: object) => void warnings.push(o) } };
};
/** How many messages of `op` were posted to a gateway worker (Worker.prototype.postMessage, spied on). */
export const posted = (post: { mock: { calls: unknown[][] } }, op: string) => post.mock.calls.filter((call) => (call[0] as { op?: string }).op === op).length;

/**
 * A 65-s lease mapped at the silent router, renewed after 5 s (the stub answers 7 s later), and
 * removed while that renewal is under way; `removalMs`, how long the removal took.
 */
export async function removedWhileRenewing(port: number) {
  const post = vi.spyOn(Worker.prototype, 'postMessage');
  const thread = silentRouter();
  const mapper = new PortMapper(thread, { methods: ['pmp'], ttlMs: 65_000, log: logged().log });
  expect((await mapper.map(port)).ok).toBe(true);
  await vi.waitFor(() => expect(posted(post, 'renew')).toBe(1), { timeout: 8_000, interval: 50 });
  const renewAsked = Date.now();
  await mapper.remove();
  return { post, thread, mapper, renewAsked, removalMs: Date.now() - renewAsked };
}

