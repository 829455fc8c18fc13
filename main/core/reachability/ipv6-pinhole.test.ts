import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GatewayThread } from './gateway-thread.ts';
import { Ipv6Pinhole } from './ipv6-pinhole.ts';

const FAULT = '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><detail><UPnPError><errorCode>704</errorCode><errorDescription>NoSuchEntry</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>';

/**
 * A router's WANIPv6FirewallControl:1 on [::1] that opens pinholes at once, answers UpdatePinhole
 * 2 s late with a fault (it forgot the pinhole), and never answers DeletePinhole.
 */
async function slowFirewall() {
  const calls: string[] = [];
  const server = createServer((req, res: ServerResponse) => {
    const action = /#(\w+)"$/.exec(String(req.headers.soapaction))?.[1] ?? '';
    calls.push(action);
    req.resume();
    if (action === 'AddPinhole') res.writeHead(200, { 'content-type': 'text/xml' }).end(`<UniqueID>${calls.length}</UniqueID>`);
    if (action === 'UpdatePinhole') setTimeout(() => res.writeHead(500, { 'content-type': 'text/xml' }).end(FAULT), 2_000);
  });
  await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
  const close = () => {
    server.closeAllConnections();
    server.close();
  };
  return { calls, url: `http://[::1]:${(server.address() as AddressInfo).port}/ctl`, close };
}

describe('closing an IPv6 pinhole is bounded (the node\'s stop waits for it)', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('a closing takes at most about 5 s, a renewal under way included, and a renewal whose UpdatePinhole fails meanwhile opens no pinhole again', async () => {
    const firewall = await slowFirewall();
    // The stub worker (test/helpers/stub-gateway-worker.ts) names this control URL as the router's.
    vi.stubEnv('PARACORD_TEST_CONTROL_URL', firewall.url);
    const thread = new GatewayThread({ script: new URL('../../../test/helpers/stub-gateway-worker.ts', import.meta.url) });
    const warnings: object[] = [];
    // A 65-s lease is renewed after 5 s.
    const pinhole = new Ipv6Pinhole(thread, { ttlMs: 65_000, log: { info: () => undefined, warn: (o) => void warnings.push(o) } });
    try {
      expect(await pinhole.open('::1', 7449)).toMatchObject({ ok: true });
      await vi.waitFor(() => expect(firewall.calls).toContain('UpdatePinhole'), { timeout: 8_000, interval: 50 });
      const started = Date.now();
      await pinhole.remove();
      // The renewal's UpdatePinhole failed while the closing waited for it: no AddPinhole opened it again (before: one did).
      expect(firewall.calls).toEqual(['AddPinhole', 'UpdatePinhole', 'DeletePinhole']);
      // (Before: the renewal, 2 s, its AddPinhole after the fault, then 5 s for DeletePinhole.)
      expect(Date.now() - started).toBeLessThan(6_500);
      expect(warnings).toEqual([{ event: 'ipv6_pinhole_close_failed', error: expect.stringMatching(/no answer in time|aborted/) }]);
      expect(pinhole.pinhole).toBeNull();
    } finally {
      firewall.close();
      await thread.stop();
    }
  }, 30_000);
});
