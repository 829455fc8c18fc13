/**
 * WebSocket upgrades go through the admin app's middleware like any request (host check, one
 * spelling per path, the token or session check, the request log): the `upgrade` event's request
 * gets a response object on its socket, so a refusal is an ordinary JSON answer (401, 403, 404…)
 * written to that socket, which is then closed. A middleware that takes the upgrade (stream.ts)
 * sets `ctx.respond = false` and hands the socket to the WebSocket server.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ServerResponse } from '../../http/node-http.ts';

/** The upgrade's socket and the bytes that came after its head, for the middleware that takes it. */
export interface UpgradeRequest extends IncomingMessage {
  upgradeSocket?: Duplex;
  upgradeHead?: Buffer;
}

/** How long an upgrade may take to be answered or taken before its socket is cut. */
const UPGRADE_TIMEOUT_MS = 30_000;

export interface UpgradedSockets {
  /** Cuts every upgraded connection still open (the end of a shutdown's grace period). */
  destroyAll(): void;
}

/**
 * Only `GET` with `Upgrade: websocket` is passed through (any other upgrade is refused with 400 and
 * cut: a body sent with it would be lost, and no path takes another protocol). Node no longer
 * times these sockets out nor closes them with its connections, so they are tracked here: cut
 * after a refusal is written, cut when nothing took them within UPGRADE_TIMEOUT_MS, and cut by
 * `destroyAll()`.
 */
export function passUpgradesThrough(server: Server, handle: (req: IncomingMessage, res: import('node:http').ServerResponse) => unknown): UpgradedSockets {
  const open = new Set<Duplex>();
  server.on('upgrade', (req: UpgradeRequest, socket: Duplex, head: Buffer) => {
    const net = socket as import('node:net').Socket;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => socket.destroy());
    if (req.method !== 'GET' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-type: application/json\r\n\r\n{"error":"bad_upgrade","message":"only GET with Upgrade: websocket is taken here"}');
      net.destroySoon();
      return;
    }
    net.setTimeout(UPGRADE_TIMEOUT_MS, () => socket.destroy());
    req.upgradeSocket = socket;
    req.upgradeHead = head;
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(net);
    // A refusal answered over the socket: once written, the connection is cut (not half-closed).
    res.on('finish', () => {
      if (req.upgradeSocket) net.destroySoon();
    });
    void handle(req, res);
  });
  return {
    destroyAll: () => {
      for (const socket of open) socket.destroy();
    },
  };
}

/** Takes the socket over from the response object (the middleware accepted the upgrade). */
export function takeUpgrade(req: UpgradeRequest, res: import('node:http').ServerResponse): { socket: Duplex; head: Buffer } | null {
  const socket = req.upgradeSocket;
  if (!socket) return null;
  req.upgradeSocket = undefined;
  res.detachSocket(socket as import('node:net').Socket);
  (socket as import('node:net').Socket).setTimeout(0);
  return { socket, head: req.upgradeHead ?? Buffer.alloc(0) };
}
