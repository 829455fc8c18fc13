/** GET /session (issue #37 item 16): whether the request's own cookie is a session, without credentials. */
import { request } from 'undici';
import { beforeAll, describe, expect, it, type InProcessNode } from '../../../../test/helpers/fixtures.ts';

let alpha: InProcessNode;

beforeAll(async ({ fileNodes }) => {
  alpha = await fileNodes.inProcess('alpha.test');
});

const ask = async (headers: Record<string, string> = {}, method = 'GET') => {
  const response = await request(`${alpha.started.admin_url}/_paracord/admin/v1/session`, { method, headers, reset: true });
  return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
};

describe('GET /_paracord/admin/v1/session', () => {
  it('answers 200 with or without a session, and says which; the session it names is the one that opens the API', async () => {
    expect(await ask()).toEqual({ status: 200, body: { session: 'none' } });
    const loginUrl = (await alpha.admin('POST', '/login-links')).body.login_url as string;
    const link = await request(loginUrl, { reset: true });
    const cookie = `paracord_session=${/paracord_session=([^;]+)/.exec(String(link.headers['set-cookie']))![1]!}`;
    expect(await ask({ cookie })).toEqual({ status: 200, body: { session: 'valid' } });
    expect((await request(`${alpha.started.admin_url}/_paracord/admin/v1/status`, { headers: { cookie }, reset: true })).statusCode).toBe(200);

    // Signed out: 'ended' here, 401 from the API.
    const id = (await alpha.admin('GET', '/sessions')).body.sessions[0].id as string;
    expect((await alpha.admin('DELETE', `/sessions/${id}`)).status).toBe(200);
    expect(await ask({ cookie })).toEqual({ status: 200, body: { session: 'ended' } });
    expect((await request(`${alpha.started.admin_url}/_paracord/admin/v1/status`, { headers: { cookie }, reset: true })).statusCode).toBe(401);
    expect(await ask({ cookie: 'paracord_session=made-up' })).toEqual({ status: 200, body: { session: 'ended' } });
  });

  it('only answers GET, and only to a loopback Host', async () => {
    expect((await ask({}, 'POST')).status).toBe(405);
    expect(await ask({ host: 'evil.example:7448' })).toMatchObject({ status: 403, body: { error: 'host_not_allowed' } });
  });
});
