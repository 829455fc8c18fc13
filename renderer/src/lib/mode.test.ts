import { describe, expect, it } from 'vitest';
import { httpTransport } from '../../../shared/contract/client.ts';
import { apiSettings, CLIENT_API_PREFIX, connectionNotPrivate, mayRegisterServiceWorker, modeFor } from './mode.ts';

describe('app mode (issue #34)', () => {
  it('is a member app under /app/ only', () => {
    expect(modeFor('/app/')).toBe('member');
    expect(modeFor('/app')).toBe('member');
    expect(modeFor('/app/index.html')).toBe('member');
    expect(modeFor('/')).toBe('owner');
    expect(modeFor('/index.html')).toBe('owner');
    expect(modeFor('/apple')).toBe('owner');
    expect(modeFor('/dashboard/app/')).toBe('owner');
  });

  it('a member calls the client API with the cookie; the owner the admin API as before', async () => {
    const calls: Array<{ url: string; init: RequestInit }> = [];
    const fake = (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return new Response(JSON.stringify({ rooms: [] }), { status: 200 });
    }) as unknown as typeof fetch;
    const member = apiSettings('member');
    expect(member).toMatchObject({ prefix: CLIENT_API_PREFIX, streamPath: '/_paracord/client/v1/stream', sessionPath: '/_paracord/client/v1/me', credentials: 'same-origin' });
    await httpTransport({ prefix: member.prefix, credentials: member.credentials, fetch: fake })('listRooms', {});
    await httpTransport({ prefix: member.prefix, credentials: member.credentials, fetch: fake })('sendMessage', { room_id: '!r:home.test', body: 'hi', txn_id: 'abc' });
    expect(calls[0]!.url).toBe('/_paracord/client/v1/rooms');
    expect(calls[0]!.init.credentials).toBe('same-origin');
    expect(calls[1]!.url).toBe(`/_paracord/client/v1/rooms/${encodeURIComponent('!r:home.test')}/messages`);
    expect(JSON.parse(String(calls[1]!.init.body))).toEqual({ body: 'hi', txn_id: 'abc' });
    for (const call of calls) expect(Object.keys(call.init.headers as Record<string, string>).map((h) => h.toLowerCase())).not.toContain('authorization');

    const owner = apiSettings('owner');
    expect(owner).toMatchObject({ prefix: '/_paracord/admin/v1', streamPath: '/_paracord/admin/v1/stream', sessionPath: '/_paracord/admin/v1/session', credentials: undefined });
    await httpTransport({ prefix: owner.prefix, credentials: owner.credentials, fetch: fake })('listRooms', {});
    expect(calls[2]!.url).toBe('/_paracord/admin/v1/rooms');
    expect(calls[2]!.init.credentials).toBeUndefined(); // as before: fetch's default
  });

  it('says the connection is not private over plain HTTP to another machine only', () => {
    expect(connectionNotPrivate({ protocol: 'http:', hostname: '192.168.1.20' })).toBe(true);
    expect(connectionNotPrivate({ protocol: 'http:', hostname: 'home.example' })).toBe(true);
    expect(connectionNotPrivate({ protocol: 'https:', hostname: 'home.example' })).toBe(false);
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]', 'app.localhost']) expect(connectionNotPrivate({ protocol: 'http:', hostname: host }), host).toBe(false);
  });

  it('registers the service worker for members in a secure context or on loopback only', () => {
    const where = { isSecureContext: true, hostname: 'home.example', hasServiceWorker: true };
    expect(mayRegisterServiceWorker('member', where)).toBe(true);
    expect(mayRegisterServiceWorker('owner', where)).toBe(false);
    expect(mayRegisterServiceWorker('member', { ...where, isSecureContext: false })).toBe(false);
    expect(mayRegisterServiceWorker('member', { ...where, isSecureContext: false, hostname: 'localhost' })).toBe(true);
    expect(mayRegisterServiceWorker('member', { ...where, hasServiceWorker: false })).toBe(false);
  });
});
