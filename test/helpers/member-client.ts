/** Requests to a node's members' API (issue #34) as a member's browser page makes them. */
import { request } from 'undici';
import { CLIENT_API_PREFIX } from '../../shared/contract/admin-operations.ts';

export interface MemberAnswer { status: number; headers: Record<string, string | string[] | undefined>; body: { error?: string; message?: string } & Record<string, unknown> }

export interface MemberRequestOptions {
  cookie?: string | undefined;
  body?: unknown;
  headers?: Record<string, string>;
  /** X-Forwarded-For (the node must trust 127.0.0.1 as a proxy for it to count). */
  from?: string;
}

/** A request to the client API at `root` as a page of that origin would make it (Origin set), with the member's cookie if given. */
export async function memberRequest(root: string, method: string, path: string, options: MemberRequestOptions = {}): Promise<MemberAnswer> {
  const response = await request(`${root}${CLIENT_API_PREFIX}${path}`, {
    method: method as 'GET',
    reset: true,
    headers: {
      ...(method === 'GET' ? {} : { origin: new URL(root).origin }),
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

/** The member session cookie an answer sets. */
export const cookieOf = (answer: MemberAnswer) => String(answer.headers['set-cookie']).match(/paracord_member=([^;]*)/)?.[1];
