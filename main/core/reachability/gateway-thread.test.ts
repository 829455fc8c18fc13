import { describe, expect, it } from 'vitest';
import { GatewayThread, plain } from './gateway-thread.ts';

describe('plain (the words of a failed gateway call: much of it a LAN device\'s own text)', () => {
  it('escapes control and bidi characters, cuts at 200 characters, and says a timeout in words', () => {
    expect(plain(new Error('Bad content type \u001b[2J\u202egnp.exe'))).toBe('Bad content type \\x1b[2J\\u202egnp.exe');
    expect(plain(new Error('x'.repeat(300)))).toHaveLength(201);
    expect(plain(Object.assign(new Error('aborted'), { name: 'TimeoutError' }))).toBe('no answer in time');
    expect(plain('a plain string\r\nOK')).toBe('a plain string\\x0d\\x0aOK');
  });
});

describe('the router\'s public address, told as a mapping is made or renewed (home-addresses.ts RouterAddresses)', () => {
  const stub = new URL('../../../test/helpers/stub-gateway-worker.ts', import.meta.url);
  const request = { method: 'pmp', port: 7447, ttlMs: 60_000, description: 'test' } as const;

  it('is told for a mapping made at our default gateway, and not for one another device on the link made', async () => {
    const told: string[] = [];
    const thread = new GatewayThread({ script: stub, onExternalAddress: (address) => told.push(address) });
    try {
      expect(await thread.ask('map', request)).toMatchObject({ ok: true, value: { external_address: '198.51.100.7', at_default_gateway: true } });
      expect(told).toEqual(['198.51.100.7']);
    } finally {
      await thread.stop();
    }
    // Another device that answered as a router (its words could name anybody's address): not told.
    process.env.PARACORD_TEST_MAP_ELSEWHERE = '1';
    const elsewhere = new GatewayThread({ script: stub, onExternalAddress: (address) => told.push(address) });
    try {
      expect(await elsewhere.ask('map', request)).toMatchObject({ ok: true, value: { at_default_gateway: false } });
      expect(told).toEqual(['198.51.100.7']);
    } finally {
      delete process.env.PARACORD_TEST_MAP_ELSEWHERE;
      await elsewhere.stop();
    }
  });

  it('is told again by a renewal of a mapping made at our default gateway (an ISP that renumbered the router), and not by one another device made', async () => {
    const told: string[] = [];
    process.env.PARACORD_TEST_RENEW_MS = '0';
    process.env.PARACORD_TEST_RENEWED_AT = '198.51.100.9:7450';
    const thread = new GatewayThread({ script: stub, onExternalAddress: (address) => told.push(address) });
    const renewal = { gateway: { protocol: 'nat-pmp', host: '192.0.2.1' }, port: 7447, internalAddress: '192.0.2.2', externalPort: 7447, ttlMs: 60_000, description: 'test' } as const;
    try {
      // (Before: the renewal's answer said nothing of the router's address or port, and nothing was told.)
      expect(await thread.ask('renew', { ...renewal, atDefaultGateway: true })).toEqual({ ok: true, value: { renewed: true, external_address: '198.51.100.9', external_port: 7450 } });
      expect(told).toEqual(['198.51.100.9']);
      expect(await thread.ask('renew', { ...renewal, atDefaultGateway: false })).toMatchObject({ ok: true });
      expect(told).toEqual(['198.51.100.9']);
    } finally {
      delete process.env.PARACORD_TEST_RENEW_MS;
      delete process.env.PARACORD_TEST_RENEWED_AT;
      await thread.stop();
    }
  });

  it('a listener that throws does not keep the mapping\'s answer from its caller', async () => {
    const thread = new GatewayThread({
      script: stub,
      onExternalAddress: () => {
        throw new Error('a broken listener');
      },
    });
    try {
      expect(await thread.ask('map', request)).toMatchObject({ ok: true });
    } finally {
      await thread.stop();
    }
  });
});
