import type { Middleware } from 'koa';
import { PassThrough } from 'node:stream';
import type { NodeEvents, NodeNotification } from '../node-events.ts';

/**
 * `GET /events`: Server-Sent Events with live room updates and status changes for the UI.
 * Each notification is one `event: <type>` message with JSON data; a comment every 25 s
 * keeps proxies and browsers from closing an idle stream.
 */
export function serverSentEvents(events: NodeEvents): Middleware {
  return (ctx) => {
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setKeepAlive(true);
    ctx.set({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const stream = new PassThrough();
    ctx.status = 200;
    // Written here rather than by Koa: Koa's writer tests a stream body with `instanceof
    // Response`, which loads Node's bundled undici (main/core/http/json-body.ts).
    ctx.respond = false;
    ctx.res.writeHead(200, ctx.response.headers);
    stream.pipe(ctx.res);
    const send = (notification: NodeNotification) => {
      stream.write(`event: ${notification.type}\ndata: ${JSON.stringify(notification)}\n\n`);
    };
    stream.write(': connected\n\n');
    events.on('notification', send);
    const keepAlive = setInterval(() => stream.write(': keep-alive\n\n'), 25_000);
    const close = () => {
      clearInterval(keepAlive);
      events.off('notification', send);
      events.off('close', close);
      stream.end();
    };
    ctx.req.on('close', close);
    stream.on('error', close);
    events.once('close', close);
  };
}
