import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the proxy answers itself instead of forwarding (a status and a JSON body); `'hold'`: it
 * answers nothing, the request hangs until its sender gives up or the proxy closes; null: forwarded.
 */
export type ProxyRefusal = { status: number; body?: string } | 'hold' | null;

/**
 * A real HTTP proxy on 127.0.0.1 to `target` that answers a request itself when `refuse` says so:
 * a network problem between two nodes (a keys endpoint failing, a way that is down), switched on
 * and off by the test. Nodes reach each other through it when one is added as a peer at `url`.
 */
export async function switchProxy(target: string, refuse: (req: IncomingMessage) => ProxyRefusal): Promise<{ url: string; close(): void }> {
  const to = new URL(target);
  const proxy = createServer((req, res) => {
    const refusal = refuse(req);
    if (refusal === 'hold') return;
    if (refusal) {
      res.statusCode = refusal.status;
      res.setHeader('content-type', 'application/json');
      res.end(refusal.body ?? '{"error":"unavailable","message":"down"}');
      return;
    }
    const forwarded = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forwarded.on('error', () => {
      res.statusCode = 502;
      res.end();
    });
    req.pipe(forwarded);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    close: () => {
      proxy.closeAllConnections();
      proxy.close();
    },
  };
}
