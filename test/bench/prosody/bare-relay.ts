/**
 * The runtime's floor under goals 2 and 3 of issue #17, measured with the comparison's own
 * workload in the same run: two bare Node.js processes shaped like our user-to-user path and
 * doing nothing else. The client sends each message as a WebSocket frame to process A; A
 * forwards the frames it has (one at a time at a low rate, all of them at saturation) in one
 * HTTP request to process B over a kept-alive connection and answers each frame when B has
 * answered; B answers the request and writes each message to its Server-Sent Events stream,
 * which the client reads. No storage, no signatures, no schema, no authorization.
 *
 * Whatever this costs at 200 messages/s (A's CPU per message, the latency) our nodes cost at
 * least as much: they take the same three hops per message (the admin stream, one federation
 * request, the event stream; the protocol makes the middle one an HTTP request), and do their
 * work on top.
 *
 * The same relay with the protocol's minimum (`startBareRelay({ minimum: dir })`): what the design
 * requires of every message and nothing else, written as plainly as it can be. A signs each
 * message (ed25519, sodium-native), commits the frames in hand to SQLite (better-sqlite3, WAL: one
 * row each in one table) and forwards them in one request signed over the SHA-256 of its body,
 * flushing its WAL to disk while B works. B checks the request's signature and every message's,
 * commits them, streams them, flushes and answers; A answers each frame then. Nothing is
 * acknowledged before it is on disk, and no fsync is on the way from sender to reader (as in our
 * nodes, which deliver and notify at the commit). No schema, authorization, outbox, indexes, logs
 * or thread hops. Whatever this costs per message, a node that keeps the protocol's promises costs
 * at least; its saturation is not a ceiling (each flush holds its process's only thread).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { request } from 'undici';
import WebSocket from 'ws';
import { keyPairFromSeed, randomSeed } from '../../../main/core/crypto/ed25519.ts';
import { REPO_ROOT } from '../../helpers/node-process.ts';
import { readServerSentEvents } from '../bench-nodes.ts';

/**
 * The protocol's minimum (`minimum`), as program text: ed25519 from sodium-native, and storage
 * the way a node keeps it cheapest: `store` commits the rows to the SQLite WAL (synchronous
 * NORMAL) and `flush` then waits for the WAL to reach the disk (fdatasync, on the main thread:
 * no thread hop), so that other work may go between the two. A stores `(body, signature)` rows
 * in `<dir>/a.sqlite`, B in `<dir>/b.sqlite`.
 */
const STORAGE = (file: string) => `
  const sodium = require('sodium-native');
  const { createHash } = require('node:crypto');
  const { fdatasyncSync, openSync } = require('node:fs');
  const Database = require('better-sqlite3');
  const db = new Database(${JSON.stringify(file)});
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, body TEXT NOT NULL, signature BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO messages (body, signature) VALUES (?, ?)');
  const store = db.transaction((rows) => { for (const row of rows) insert.run(row.body, row.signature); });
  const wal = openSync(${JSON.stringify(`${file}-wal`)}, 'r');
  const flush = () => fdatasyncSync(wal);
  const digest = (text) => createHash('sha256').update(text).digest();`;

/**
 * Process B: takes `POST /` with a JSON array of frames, answers, and streams each on `GET /events`
 * (`GET /stored`: how many it took). With `minimum`: checks the request's signature and each
 * frame's, commits them, streams them (as a node notifies its users at the commit), and answers
 * once they are on disk.
 */
const RECEIVER = (minimum?: { file: string; publicKeyHex: string }) => `
  ${minimum ? STORAGE(minimum.file) : ''}
  ${minimum ? `const publicKey = Buffer.from('${minimum.publicKeyHex}', 'hex');` : ''}
  let stored = 0;
  const http = require('node:http');
  const streams = new Set();
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/stored') return res.end(String(stored));
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': connected\\n\\n');
      streams.add(res);
      req.on('close', () => streams.delete(res));
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const frames = JSON.parse(text);
      ${
        minimum
          ? `const requestSignature = Buffer.from(String(req.headers['x-signature']), 'hex');
      if (requestSignature.length !== 64 || !sodium.crypto_sign_verify_detached(requestSignature, digest(text), publicKey)) {
        res.statusCode = 401;
        return res.end('{"error":"bad_request_signature"}');
      }
      const rows = [];
      for (const frame of frames) {
        const body = JSON.stringify({ id: frame.id, body: frame.body });
        const signature = Buffer.from(frame.signature, 'hex');
        if (signature.length !== 64 || !sodium.crypto_sign_verify_detached(signature, Buffer.from(body), publicKey)) {
          res.statusCode = 403;
          return res.end('{"error":"bad_signature"}');
        }
        rows.push({ body, signature });
      }
      store(rows);`
          : ''
      }
      stored += frames.length;
      let out = '';
      for (const frame of frames) out += 'data: ' + JSON.stringify(frame.body) + '\\n\\n';
      for (const stream of streams) stream.write(out);
      ${minimum ? 'flush();' : ''}
      res.end('{"ok":true}');
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));`;

