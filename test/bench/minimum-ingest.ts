/**
 * The protocol's minimum for batch ingest (issue #36 goal 6), measured with the benchmark's own
 * load generator in the same run: a bare Node.js process that takes `POST /events` batches and
 * does what the protocol requires of each and nothing else, written as plainly as it can be.
 *
 * Per request: the body read; its timestamp within the clock skew and its signature checked
 * (ed25519 over the signing string, which carries the body's SHA-256: request-signature.ts); the
 * body parsed; each event's signed bytes made (its canonical form: envelope.ts, the node's own
 * code) and its signature by its origin checked (one peer, one key: the request's). The
 * checks run in one worker thread (the node's verify-worker.ts, which gets a packed chunk of
 * signatures), as the node's pool has one on two cores, while the main thread reads and parses
 * the next requests. Checked batches are committed together to SQLite (WAL, one table keyed by
 * event id: a copy is stored once and answered "not inserted"; another event under a stored id is
 * refused, `event_id_conflict`, told apart by its signature: signatures are deterministic and were
 * checked, so the same key signing other content signs differently; a group that cannot be stored
 * or flushed is answered 500) and made durable by one fdatasync of the WAL on libuv's thread
 * pool, as the node's group commit does; then each request is answered in the node's form.
 *
 * No schema, authorization, rooms, quotas, replay cache, search index, logs or metrics. Whatever
 * this reaches, a node that keeps the protocol's promises on this stack reaches at most: its
 * ratio to the verify ceiling is the floor printed under goal 6.
 *
 *   node --no-warnings test/bench/minimum-ingest.ts '{"file":…,"publicKeyHex":…}'   (prints its port)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { envelopeSigningParts, type Envelope } from '../../main/core/federation/envelope.ts';
import { HEADER_KEY_ID, HEADER_ORIGIN, HEADER_SIGNATURE, HEADER_TIMESTAMP, MAX_CLOCK_SKEW_MS, signingString } from '../../main/core/federation/request-signature.ts';
import { SIGNATURE_BYTES, packToVerify } from '../../main/core/crypto/verify-chunk.ts';
import { REPO_ROOT } from '../helpers/node-process.ts';

/** Starts the minimum server in a process of its own (a node's own process is what it stands for). */
export async function startMinimumIngest(options: { dir: string; publicKeyHex: string }): Promise<{ url: string; pid: number; stored: () => number; stop: () => void }> {
  const file = join(options.dir, 'minimum-ingest.sqlite');
  const child: ChildProcess = spawn(process.execPath, ['--experimental-strip-types', '--no-warnings', join(REPO_ROOT, 'test/bench/minimum-ingest.ts'), JSON.stringify({ file, publicKeyHex: options.publicKeyHex })], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('exit', (code) => reject(new Error(`minimum ingest process exited ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    /** Events stored (read from its database). */
    stored: () => {
      const db = new Database(file, { readonly: true });
      try {
        return (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
      } finally {
        db.close();
      }
    },
    stop: () => child.kill(),
  };
}

interface Pending {
  events: Envelope[];
  signatures: Buffer[];
  res: http.ServerResponse;
}

function serve(file: string, publicKey: Buffer): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // SQLite writes the WAL without waiting; the flush below makes it durable before any answer.
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE IF NOT EXISTS events (event_id TEXT PRIMARY KEY, room_id TEXT NOT NULL, signed TEXT NOT NULL, signature BLOB NOT NULL)');
  // A copy of a stored event is stored once; anything else that fails aborts the whole group.
  const insert = db.prepare('INSERT INTO events (event_id, room_id, signed, signature) VALUES (?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING');
  const storedSignature = db.prepare('SELECT signature FROM events WHERE event_id = ?').pluck();
  /** Each event's answer: stored, a copy of a stored one, or refused (another event under a stored id). */
  const store = db.transaction((batches: Pending[]) =>
    batches.map((batch) =>
      batch.events.map((event, i) => {
        const signature = batch.signatures[i]!;
        if (insert.run(event.event_id, event.room_id, JSON.stringify(event), signature).changes === 1) return '{"inserted":true}';
        if (signature.equals(storedSignature.get(event.event_id) as Buffer)) return '{"inserted":false}';
        return '{"error":"event_id_conflict","message":"another event is stored under this id"}';
      }),
    ),
  );
  let wal: fs.FileHandle | null = null;

  const worker = new Worker(new URL('../../main/core/crypto/verify-worker.ts', import.meta.url));
  const checking = new Map<number, (results: Uint8Array) => void>();
  let nextId = 0;
  worker.on('message', (message: { ready?: true; id?: number; results?: Uint8Array }) => {
    if (message.id === undefined) return;
    checking.get(message.id)?.(message.results!);
    checking.delete(message.id);
  });
  // Without its verifier the process cannot answer anything truthfully: it ends (the bench sees it).
  worker.on('error', () => process.exit(1));
  worker.on('exit', () => process.exit(1));
  const verifyAll = (items: Array<{ signature: Buffer; message: Buffer }>): Promise<Uint8Array> => {
    const packed = packToVerify(items.map((item) => ({ ...item, publicKey })));
    const id = nextId++;
    return new Promise((resolve) => {
      checking.set(id, resolve);
      worker.postMessage({ id, kind: 'verify', count: items.length, packed }, [packed.buffer]);
    });
  };

  // Group commit: the batches checked meanwhile go in one transaction, then one WAL flush.
  let ready: Pending[] = [];
  let flushing = false;
  const commit = async (): Promise<void> => {
    if (flushing || ready.length === 0) return;
    flushing = true;
    const batches = ready;
    ready = [];
    try {
      const results = store(batches);
      wal ??= await fs.open(`${file}-wal`, 'r+');
      await wal.datasync();
      batches.forEach((batch, b) => {
        batch.res.setHeader('content-type', 'application/json');
        batch.res.end(`{"results":[${results[b]!.join(',')}]}`);
      });
    } catch {
      // Not stored, or not known to be on disk: nobody of the group hears "stored".
      for (const batch of batches) refuse(batch.res, 500, 'not_stored');
    } finally {
      flushing = false;
      void commit();
    }
  };

  const refuse = (res: http.ServerResponse, status: number, error: string) => {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ error, message: error }));
  };
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/stored') return res.end(String((db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      // One peer, one key: its request within the clock skew, its events signed by it (origin and key id of the request).
      const origin = String(req.headers[HEADER_ORIGIN]);
      const keyId = String(req.headers[HEADER_KEY_ID]);
      const timestamp = Number(req.headers[HEADER_TIMESTAMP]);
      if (!(Math.abs(Date.now() - timestamp) <= MAX_CLOCK_SKEW_MS)) return refuse(res, 401, 'stale_request');
      const requestSignature = Buffer.from(String(req.headers[HEADER_SIGNATURE]), 'hex');
      const signed = Buffer.from(signingString(req.method!, req.url!, timestamp, body), 'utf8');
      let events: Envelope[];
      const items: Array<{ signature: Buffer; message: Buffer }> = [{ signature: requestSignature, message: signed }];
      const signatures: Buffer[] = [];
      try {
        events = (JSON.parse(body.toString('utf8')) as { events: Envelope[] }).events;
        for (const event of events) {
          if (typeof event.event_id !== 'string' || typeof event.room_id !== 'string' || event.origin_server !== origin) return refuse(res, 400, 'bad_event');
          const signature = Buffer.from(String(event.signatures?.[origin]?.[keyId] ?? ''), 'hex');
          signatures.push(signature);
          items.push({ signature, message: envelopeSigningParts(event).bytes });
        }
      } catch {
        return refuse(res, 400, 'bad_request');
      }
      if (items.some((item) => item.signature.length !== SIGNATURE_BYTES)) return refuse(res, 401, 'bad_signature');
      void verifyAll(items).then((results) => {
        if (results.some((ok) => ok !== 1)) return refuse(res, 401, 'bad_signature');
        ready.push({ events, signatures, res });
        void commit();
      });
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as { port: number }).port}\n`));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { file, publicKeyHex } = JSON.parse(process.argv[2]!) as { file: string; publicKeyHex: string };
  serve(file, Buffer.from(publicKeyHex, 'hex'));
}
