/**
 * Signature verification off the main thread (issue #6): ed25519 verification is the single
 * largest cost of ingest, and the main thread also has to parse, authorize and store. Requests
 * made in the same turn of the event loop are batched into one message per worker, spread over
 * the workers. With no worker (one core, or the pool failed) it verifies inline.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { verify as verifyInline } from './ed25519.ts';

interface Pending {
  signature: Buffer;
  message: Buffer;
  publicKey: Buffer;
  resolve: (ok: boolean) => void;
}

/**
 * One worker per core (at most four). The main thread is idle much of the time it waits for
 * verifications, so as many workers as cores measured faster than cores − 1 (docs/PERFORMANCE.md).
 */
function defaultPoolSize(): number {
  const configured = process.env.PARACORD_VERIFY_WORKERS;
  if (configured !== undefined && /^\d+$/.test(configured)) return Math.min(Number(configured), 16);
  return Math.max(1, Math.min(4, availableParallelism()));
}

export class VerifyPool {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, Array<(ok: boolean) => void>>();
  private queue: Pending[] = [];
  private scheduled = false;
  private nextId = 1;
  private nextWorker = 0;

  private readonly targetSize: number;
  private started = false;

  constructor(size = defaultPoolSize()) {
    this.targetSize = size;
  }

  /** Workers start on first use: an idle node keeps none (idle RSS). */
  private start(): void {
    this.started = true;
    const size = this.targetSize;
    const file = import.meta.url.endsWith('.ts') ? './verify-worker.ts' : './verify-worker.js';
    for (let i = 0; i < size; i++) {
      try {
        const worker = new Worker(new URL(file, import.meta.url));
        worker.unref();
        worker.on('message', (answer: { id: number; results: boolean[] }) => {
          const resolvers = this.waiting.get(answer.id);
          this.waiting.delete(answer.id);
          resolvers?.forEach((resolve, index) => resolve(answer.results[index] === true));
        });
        worker.on('error', () => this.dropWorker(worker));
        this.workers.push(worker);
      } catch {
        break;
      }
    }
  }

  get size(): number {
    return this.workers.length;
  }

  verify(signature: Buffer, message: Buffer, publicKey: Buffer): Promise<boolean> {
    if (!this.started) this.start();
    if (this.workers.length === 0) return Promise.resolve(verifyInline(signature, message, publicKey));
    return new Promise((resolve) => {
      this.queue.push({ signature, message, publicKey, resolve });
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => setImmediate(() => this.flush()));
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    if (this.workers.length === 0) {
      for (const p of queue) p.resolve(verifyInline(p.signature, p.message, p.publicKey));
      return;
    }
    // Split the batch evenly over the workers.
    const per = Math.ceil(queue.length / this.workers.length);
    for (let start = 0; start < queue.length; start += per) {
      const slice = queue.slice(start, start + per);
      const id = this.nextId++;
      this.waiting.set(id, slice.map((p) => p.resolve));
      const worker = this.workers[this.nextWorker++ % this.workers.length]!;
      worker.postMessage({ id, items: slice.map(({ signature, message, publicKey }) => ({ signature, message, publicKey })) });
    }
  }

  private dropWorker(worker: Worker): void {
    const index = this.workers.indexOf(worker);
    if (index >= 0) this.workers.splice(index, 1);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.terminate()));
    for (const resolvers of this.waiting.values()) resolvers.forEach((r) => r(false));
    this.waiting.clear();
  }
}
