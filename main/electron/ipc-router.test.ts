/** The IPC bridge's router with a real node's admin handlers (no Electron needed). */
import { beforeAll, describe, expect, it, type InProcessNode } from '../../test/helpers/fixtures.ts';
import { APP_ENTRY } from './app-protocol.ts';
import { createIpcRouter } from './ipc-router.ts';
import { closedPort } from '../../test/helpers/closed-port.ts';
import { HttpError } from '../core/errors.ts';
import type { AdminHandlers } from '../../shared/contract/admin-operations.ts';

let node: InProcessNode;
let route: ReturnType<typeof createIpcRouter>;
const fromApp = { url: APP_ENTRY };

beforeAll(async ({ fileNodes }) => {
  node = await fileNodes.inProcess('ipc.test');
  route = createIpcRouter({ handlers: () => node.node.admin });
});

describe('IPC router', () => {
  it('serves contract operations to our own pages', async () => {
    expect(await route(fromApp, 'getStatus', {})).toMatchObject({ ok: true, value: { server_name: 'ipc.test' } });
    const created = await route(fromApp, 'createRoom', { name: 'over ipc' });
    expect(created).toMatchObject({ ok: true, value: { room_id: expect.stringMatching(/^!.+:ipc\.test$/) } });
  });

  it('refuses senders that are not our pages', async () => {
    for (const sender of [{ url: 'https://evil.example/' }, { url: 'file:///etc/passwd' }, { url: 'app://other/index.html' }, { url: null }, null, undefined]) {
      expect(await route(sender, 'getStatus', {})).toEqual({ ok: false, status: 403, error: 'untrusted_sender', message: expect.any(String) });
    }
  });

  it('refuses unknown operations and bad input, and changes nothing', async () => {
    expect(await route(fromApp, 'dropDatabase', {})).toMatchObject({ ok: false, status: 404, error: 'unknown_operation' });
    expect(await route(fromApp, '__proto__', {})).toMatchObject({ ok: false, status: 404 });
    expect(await route(fromApp, 42, {})).toMatchObject({ ok: false, status: 404 });
    const before = (await route(fromApp, 'listRooms', {})) as { ok: true; value: { rooms: unknown[] } };
    expect(await route(fromApp, 'createRoom', { name: '' })).toMatchObject({ ok: false, status: 400, error: 'invalid_input' });
    expect(await route(fromApp, 'createRoom', { name: 'x', extra: 1 })).toMatchObject({ ok: false, status: 400 });
    expect(await route(fromApp, 'createRoom', 'not an object')).toMatchObject({ ok: false, status: 400 });
    expect(await route(fromApp, 'listRooms', {})).toEqual(before);
  });

  it('passes the node\'s own errors through as data', async () => {
    expect(await route(fromApp, 'getRoom', { room_id: '!missing:ipc.test' })).toMatchObject({ ok: false, status: 404, error: 'unknown_room' });
  });

  it('cleans an error\'s message as HTTP does (it may carry a peer\'s words): no control or bidi characters, cut', async () => {
    const handlers = { ...node.node.admin, listRooms: async () => { throw new HttpError(502, 'peer_refused', `friend.test refused: \u001b[31mred\u202egnp.exe ${'x'.repeat(3000)}`); } } as AdminHandlers;
    const answer = await createIpcRouter({ handlers: () => handlers })(fromApp, 'listRooms', {}) as { ok: boolean; status: number; error: string; message: string };
    expect(answer).toMatchObject({ ok: false, status: 502, error: 'peer_refused' });
    // eslint-disable-next-line no-control-regex
    expect(answer.message).not.toMatch(/[\u0000-\u001f\u202e]/);
    expect(answer.message.length).toBeLessThan(2100);
  });

  it('passes an error\'s other fields too: why a peer could not be reached, and who', async () => {
    expect(await route(fromApp, 'addPeer', { server_name: 'gone.test', endpoint: `http://127.0.0.1:${await closedPort()}` })).toEqual({
      ok: false, status: 502, error: 'peer_unreachable', message: expect.stringMatching(/^could not add gone\.test: .*ECONNREFUSED/), reason: 'refused', server: 'gone.test',
    });
  });
});
