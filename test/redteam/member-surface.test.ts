/**
 * Red team (issue #34, docs/SECURITY.md "Members"): a hostile member, or a hostile outsider on
 * the internet, against the members' API of one in-process node (real listeners on 127.0.0.1,
 * real HTTP; 127.0.0.1 is a trusted proxy so X-Forwarded-For names the client).
 */
import { request } from 'undici';
import { beforeAll, describe, expect, it, type InProcessNode } from '../helpers/fixtures.ts';
import { CLIENT_API_PREFIX } from '../../shared/contract/admin-operations.ts';

const SERVER = 'home.test';
const PASSPHRASE = 'lantern orbit pickle seventeen';

let home: InProcessNode;
let base: string;

beforeAll(async ({ fileNodes }) => {
  home = await fileNodes.inProcess(SERVER, {
    config: { trustedProxies: ['127.0.0.1'], signInLimits: { perAccount: 3, perAddress: 3, windowMs: 10 * 60_000 } },
  });
  base = home.started.federation_url!;
});

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: { error?: string; message?: string } & Record<string, unknown> }

async function client(method: string, path: string, options: { cookie?: string | undefined; body?: unknown; headers?: Record<string, string>; from?: string } = {}): Promise<Answer> {
  const response = await request(`${base}${CLIENT_API_PREFIX}${path}`, {
    method: method as 'GET',
    reset: true,
    headers: {
      ...(method === 'GET' ? {} : { origin: new URL(base).origin }),
      ...(options.cookie ? { cookie: `paracord_member=${options.cookie}` } : {}),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.from ? { 'x-forwarded-for': options.from } : {}),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body: text ? JSON.parse(text) : {} };
}

const cookieOf = (answer: Answer) => String(answer.headers['set-cookie']).match(/paracord_member=([^;]*)/)?.[1];

async function newMember(localpart: string): Promise<string> {
  const created = await home.admin('POST', '/members/invites', {});
  const token = (created.body.link as string).split('/').pop()!;
  const joined = await client('POST', '/join', { body: { token, localpart, passphrase: PASSPHRASE }, from: '203.0.113.1' });
  expect(joined.status).toBe(200);
  return cookieOf(joined)!;
}

describe('red team: guessing a member\'s passphrase', () => {
  it('guesses sent all at once are limited as if sent one by one (per account and per address)', async () => {
    await newMember('ana');
    // Per account (3): 20 guesses at once, each from its own address.
    const perAccount = await Promise.all(Array.from({ length: 20 }, (_, i) => client('POST', '/sign-in', { body: { localpart: 'ana', passphrase: `guess number ${i} of many` }, from: `198.51.100.${i + 1}` })));
    const checked = perAccount.filter((a) => a.status === 401).length;
    expect(perAccount.every((a) => a.status === 401 || a.status === 429)).toBe(true);
    expect(checked, 'passphrases checked for one account').toBeLessThanOrEqual(3);
    // Per address (3): 20 guesses at once from one address, each at another name.
    const perAddress = await Promise.all(Array.from({ length: 20 }, (_, i) => client('POST', '/sign-in', { body: { localpart: `name${i}`, passphrase: 'guess guess guess' }, from: '192.0.2.77' })));
    expect(perAddress.filter((a) => a.status === 401).length, 'passphrases checked for one address').toBeLessThanOrEqual(3);
    // A sign-in that succeeds is not held against its address: four in a row from one (limit 3).
    await newMember('bea');
    for (let i = 0; i < 4; i++) expect((await client('POST', '/sign-in', { body: { localpart: 'bea', passphrase: PASSPHRASE }, from: '198.51.100.200' })).status).toBe(200);
  }, 60_000);
});
