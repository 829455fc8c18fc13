import { request } from 'undici';
import type { AdminHandlers } from '../../shared/contract/admin-operations.ts';
import { createAdminClient, httpTransport } from '../../shared/contract/client.ts';
import type { InProcessNode } from './fixtures.ts';
import { NodeProcess } from './node-process.ts';

/**
 * fetch over a fresh connection each time, as the raw `admin()` helpers do: a pooled keep-alive
 * connection that the node closed while this process was blocked (spawnSync of the CLI, a busy
 * machine) fails with "other side closed".
 */
const freshFetch = (async (url: string, init: RequestInit) => {
  const response = await request(url, { method: (init.method ?? 'GET') as 'GET', headers: init.headers as Record<string, string>, body: init.body as string | undefined, reset: true });
  const text = await response.body.text();
  return { ok: response.statusCode >= 200 && response.statusCode < 300, status: response.statusCode, json: async () => JSON.parse(text) as unknown };
}) as unknown as typeof fetch;

/** The typed admin client (shared/contract/client.ts) of a child-process or in-process node. */
export function adminApi(node: NodeProcess | InProcessNode): AdminHandlers {
  const [baseUrl, token] = node instanceof NodeProcess ? [node.ready.admin_url, () => node.adminToken] : [node.started.admin_url, () => node.token];
  return createAdminClient(httpTransport({ baseUrl, headers: () => ({ authorization: `Bearer ${token()}` }), fetch: freshFetch }));
}
