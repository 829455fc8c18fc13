/**
 * WebSocket upgrades go through the admin app's middleware like any request (host check, one
 * spelling per path, the token or session check, the request log): the `upgrade` event's request
 * gets a response object on its socket, so a refusal is an ordinary JSON answer (401, 403, 404…)
 * written to that socket, which is then closed. A middleware that takes the upgrade (stream.ts)
 * sets `ctx.respond = false` and hands the socket to the WebSocket server.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { createRequire } from 'node:module';

// node:http through require, as node-http.ts explains (the ES facade loads Node's bundled undici).
const { ServerResponse } = createRequire(import.meta.url)('node:http') as typeof import('node:http');

/** The upgrade's socket and the bytes that came after its head, for the middleware that takes it. */
export interface UpgradeRequest extends IncomingMessage {
  upgradeSocket?: Duplex;
  upgradeHead?: Buffer;
}

export function passUpgradesThrough(server: Server, handle: (req: IncomingMessage, res: import('node:http').ServerResponse) => unknown): void {
  server.on('upgrade', (req: UpgradeRequest, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    req.upgradeSocket = socket;
    req.upgradeHead = head;
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as import('node:net').Socket);
    // A refusal answered over the socket: once written, the connection is done.
    res.on('finish', () => {
      if (req.upgradeSocket) socket.end();
    });
    void handle(req, res);
  });
}

/** Takes the socket over from the response object (the middleware accepted the upgrade). */
export function takeUpgrade(req: UpgradeRequest, res: import('node:http').ServerResponse): { socket: Duplex; head: Buffer } | null {
  const socket = req.upgradeSocket;
  if (!socket) return null;
  req.upgradeSocket = undefined;
  res.detachSocket(socket as import('node:net').Socket);
  return { socket, head: req.upgradeHead ?? Buffer.alloc(0) };
}
