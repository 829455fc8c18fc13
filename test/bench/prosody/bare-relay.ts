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
 */
import { spawn, type ChildProcess } from 'node:child_process';
import WebSocket from 'ws';
import { REPO_ROOT } from '../../helpers/node-process.ts';
import { readServerSentEvents } from '../bench-nodes.ts';

/** Process B: takes `POST /` with a JSON array of frames, answers, and streams each on `GET /events`. */
const RECEIVER = `
  const http = require('node:http');
  const streams = new Set();
  const server = http.createServer((req, res) => {
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
      const frames = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      res.end('{"ok":true}');
      let text = '';
      for (const frame of frames) text += 'data: ' + JSON.stringify(frame.body) + '\\n\\n';
      for (const stream of streams) stream.write(text);
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));`;

/** Process A: a WebSocket server; forwards what it has to B in one request, answers each frame after B answered. */
const SENDER = (receiverPort: number) => `
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
      const response = await request('http://127.0.0.1:${receiverPort}/', { method: 'POST', body: JSON.stringify(frames), headers: { 'content-type': 'application/json' }, dispatcher: agent });
      await response.body.text();
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
export async function startBareRelay(): Promise<{ side: RelaySide; stop: () => void }> {
  const receiver = await startProgram(RECEIVER);
  const sender = await startProgram(SENDER(receiver.port)).catch((error: unknown) => {
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
    stop: () => {
      stopReading();
      ws.close();
      sender.child.kill();
      receiver.child.kill();
    },
  };
}