/**
 * Process A: a WebSocket server; forwards what it has to B in one request, answers each frame
 * after B answered. With `minimum`: signs each frame and commits them before forwarding, signs
 * the request over its body's digest, and flushes its WAL while B works (a frame is answered
 * only once it is on A's disk and B's).
 */
const SENDER = (receiverPort: number, minimum?: { file: string; seedHex: string }) => `
  ${
    minimum
      ? `${STORAGE(minimum.file)}
  const secretKey = Buffer.alloc(sodium.crypto_sign_SECRETKEYBYTES);
  sodium.crypto_sign_seed_keypair(Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES), secretKey, Buffer.from('${minimum.seedHex}', 'hex'));
  const signBytes = (bytes) => { const signature = Buffer.alloc(64); sodium.crypto_sign_detached(signature, bytes, secretKey); return signature; };`
      : ''
  }
  const { WebSocketServer } = require('ws');
  const { Agent, request } = require('undici');
  const agent = new Agent({ keepAliveTimeout: 60000 });
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false }, () => process.stdout.write(String(server.address().port) + '\\n'));
  server.on('connection', (ws) => {
    let queue = [];
    let sending = false;
    const next = async () => {
      if (sending || queue.length === 0) return;
      sending = true;
      const frames = queue.splice(0, 500);
      ${
        minimum
          ? `const rows = frames.map((frame) => { const body = JSON.stringify({ id: frame.id, body: frame.body }); return { body, signature: signBytes(Buffer.from(body)) }; });
      store(rows);
      const text = JSON.stringify(frames.map((frame, i) => ({ id: frame.id, body: frame.body, signature: rows[i].signature.toString('hex') })));
      const headers = { 'content-type': 'application/json', 'x-signature': signBytes(digest(text)).toString('hex') };`
          : `const text = JSON.stringify(frames);
      const headers = { 'content-type': 'application/json' };`
      }
      const answer = request('http://127.0.0.1:${receiverPort}/', { method: 'POST', body: text, headers, dispatcher: agent });
      ${minimum ? 'await new Promise((resolve) => setImmediate(resolve)); flush();' : ''}
      const response = await answer;
      const result = await response.body.text();
      if (response.statusCode !== 200) throw new Error('receiver answered ' + response.statusCode + ': ' + result);
      for (const frame of frames) ws.send(JSON.stringify({ id: frame.id, ok: true }));
      sending = false;
      void next();
    };
    ws.on('message', (data) => {
      queue.push(JSON.parse(String(data)));
      void next();
    });
  });`;

function startProgram(program: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-e', program], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve({ child, port: Number(out.trim()) });
    });
    child.once('exit', (code) => reject(new Error(`bare relay process exited ${code}`)));
  });
}

/** What compare.ts's workload needs of a side. */
export interface RelaySide {
  senderPid: number;
  receiverPid: number;
  send(i: number): Promise<void> | undefined;
  onReceipt: (i: number, latencyMs: number, arrivedAt: number) => void;
}

/** Starts the two processes and the client's two connections; `stop` ends them all. */
export async function startBareRelay(options: { minimum?: string } = {}): Promise<{ side: RelaySide; stored: () => Promise<number>; stop: () => void }> {
  const seed = randomSeed();
  const dir = options.minimum;
  const receiver = await startProgram(RECEIVER(dir ? { file: join(dir, 'b.sqlite'), publicKeyHex: keyPairFromSeed(seed).publicKey.toString('hex') } : undefined));
  const sender = await startProgram(SENDER(receiver.port, dir ? { file: join(dir, 'a.sqlite'), seedHex: seed.toString('hex') } : undefined)).catch((error: unknown) => {
    receiver.child.kill();
    throw error;
  });
  const ws = new WebSocket(`ws://127.0.0.1:${sender.port}/`, { perMessageDeflate: false });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const waiting = new Map<number, () => void>();
  ws.on('message', (data) => {
    const { id } = JSON.parse(String(data)) as { id: number };
    waiting.get(id)?.();
    waiting.delete(id);
  });
  const side: RelaySide = {
    senderPid: sender.child.pid!,
    receiverPid: receiver.child.pid!,
    send: (i) =>
      new Promise<void>((done) => {
        waiting.set(i, done);
        ws.send(JSON.stringify({ id: i, body: `${i} ${performance.now()}` }));
      }),
    onReceipt: () => undefined,
  };
  const stopReading = await readServerSentEvents(`http://127.0.0.1:${receiver.port}/events`, {}, (_type, data, at) => {
    const [i, sent] = (JSON.parse(data) as string).split(' ');
    side.onReceipt(Number(i), at - Number(sent), at);
  });
  return {
    side,
    /** How many messages B took (checked and stored, with `minimum`). */
    stored: async () => Number(await (await request(`http://127.0.0.1:${receiver.port}/stored`)).body.text()),
    stop: () => {
      stopReading();
      ws.close();
      sender.child.kill();
      receiver.child.kill();
    },
  };
}
