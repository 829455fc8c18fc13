/** The contract-generated client over HTTP, against a real node (what the UI does in the browser). */
import { AdminError, createAdminClient, httpTransport } from './client.ts';
import { adminApi } from '../../test/helpers/admin-api.ts';
import { closedPort } from '../../test/helpers/closed-port.ts';
import { beforeAll, describe, expect, it, type InProcessNode } from '../../test/helpers/fixtures.ts';

let node: InProcessNode;
let api: ReturnType<typeof createAdminClient>;

beforeAll(async ({ fileNodes }) => {
  node = await fileNodes.inProcess('client.test');
  api = adminApi(node);
});

describe('admin client', () => {
  it('calls operations with path parameters, query and body', async () => {
    expect((await api.getStatus({})).server_name).toBe('client.test');
    const { room_id } = await api.createRoom({ name: 'client room' });
    expect(room_id).toMatch(/^!.+:client\.test$/);
    const { event_id } = await api.sendMessage({ room_id, body: 'hi' });
    await api.addReaction({ room_id, event_id, key: '🎉' });
    const page = await api.listMessages({ room_id, limit: 5 });
    expect(page.messages).toEqual([expect.objectContaining({ event_id, body: 'hi', reactions: { '🎉': ['@owner:client.test'] } })]);
    await api.removeReaction({ room_id, event_id, key: '🎉' });
    await api.deleteMessage({ room_id, event_id });
    expect((await api.listMessages({ room_id, limit: 5 })).messages[0]).toMatchObject({ deleted: true });
  });

  it('turns error answers into AdminError with the code and message', async () => {
    const error = await api.getRoom({ room_id: '!missing:client.test' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdminError);
    expect(error).toMatchObject({ status: 404, code: 'unknown_room' });
    const invalid = await api.createUser({ localpart: 'Not Valid' }).catch((e: unknown) => e);
    expect(invalid).toMatchObject({ status: 400, code: 'invalid_input' });
  });

  it('keeps an error answer\'s other fields: a peer that cannot be reached says why (reason) and who (server)', async () => {
    const port = await closedPort();
    const error = await api.addPeer({ server_name: 'gone.test', endpoint: `http://127.0.0.1:${port}` }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdminError);
    expect(error).toMatchObject({ status: 502, code: 'peer_unreachable', message: expect.stringMatching(/^could not add gone\.test: .*ECONNREFUSED/), details: { reason: 'refused', server: 'gone.test' } });
    // An answer with none has none.
    expect(((await api.getRoom({ room_id: '!missing:client.test' }).catch((e: unknown) => e)) as AdminError).details).toEqual({});
  });

  it('is refused without credentials', async () => {
    const anonymous = createAdminClient(httpTransport({ baseUrl: node.started.admin_url }));
    await expect(anonymous.getStatus({})).rejects.toMatchObject({ status: 401, code: 'missing_token' });
  });
});
