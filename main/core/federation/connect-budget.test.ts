import { describe, expect, it } from 'vitest';
import { AddressPolicy, MAX_CONNECT_ATTEMPTS, guardedConnect } from './address-policy.ts';
import type { EndpointFailover } from './endpoint-failover.ts';

/** Public addresses (a name's, as a discovery's alternates list them): nine each. */
const many = (prefix: string) => Array.from({ length: 9 }, (_, i) => ({ address: `${prefix}.${i + 1}`, family: 4 as const }));

describe('one connection asked makes a bounded number of tries, whatever the names resolve to', () => {
  it('at most eight of the origin\'s addresses, then at most two of each alternate\'s, eight in all; every try fails at the network level', async () => {
    const table: Record<string, Array<{ address: string; family: 4 }>> = { 'origin.example': many('93.184.216'), ...Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`alt${i}.example`, many(`151.101.${i}`)])) };
    const policy = new AddressPolicy({ insecureHttp: false, allowPrivateAddresses: false, lookup: async (name) => table[name] ?? [] });
    const tried: string[] = [];
    const base = (options: { hostname: string }, callback: (error: Error | null, socket: unknown) => void) => {
      tried.push(options.hostname);
      setImmediate(() => callback(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), null));
    };
    const alternates = {
      alternatesOf: () => Array.from({ length: 8 }, (_, i) => ({ endpoint: `https://alt${i}.example`, host: `alt${i}.example`, port: '443' })),
      prefersAlternate: () => false,
      worked: () => undefined,
    } as unknown as EndpointFailover;
    const connect = guardedConnect(policy, base, { vouch: 'none', pinned: true }, undefined, { alternates });
    const error = await new Promise<Error | null>((resolve) => connect({ hostname: 'origin.example', protocol: 'https:', port: '443' }, (e) => resolve(e)));
    expect(error).not.toBeNull();
    // (Before: 9 of the origin's, then 9 of each of eight alternates: 81 connection attempts for one request.)
    expect(tried.filter((a) => a.startsWith('93.'))).toHaveLength(MAX_CONNECT_ATTEMPTS);
    expect(tried.filter((a) => a.startsWith('151.'))).toHaveLength(MAX_CONNECT_ATTEMPTS);
    expect(tried.filter((a) => a.startsWith('151.101.0.'))).toHaveLength(2);
  });

  it('alternates tried first (one worked before) that are all dead leave the origin its own tries: a peer that came back is reached', async () => {
    const table: Record<string, Array<{ address: string; family: 4 }>> = { 'origin.example': [{ address: '93.184.216.34', family: 4 }], ...Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`alt${i}.example`, many(`151.101.${i}`)])) };
    const policy = new AddressPolicy({ insecureHttp: false, allowPrivateAddresses: false, lookup: async (name) => table[name] ?? [] });
    const socket = { destroy: () => undefined };
    const base = (options: { hostname: string }, callback: (error: Error | null, socket: unknown) => void) => {
      setImmediate(() => (options.hostname === '93.184.216.34' ? callback(null, socket) : callback(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), null)));
    };
    const worked: string[] = [];
    const alternates = {
      alternatesOf: () => Array.from({ length: 8 }, (_, i) => ({ endpoint: `https://alt${i}.example`, host: `alt${i}.example`, port: '443' })),
      prefersAlternate: () => true,
      worked: (_origin: string, endpoint: string) => worked.push(endpoint),
    } as unknown as EndpointFailover;
    const connect = guardedConnect(policy, base, { vouch: 'none', pinned: true }, undefined, { alternates });
    const connected = await new Promise<unknown>((resolve) => connect({ hostname: 'origin.example', protocol: 'https:', port: '443' }, (e, s) => resolve(e ?? s)));
    // (With one budget for both: the alternates spent it, and the origin was never tried again.)
    expect(connected).toBe(socket);
    expect(worked).toEqual(['https://origin.example']);
  });
});
