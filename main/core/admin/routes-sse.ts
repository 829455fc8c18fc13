import type { Middleware, ParameterizedContext } from 'koa';
import type { NodeEvents, NodeNotification } from '../node-events.ts';
import { CredentialGate } from './credential-gate.ts';

/**
 * `GET /events`: Server-Sent Events with live room updates and status changes for the UI.
 * Each notification is one `event: <type>` message with JSON data; a comment every 25 s
 * keeps proxies and browsers from closing an idle stream. After a `status` notification the
 * request's credential is checked again (`reauthorize`, the same check it passed): a session
 * signed out or revoked elsewhere ends its stream at once, before it is told anything more.
 */
export function serverSentEvents(events: NodeEvents, reauthorize: (ctx: ParameterizedContext) => Promise<void>, live?: (ctx: ParameterizedContext) => () => boolean): Middleware {
  return (ctx) => {
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setKeepAlive(true);
    ctx.set({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    ctx.status = 200;
    // Written here rather than by Koa: Koa's writer tests a stream body with `instanceof
    // Response`, which loads Node's bundled undici (main/core/http/json-body.ts).
    ctx.respond = false;
    const res = ctx.res;
    res.writeHead(200, ctx.response.headers);
    // What one turn of the event loop notifies goes out as one string in one write: a batch of
    // 500 stored events is one chunk on the wire, not 500 (issue #36). Corking the response had
    // made one chunk per notification in one system call (Node's chunked encoding frames each
    // write); joined, 40,000 notifications in turns of 500, stream and reader in one process,
    // cost 2.9–3.2 µs of CPU each against 7.9–11.3 corked (2026-11-26).
    let pending = '';
    const flush = () => {
      const text = pending;
      pending = '';
      if (!res.writableEnded && !res.destroyed) res.write(text);
    };
    const write = (text: string) => {
      if (res.writableEnded || res.destroyed) return;
      if (pending === '') process.nextTick(flush);
      pending += text;
    };
    const gate = new CredentialGate(
      () => reauthorize(ctx),
      (notification) => write(`event: ${notification.type}\ndata: ${JSON.stringify(notification)}\n\n`),
      () => close(),
      live?.(ctx),
    );
    const send = (notification: NodeNotification) => {
      if (notification.type === 'status') gate.recheck();
      gate.offer(notification);
    };
    write(': connected\n\n');
    events.on('notification', send);
    const keepAlive = setInterval(() => write(': keep-alive\n\n'), 25_000);
    const close = () => {
      clearInterval(keepAlive);
      events.off('notification', send);
      events.off('close', close);
      if (!res.writableEnded) res.end();
    };
    ctx.req.on('close', close);
    res.on('error', close);
    events.once('close', close);
  };
}
