import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GatewayThread } from './gateway-thread.ts';
import { PortMapper, mappingTtl } from './port-mapping.ts';
import { logged, posted, removedWhileRenewing, silentRouter } from '../../../test/helpers/gateway-stub.ts';

describe('removing a port mapping is bounded (the node\'s stop waits for it)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('a removal the router does not answer is given up after about 5 s, and the worker is ended', async () => {
    const terminate = vi.spyOn(Worker.prototype, 'terminate');
    const thread = silentRouter();
    const { warnings, log } = logged();
    const mapper = new PortMapper(thread, { methods: ['pmp'], log });
    expect(await mapper.map(7447)).toMatchObject({ ok: true, mapping: { external_port: 7447 } });
    const ended = terminate.mock.calls.length;
    const started = Date.now();
    await mapper.remove();
    // (Before: 30 s, the request's general deadline.)
    expect(Date.now() - started).toBeLessThan(6_500);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_900);
    expect(warnings).toEqual([{ event: 'port_unmap_failed', error: 'no answer in time' }]);
    expect(terminate.mock.calls.length).toBe(ended + 1);
    await thread.stop();
  }, 20_000);

  it('a renewal under way is waited for within the same 5 s; answered after that, it is taken back', async () => {
    const { post, thread, mapper, removalMs } = await removedWhileRenewing(7448);
    // (Before: it waited for the renewal's answer, then up to 30 s for the removal's.)
    expect(removalMs).toBeLessThan(6_500);
    expect(posted(post, 'unmap')).toBe(1);
    // The renewal is answered after the removal was sent: the router may hold the mapping again, so it is removed again.
    await vi.waitFor(() => expect(posted(post, 'unmap')).toBe(2), { timeout: 5_000, interval: 50 });
    expect(mapper.mapping).toBeNull();
    await thread.stop();
  }, 30_000);


  it('a removal that waited for a renewal names the port that renewal answered', async () => {
    process.env.PARACORD_TEST_RENEW_MS = '1000';
    process.env.PARACORD_TEST_RENEWED_AT = '198.51.100.7:7461';
    const post = vi.spyOn(Worker.prototype, 'postMessage');
    const thread = silentRouter();
    const mapper = new PortMapper(thread, { methods: ['pmp'], ttlMs: 65_000, log: logged().log });
    try {
      expect((await mapper.map(7455)).ok).toBe(true);
      await vi.waitFor(() => expect(posted(post, 'renew')).toBe(1), { timeout: 8_000, interval: 50 });
      const removing = mapper.remove();
      await vi.waitFor(() => expect(posted(post, 'unmap')).toBe(1), { timeout: 4_000, interval: 20 });
      const unmap = post.mock.calls.map((call) => call[0] as { op?: string; request?: unknown }).find((m) => m.op === 'unmap');
      // (Before: the mapping's port before the renewal, 7455, by then perhaps another device's.)
      expect(unmap?.request).toMatchObject({ externalPort: 7461, internalPort: 7455 });
      await thread.stop();
      await removing;
    } finally {
      delete process.env.PARACORD_TEST_RENEW_MS;
      delete process.env.PARACORD_TEST_RENEWED_AT;
      await thread.stop();
    }
  }, 20_000);
});

