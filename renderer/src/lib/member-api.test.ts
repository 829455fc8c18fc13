import { describe, expect, it } from 'vitest';
import { AdminError } from '../../../shared/contract/client.ts';
import { localpartOf, MEMBER_NAME, memberAccount } from './member-api.ts';

function fakeFetch(answers: Array<{ status: number; body: unknown }>) {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const fetch = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const answer = answers.shift() ?? { status: 200, body: {} };
    return new Response(JSON.stringify(answer.body), { status: answer.status });
  }) as unknown as typeof globalThis.fetch;
  return { calls, fetch };
}

describe("a member's own API (issue #34)", () => {
  it('calls the client API on the same origin with the cookie, JSON in and out', async () => {
    const { calls, fetch } = fakeFetch([{ status: 200, body: { user_id: '@ann:home.test' } }, { status: 200, body: { purpose: 'join', user_id: null, server_name: 'home.test' } }, { status: 200, body: {} }]);
    const account = memberAccount(fetch);
    expect(await account.signIn('ann', 'correct horse battery')).toEqual({ user_id: '@ann:home.test' });
    expect(await account.link('tok/en')).toMatchObject({ purpose: 'join', server_name: 'home.test' });
    await account.endSession('msess_1');
    expect(calls.map((c) => `${c.init.method} ${c.url}`)).toEqual([
      'POST /_paracord/client/v1/sign-in',
      'POST /_paracord/client/v1/links/look-up',
      'DELETE /_paracord/client/v1/me/sessions/msess_1',
    ]);
    expect(JSON.parse(String(calls[0]!.init.body))).toEqual({ localpart: 'ann', passphrase: 'correct horse battery' });
    expect((calls[0]!.init.headers as Record<string, string>)['content-type']).toBe('application/json');
    for (const call of calls) {
      expect(call.init.credentials).toBe('same-origin');
      expect(Object.keys(call.init.headers as Record<string, string>)).not.toContain('authorization');
    }
    // The link's token in the body, never in the path (an access log on the way keeps paths).
    expect(JSON.parse(String(calls[1]!.init.body))).toEqual({ token: 'tok/en' });
    expect(calls[2]!.init.body).toBeUndefined();
  });

  it('turns error answers into AdminError with the code and the message', async () => {
    const { fetch } = fakeFetch([
      { status: 429, body: { error: 'too_many_attempts', message: 'too many attempts, try again in 12 minutes' } },
      { status: 502, body: 'not json' },
    ]);
    const account = memberAccount(fetch);
    const refused = await account.signIn('ann', 'x').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AdminError);
    expect(refused).toMatchObject({ status: 429, code: 'too_many_attempts', message: 'too many attempts, try again in 12 minutes' });
    expect(await account.me().catch((e: unknown) => e)).toMatchObject({ status: 502, code: 'error' });
  });

  it('takes a user name typed as a whole user id', () => {
    expect(localpartOf(' Ann ')).toBe('ann');
    expect(localpartOf('@ann:home.example')).toBe('ann');
    expect(localpartOf('ann:home.example')).toBe('ann');
  });

  it('checks a new user name as the node does', () => {
    for (const ok of ['ann', 'a', 'ann.b_c-d', '9lives', 'x'.repeat(32)]) expect(MEMBER_NAME.test(ok), ok).toBe(true);
    for (const bad of ['', 'Ann', '.ann', '-ann', 'ann b', 'ann:home', 'x'.repeat(33), 'añn']) expect(MEMBER_NAME.test(bad), bad).toBe(false);
  });
});
