/**
 * A real HTTP proxy on 127.0.0.1 that reads each request's body before it decides, and may change
 * the target's JSON answer: it stands in for a peer of another version in front of a real node
 * (one whose strict schema answers 400 to a field it does not know, or one that answers a field
 * otherwise), while everything else is the real node's. Its discovery names the proxy as the
 * node's federation endpoint (a node dials an endpoint on loopback only when its owner gave it).
 * Every exchange is noted, in order.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Exchange {
  method: string;
  /** Without the query. */
  path: string;
  /** The request's body, parsed (undefined when it is none or not JSON). */
  body: any;
  /** What the proxy answered, and the answer's JSON as sent. */
  status: number;
  answer: any;
  /** When the request came (Date.now()). */
  at: number;
}

export interface ReadingProxyRules {
  /** Answers the request itself (not forwarded) when it returns an answer. */
  answer?: (method: string, path: string, body: any) => { status: number; body: unknown } | null;
  /** The target's JSON answer as sent on (return it unchanged to keep it). */
  rewrite?: (method: string, path: string, body: any, status: number, answer: any) => unknown;
}

const parse = (text: string): any => {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
};

const DISCOVERY = '/.well-known/paracord/server';

export async function readingProxy(target: string, rules: ReadingProxyRules): Promise<{ url: string; exchanges: Exchange[]; server: Server; close(): void }> {
  const to = new URL(target);
  const exchanges: Exchange[] = [];
  let url = '';
  const proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      const raw = Buffer.concat(chunks);
      const method = req.method ?? 'GET';
      const path = (req.url ?? '/').split('?')[0]!;
      const body = parse(raw.toString('utf8'));
      const send = (status: number, answer: unknown, headers: Record<string, string | string[] | undefined> = {}) => {
        const text = answer === undefined ? '' : JSON.stringify(answer);
        exchanges.push({ method, path, body, status, answer, at });
        const { 'content-length': _length, 'content-encoding': _coding, 'transfer-encoding': _encoding, connection: _connection, ...kept } = headers;
        res.writeHead(status, { ...kept, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
        res.end(text);
      };
      const own = rules.answer?.(method, path, body) ?? null;
      if (own) return send(own.status, own.body);
      // Asked for plain JSON (no compression), which it reads.
      const { 'accept-encoding': _accepts, ...headers } = req.headers;
      const forwarded = request({ host: to.hostname, port: to.port, method, path: req.url, headers: { ...headers, host: to.host } }, (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (c: Buffer) => parts.push(c));
        answer.on('end', () => {
          const json = parse(Buffer.concat(parts).toString('utf8'));
          const status = answer.statusCode ?? 502;
          if (path === DISCOVERY && json?.federation_endpoint === to.origin) json.federation_endpoint = url;
          send(status, rules.rewrite ? rules.rewrite(method, path, body, status, json) : json, answer.headers);
        });
      });
      forwarded.on('error', () => send(502, { error: 'bad_gateway', message: 'the proxy could not reach its target' }));
      forwarded.end(raw);
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  return {
    url,
    exchanges,
    server: proxy,
    close: () => {
      proxy.closeAllConnections();
      proxy.close();
    },
  };
}
