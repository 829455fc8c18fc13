/**
 * Issue #32 item 4: the default federation listener is `[::]:7447` (IPv4 and IPv6) and falls back
 * to IPv4 where the host cannot listen there; a listener the owner gave is used exactly as given.
 * In process, with real sockets: an IPv6 address this host does not have stands for "no IPv6"
 * (the same EADDRNOTAVAIL / EAFNOSUPPORT family of failure).
 */
import { createServer } from 'node:net';
import { describe, expect, it } from './helpers/fixtures.ts';
import { pino } from 'pino';
import { createNode } from '../main/core/node.ts';
import { DEFAULT_LISTEN, DEFAULT_LISTEN_IPV4, parseHostPort } from '../main/core/config.ts';
import { tempDir } from './helpers/temp-dir.ts';

describe('the default federation listener (issue #32 item 4)', () => {
  it('is dual-stack [::]:7447, with 0.0.0.0:7447 as its IPv4 fallback', () => {
    expect(parseHostPort(DEFAULT_LISTEN, '--listen')).toEqual({ host: '::', port: 7447 });
    expect(parseHostPort(DEFAULT_LISTEN_IPV4, '--listen')).toEqual({ host: '0.0.0.0', port: 7447 });
  });

  it('falls back when the host cannot listen there; without a fallback (a listener the owner gave) the start fails as before', async ({ nodes }) => {
    const unavailable = '[2001:db8::7447]:0';
    const fallen = await nodes.inProcess('fallback.test', { listen: unavailable, config: { listenFallback: '127.0.0.1:0' } });
    expect(fallen.started.federation_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const discovery = await fetch(`${fallen.started.federation_url}/.well-known/paracord/server`);
    expect(discovery.status).toBe(200);
    // An IPv4 listener publishes no IPv6 endpoint.
    expect((await discovery.json()).federation_endpoints).toEqual([fallen.started.federation_url]);

    const given = createNode({ dataDir: tempDir('paracord-given-'), serverName: 'given.test', listen: unavailable, adminListen: '127.0.0.1:0', insecureHttp: true }, { log: pino({ level: 'silent' }) });
    try {
      await expect(given.start()).rejects.toMatchObject({ code: expect.stringMatching(/^(EADDRNOTAVAIL|EAFNOSUPPORT)$/) });
    } finally {
      await given.stop();
    }
  });

  it('a fallback is not used for other failures (the port is taken)', async ({ nodes }) => {
    const taken = createServer();
    nodes.servers.push(taken);
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    const node = createNode({ dataDir: tempDir('paracord-taken-'), serverName: 'taken.test', listen: `127.0.0.1:${port}`, listenFallback: '127.0.0.1:0', adminListen: '127.0.0.1:0', insecureHttp: true }, { log: pino({ level: 'silent' }) });
    try {
      await expect(node.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await node.stop();
    }
  });
});