describe('a renewal is the mapping from then on: the external address and port the router answered', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    delete process.env.PARACORD_TEST_RENEW_MS;
    delete process.env.PARACORD_TEST_RENEWED_AT;
  });

  it('takes a new address (an ISP renumbered the router) and another port, tells them, and removes the port it holds now', async () => {
    // The stub router renews at once, at another address and port.
    process.env.PARACORD_TEST_RENEW_MS = '0';
    process.env.PARACORD_TEST_RENEWED_AT = '198.51.100.9:7460';
    const post = vi.spyOn(Worker.prototype, 'postMessage');
    const routerAddresses: string[] = [];
    const thread = new GatewayThread({ script: new URL('../../../test/helpers/stub-gateway-worker.ts', import.meta.url), onExternalAddress: (address) => routerAddresses.push(address) });
    let renewed = 0;
    const mapper = new PortMapper(thread, { methods: ['pmp'], ttlMs: 65_000, log: logged().log, onRenewed: () => renewed++ });
    try {
      expect(await mapper.map(7452)).toMatchObject({ ok: true, mapping: { external_address: '198.51.100.7', external_port: 7452 } });
      expect(routerAddresses).toEqual(['198.51.100.7']);
      // Renewed after 5 s (a 65-s lease).
      await vi.waitFor(() => expect(renewed).toBe(1), { timeout: 8_000, interval: 50 });
      // (Before: the first mapping's address and port stayed, and the router's new address was not told.)
      expect(mapper.mapping).toMatchObject({ external_address: '198.51.100.9', external_port: 7460, internal_port: 7452 });
      expect(routerAddresses).toEqual(['198.51.100.7', '198.51.100.9']);
      // The removal names the port the router holds the mapping at now.
      const removing = mapper.remove();
      await vi.waitFor(() => expect(posted(post, 'unmap')).toBe(1), { timeout: 2_000, interval: 20 });
      const unmap = post.mock.calls.map((call) => call[0] as { op?: string; request?: unknown }).find((m) => m.op === 'unmap');
      expect(unmap?.request).toMatchObject({ externalPort: 7460, internalPort: 7452 });
      // (The stub never answers a removal: the thread's stop answers it.)
      await thread.stop();
      await removing;
    } finally {
      await mapper.remove();
      await thread.stop();
    }
  }, 20_000);

  it('a renewal answer naming no usable address (a router whose WAN is down) keeps the address and takes the port', async () => {
    process.env.PARACORD_TEST_RENEW_MS = '0';
    process.env.PARACORD_TEST_RENEWED_AT = '-:7462';
    const routerAddresses: string[] = [];
    const thread = new GatewayThread({ script: new URL('../../../test/helpers/stub-gateway-worker.ts', import.meta.url), onExternalAddress: (address) => routerAddresses.push(address) });
    let renewed = 0;
    const mapper = new PortMapper(thread, { methods: ['pmp'], ttlMs: 65_000, log: logged().log, onRenewed: () => renewed++ });
    try {
      expect((await mapper.map(7456)).ok).toBe(true);
      await vi.waitFor(() => expect(renewed).toBe(1), { timeout: 8_000, interval: 50 });
      expect(mapper.mapping).toMatchObject({ external_address: '198.51.100.7', external_port: 7462 });
      expect(routerAddresses).toEqual(['198.51.100.7']);
    } finally {
      await thread.stop();
      await mapper.remove();
    }
  }, 20_000);

  it('a renewal of a mapping another device on the link made does not tell its address', async () => {
    process.env.PARACORD_TEST_RENEW_MS = '0';
    process.env.PARACORD_TEST_RENEWED_AT = '198.51.100.9:7453';
    process.env.PARACORD_TEST_MAP_ELSEWHERE = '1';
    const routerAddresses: string[] = [];
    const thread = new GatewayThread({ script: new URL('../../../test/helpers/stub-gateway-worker.ts', import.meta.url), onExternalAddress: (address) => routerAddresses.push(address) });
    let renewed = 0;
    const mapper = new PortMapper(thread, { methods: ['pmp'], ttlMs: 65_000, log: logged().log, onRenewed: () => renewed++ });
    try {
      expect(await mapper.map(7453)).toMatchObject({ ok: true });
      await vi.waitFor(() => expect(renewed).toBe(1), { timeout: 8_000, interval: 50 });
      expect(mapper.mapping).toMatchObject({ external_address: '198.51.100.9' });
      expect(routerAddresses).toEqual([]);
    } finally {
      delete process.env.PARACORD_TEST_MAP_ELSEWHERE;
      await thread.stop();
      await mapper.remove();
    }
  }, 20_000);
});

describe('the lease\'s test setting (PARACORD_TEST_MAPPING_TTL_MS)', () => {
  it('makes the lease shorter, never longer; anything else is the hour', () => {
    expect(mappingTtl(undefined)).toBe(3_600_000);
    expect(mappingTtl('65000')).toBe(65_000);
    expect(mappingTtl('64999')).toBe(3_600_000);
    expect(mappingTtl('7200000')).toBe(3_600_000);
    expect(mappingTtl('6.5e4')).toBe(3_600_000);
  });
});
