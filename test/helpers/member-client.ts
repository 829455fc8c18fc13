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
      // Over HTTPS (here: a trusted proxy's X-Forwarded-Proto) the session cookie is a __Host- one (client/member-http.ts).
      ...(options.cookie ? { cookie: `${options.headers?.['x-forwarded-proto'] === 'https' ? '__Host-' : ''}paracord_member=${options.cookie}` } : {}),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.from ? { 'x-forwarded-for': options.from } : {}),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body: text ? JSON.parse(text) : {} };
}

/** The member session cookie an answer sets (named `__Host-paracord_member` over HTTPS). */
export const cookieOf = (answer: MemberAnswer) => String(answer.headers['set-cookie']).match(/paracord_member=([^;]*)/)?.[1];

/** Makes `localpart` a member of `node` by a link, as its page does; the member's session cookie. */
export async function memberByLink(node: { admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>; started: { federation_url: string | null } }, localpart: string, passphrase = 'lantern orbit pickle seventeen'): Promise<string> {
  const link = await node.admin('POST', '/members/invites', { note: `for ${localpart}` });
  if (link.status !== 200) throw new Error(`member link: ${JSON.stringify(link.body)}`);
  const token = String(link.body.link).split('/').pop()!;
  const joined = await memberRequest(node.started.federation_url!, 'POST', '/join', { body: { token, localpart, passphrase } });
  if (joined.status !== 200) throw new Error(`member join: ${JSON.stringify(joined.body)}`);
  return cookieOf(joined)!;
}
