/**
 * Signature verification off the main thread (issue #6): ed25519 verification is the single
 * largest cost of ingest, and the main thread also has to parse, authorize and store.
 *
 * Work goes to the workers in chunks of at most CHUNK_ITEMS, and each worker holds at most
 * MAX_CHUNKS_PER_WORKER chunks at a time (≈ 8 ms of work: enough to keep it busy while the main
 * thread runs a group commit); the rest waits here. So results come back in small
 * steps that the main thread can store while the workers verify the next ones (with one big
 * FIFO per worker, every request waited for everything queued before it, and verifying and
 * storing ran in alternating waves that left a core idle: docs/PERFORMANCE.md), and an urgent
 * item (a request signature, which gates all the work of its request) goes out before the queue.
 *
 * Each chunk is packed into one buffer that is transferred, not cloned. With no worker (one
 * core, or the pool could not start one) it verifies inline.
 *
 * Workers cost memory (each is a V8 isolate with its own heap, ~14 MB of an idle node's RSS:
 * issue #17), so they run only while there is load: a chat's rate is verified here (see
 * CHAT_RATE), and the workers start when more arrive than that; workers that got nothing
 * for IDLE_STOP_MS are stopped, and the next load starts them again. A worker gets chunks only
 * once it said it is loaded: until then the pool verifies here, a chunk at a time with I/O in
 * between, rather than leave a load waiting for the start-up of a thread (100–250 ms on this
 * 2-core VM, which was every latency above 100 ms at 200 messages/s: docs/PERFORMANCE.md).
 */
import { hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { RateLimiter, type RateLimit } from '../trust/rate-limiter.ts';
import { sign as signInline, verify as verifyInline } from './ed25519.ts';
import { HASH_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES, packToSign, packToVerify } from './verify-chunk.ts';

/** A key the pool signs with: the active identity key (identity.ts `poolSigningKey`). */
export interface PoolSigningKey {
  keyId: string;
  /** libsodium's 64-byte secret key. */
  secretKey: Buffer;
}

/** What signing one message gives: the ed25519 signature and the message's SHA-256. */
export interface PoolSignature {
  signature: Buffer;
  hash: Buffer;
}

type Pending =
  | { kind: 'verify'; signature: Buffer; message: Buffer; publicKey: Buffer; resolve: (ok: boolean) => void }
  | { kind: 'sign'; message: Buffer; key: PoolSigningKey; resolve: (signed: PoolSignature) => void };

interface PoolWorker {
  worker: Worker;
  /** Chunks sent and not answered yet, by chunk id. */
  chunks: Map<number, Pending[]>;
  /** It said it is loaded: chunks go to it only from then on. */
  ready: boolean;
  /** Key ids whose secret key it was given (signing). */
  keys: Set<string>;
}

const CHUNK_ITEMS = 50;
const MAX_CHUNKS_PER_WORKER = 4;
/**
 * A chat's rate (issues #17, #36): while no worker runs, what arrives at it is verified here, and
 * while workers run it does not count as their use, so they stop 3 s after the last load. At 200
 * messages/s a receiver had started its worker whenever a few requests were read together,
 * stopped it 3 s later and started it again (~100 µs of CPU per message in threads that ended).
 * Items are counted in cost units (one per signature, one more per `unitBytes` of message: hashing
 * a 64 KB event costs several small verifications): a dispatch of at most `maxUnits` while a
 * token bucket (`unitsPerSecond`, bursts of `burstUnits`) allows it — at ~70–110 µs
 * a unit, at most ~6 % of this VM's main thread sustained and ~10 ms in any 100 ms. Anything more
 * goes to the workers (started if none runs), so a peer cannot turn the main thread into the
 * verifier.
 */
const CHAT_RATE = { unitBytes: 8192, maxUnits: 24, unitsPerSecond: 600, burstUnits: 32 } as const;
/**
 * While workers run but are idle, a lone request's items (a signature and its event) are verified
 * here (issue #17): a round trip to a worker costs about as much main-thread time as one
 * verification, plus two thread wake-ups, which on a busy machine made most of the latency of a
 * lone message. At most `perWindow` items per `windowMs` (a few percent of the main thread):
 * under load the work goes to the workers.
 */
const LONE = { maxItems: 2, windowMs: 10, perWindow: 6 } as const;
const CHAT_RATE_LIMIT: RateLimit = { per_second: CHAT_RATE.unitsPerSecond, burst: CHAT_RATE.burstUnits };
const LONE_LIMIT: RateLimit = { per_second: (LONE.perWindow * 1000) / LONE.windowMs, burst: LONE.perWindow };
/** Workers that had nothing to do for this long are stopped (a load after that starts them again). */
export const IDLE_STOP_MS = 3_000;

export interface VerifyPoolOptions {
  /** Stop idle workers after this long (tests use a short one). */
  idleStopMs?: number;
}

/**
 * One worker per core but one (at least one, at most four). The main thread is the bottleneck
 * of ingest (parse, authorize, store); with as many busy workers as cores, it got only a share of
 * a core and ingest was slower (docs/PERFORMANCE.md).
 */
function defaultPoolSize(): number {
  const configured = process.env.PARACORD_VERIFY_WORKERS;
  if (configured !== undefined && /^\d+$/.test(configured)) return Math.min(Number(configured), 16);
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

/** What an item costs here, in units of one small verification (hashing a long message costs more). */
function costUnits(item: Pending): number {
  return 1 + Math.floor(item.message.length / CHAT_RATE.unitBytes);
}

/** A FIFO with O(1) removal from the front (Array#shift is O(n) on long queues). */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined as T;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  /** Calls `each` on the queued items in order until it returns false. */
  forEachWhile(each: (item: T) => boolean): void {
    for (let i = this.head; i < this.items.length; i++) if (!each(this.items[i]!)) return;
  }
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }
  drain(): T[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}

export class VerifyPool {
  private readonly workers: PoolWorker[] = [];
  private readonly urgent = new Fifo<Pending>();
  private readonly queue = new Fifo<Pending>();
  private scheduled = false;
  private nextChunkId = 1;
  private readonly targetSize: number;
  private readonly idleStopMs: number;
  /** A worker failed: from then on the pool verifies inline (restarting could fail the same way). */
  private failed = false;
  private closed = false;
  private lastUsedAt = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  /** Times workers were started (for tests and the log). */
  starts = 0;
  /** Items (verifications and signatures) made on this thread at a chat's rate or for a lone request; chunks sent to workers; items made here while the workers were starting. */
  readonly stats = { inline: 0, chunks: 0, whileStarting: 0 };
  /** The token buckets of what is verified here: a chat's rate (CHAT_RATE) and lone requests while workers run (LONE). */
  private readonly inlineBudgets = new RateLimiter({ maxBuckets: 2 });

  constructor(size = defaultPoolSize(), options: VerifyPoolOptions = {}) {
    this.targetSize = size;
    this.idleStopMs = options.idleStopMs ?? IDLE_STOP_MS;
  }

  /** Whether workers may (still) be started: not after a failure, not once closed, not with size 0. */
  private get canStart(): boolean {
    return !this.closed && !this.failed && this.targetSize > 0;
  }

  private start(): void {
    this.starts++;
    const file = import.meta.url.endsWith('.ts') ? './verify-worker.ts' : './verify-worker.js';
    for (let i = 0; i < this.targetSize; i++) {
      try {
        const poolWorker: PoolWorker = { worker: new Worker(new URL(file, import.meta.url)), chunks: new Map(), ready: false, keys: new Set() };
        poolWorker.worker.unref();
        poolWorker.worker.on('message', (answer: { id: number; results: Uint8Array } | { ready: true }) => {
          if ('ready' in answer) {
            poolWorker.ready = true;
            this.dispatch();
          } else this.answered(poolWorker, answer);
        });
        poolWorker.worker.on('error', () => this.dropWorker(poolWorker));
        // A worker that ended (crashed, killed) without an error event: same as a failure.
        poolWorker.worker.on('exit', () => this.dropWorker(poolWorker));
        this.workers.push(poolWorker);
      } catch {
        break;
      }
    }
    this.lastUsedAt = Date.now();
    if (this.workers.length > 0) this.armIdleTimer(this.idleStopMs);
  }

  private armIdleTimer(ms: number): void {
    this.idleTimer = setTimeout(() => this.stopIfIdle(), ms);
    this.idleTimer.unref();
  }

  /** Stops the workers once nothing was asked of them for idleStopMs; looks again later otherwise. */
  private stopIfIdle(): void {
    this.idleTimer = null;
    if (this.workers.length === 0) return;
    const busy = this.urgent.length + this.queue.length > 0 || this.workers.some((w) => w.chunks.size > 0);
    const idleFor = Date.now() - this.lastUsedAt;
    if (busy || idleFor < this.idleStopMs) {
      this.armIdleTimer(Math.max(100, this.idleStopMs - idleFor));
      return;
    }
    // Removed first: their exit events then find nothing to drop.
    for (const w of this.workers.splice(0)) void w.worker.terminate().catch(() => undefined);
  }

  get size(): number {
    return this.workers.length;
  }

  /** How many workers have started and said they are ready (the rest are still loading). */
  get readyWorkers(): number {
    return this.workers.filter((w) => w.ready).length;
  }

  /** `urgent`: verified before everything queued (a request signature, which gates its whole request). */
  verify(signature: Buffer, message: Buffer, publicKey: Buffer, options: { urgent?: boolean } = {}): Promise<boolean> {
    // Malformed input is answered here: the packed format has fixed-size keys and signatures.
    if (signature.length !== SIGNATURE_BYTES || publicKey.length !== PUBLIC_KEY_BYTES) return Promise.resolve(false);
    if (this.workers.length === 0 && !this.canStart) return Promise.resolve(verifyInline(signature, message, publicKey));
    return new Promise((resolve) => {
      (options.urgent ? this.urgent : this.queue).push({ kind: 'verify', signature, message, publicKey, resolve });
      this.scheduleDispatch();
    });
  }

  /**
   * Signs each message with `key` and hashes it (SHA-256), off the main thread (issue #17: a
   * client's batch of messages; signing was a quarter of a sending node's main thread at
   * saturation). The secret key goes to a worker once (a worker thread is the same process and
   * address space as the main thread; it keeps the key in libsodium's guarded memory, as the main
   * thread does). A lone message is better signed where it is: a round trip costs as much.
   */
  sign(key: PoolSigningKey, messages: readonly Buffer[]): Promise<PoolSignature[]> {
    if (this.workers.length === 0 && !this.canStart) return Promise.resolve(messages.map((message) => signHere(key, message)));
    const signed = messages.map((message) => new Promise<PoolSignature>((resolve) => this.queue.push({ kind: 'sign', message, key, resolve })));
    this.scheduleDispatch();
    return Promise.all(signed);
  }

  private scheduleDispatch(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // After the I/O callbacks of this turn of the event loop: the other events of the same
    // request, and the requests read in the same turn (each its own callback), join this dispatch,
    // one message to a worker instead of one per request (issue #17: two round trips per
    // single-event request, ~40 µs of main thread each under load).
    setImmediate(() => {
      this.scheduled = false;
      this.dispatch();
    });
  }

  /** Sends chunks to the workers that have room, least loaded first. */
  private dispatch(): void {
    const queued = this.urgent.length + this.queue.length;
    // A chat's rate: few items while no worker is busy, within the budget (which counts what
    // arrives, wherever it goes; items waiting behind busy workers are load, and not charged again).
    const chatRate = queued > 0 && queued <= CHAT_RATE.maxUnits && this.workers.every((w) => w.chunks.size === 0) && this.withinInlineBudget();
    if (chatRate && this.workers.length === 0) {
      this.verifyAllHere();
      return;
    }
    // Workers running and idle: a lone request's items here (no thread round trip for it).
    if (queued > 0 && queued <= LONE.maxItems && this.workers.length > 0 && this.workers.every((w) => w.ready && w.chunks.size === 0) && this.inlineBudgets.take('lone', LONE_LIMIT, performance.now(), queued).ok) {
      this.verifyAllHere();
      return;
    }
    if (queued > 0 && this.workers.length === 0) {
      // More than a chat's rate: the workers start (on first use, or again after they were stopped when idle).
      if (this.canStart) this.start();
      if (this.workers.length === 0) {
        this.verifyHere(this.drainAll());
        return;
      }
    }
    if (this.urgent.length + this.queue.length > 0 && !this.workers.some((w) => w.ready)) {
      // The workers are starting: one chunk here now, the rest after any I/O waiting, and so on
      // until a worker says it is ready (its message dispatches again).
      const items = this.takeChunk();
      this.stats.whileStarting += items.length;
      this.verifyHere(items);
      if (this.urgent.length + this.queue.length > 0 && !this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.dispatch();
        });
      }
      return;
    }
    for (;;) {
      if (this.urgent.length + this.queue.length === 0) return;
      let target: PoolWorker | undefined;
      for (const w of this.workers) if (w.ready && w.chunks.size < MAX_CHUNKS_PER_WORKER && (!target || w.chunks.size < target.chunks.size)) target = w;
      if (!target) return; // every worker is busy: the next answer dispatches again
      // A chat's rate does not count as the workers' use: they stop 3 s after the last load.
      this.send(target, this.takeChunk(), !chatRate);
    }
  }

  private drainAll(): Pending[] {
    return [...this.urgent.drain(), ...this.queue.drain()];
  }

  private verifyAllHere(): void {
    const items = this.drainAll();
    this.stats.inline += items.length;
    this.verifyHere(items);
  }

  /** Whether what is queued is at most CHAT_RATE.maxUnits and fits the budget (taken from it if so). */
  private withinInlineBudget(): boolean {
    let units = 0;
    const add = (item: Pending) => (units += costUnits(item)) <= CHAT_RATE.maxUnits;
    this.urgent.forEachWhile(add);
    if (units <= CHAT_RATE.maxUnits) this.queue.forEachWhile(add);
    return units <= CHAT_RATE.maxUnits && this.inlineBudgets.take('chat', CHAT_RATE_LIMIT, performance.now(), units).ok;
  }

  /** Up to CHUNK_ITEMS queued items of one kind (and, for signing, one key), urgent ones first. */
  private takeChunk(): Pending[] {
    const items: Pending[] = [];
    while (items.length < CHUNK_ITEMS) {
      const source = this.urgent.length > 0 ? this.urgent : this.queue;
      const item = source.peek();
      if (!item) break;
      const first = items[0];
      if (first && (item.kind !== first.kind || (item.kind === 'sign' && first.kind === 'sign' && item.key.keyId !== first.key.keyId))) break;
      items.push(source.shift()!);
    }
    return items;
  }

  /** `use`: whether this counts as the workers' use (keeps them from being stopped when idle). */
  private send(target: PoolWorker, items: Pending[], use: boolean): void {
    if (use) this.lastUsedAt = Date.now();
    const first = items[0]!;
    // A chunk holds one kind (takeChunk).
    const packed = first.kind === 'verify' ? packToVerify(items as Array<Extract<Pending, { kind: 'verify' }>>) : packToSign(items);
    let keyId: string | undefined;
    if (first.kind === 'sign') {
      keyId = first.key.keyId;
      if (!target.keys.has(keyId)) {
        // Once per worker and key, transferred (no copy stays here): the worker copies it into
        // guarded memory and zeroes what it received.
        const secretKey = new Uint8Array(first.key.secretKey);
        target.worker.postMessage({ key: keyId, secretKey }, [secretKey.buffer]);
        target.keys.add(keyId);
      }
    }
    const id = this.nextChunkId++;
    this.stats.chunks++;
    target.chunks.set(id, items);
    target.worker.postMessage({ id, kind: first.kind, keyId, count: items.length, packed }, [packed.buffer]);
  }

  private answered(poolWorker: PoolWorker, answer: { id: number; results: Uint8Array }): void {
    const items = poolWorker.chunks.get(answer.id);
    poolWorker.chunks.delete(answer.id);
    const results = Buffer.from(answer.results.buffer, answer.results.byteOffset, answer.results.byteLength);
    items?.forEach((item, index) => {
      if (item.kind === 'verify') item.resolve(results[index] === 1);
      else {
        const at = index * (SIGNATURE_BYTES + HASH_BYTES);
        // A worker without the key answers nothing for it: signed here then.
        if (results.length < at + SIGNATURE_BYTES + HASH_BYTES) item.resolve(signHere(item.key, item.message));
        else item.resolve({ signature: results.subarray(at, at + SIGNATURE_BYTES), hash: results.subarray(at + SIGNATURE_BYTES, at + SIGNATURE_BYTES + HASH_BYTES) });
      }
    });
    this.dispatch();
  }

  /** A worker that failed: its unanswered items are verified here, the rest go to the others. */
  private dropWorker(poolWorker: PoolWorker): void {
    const index = this.workers.indexOf(poolWorker);
    if (index < 0) return; // already dropped, stopped when idle, or closed
    this.workers.splice(index, 1);
    this.failed = true;
    this.verifyHere([...poolWorker.chunks.values()].flat());
    poolWorker.chunks.clear();
    if (this.workers.length === 0) this.verifyHere(this.drainAll());
    else this.dispatch();
  }

  private verifyHere(items: Pending[]): void {
    for (const p of items) {
      if (p.kind === 'verify') p.resolve(verifyInline(p.signature, p.message, p.publicKey));
      else p.resolve(signHere(p.key, p.message));
    }
  }

  /** Stops the workers; what they had not answered is verified inline, and so is everything after. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((w) => w.worker.terminate()));
    this.verifyHere(workers.flatMap((w) => [...w.chunks.values()].flat()));
    this.verifyHere(this.drainAll());
  }
}

function signHere(key: PoolSigningKey, message: Buffer): PoolSignature {
  return { signature: signInline(message, key.secretKey), hash: hash('sha256', message, 'buffer') };
}
