import type { AdminHandlers } from '../../shared/contract/admin-operations.ts';
import { createAdminClient, httpTransport } from '../../shared/contract/client.ts';
import type { InProcessNode } from './fixtures.ts';
import { NodeProcess } from './node-process.ts';

/** The typed admin client (shared/contract/client.ts) of a child-process or in-process node. */
export function adminApi(node: NodeProcess | InProcessNode): AdminHandlers {
  const [baseUrl, token] = node instanceof NodeProcess ? [node.ready.admin_url, () => node.adminToken] : [node.started.admin_url, () => node.token];
  return createAdminClient(httpTransport({ baseUrl, headers: () => ({ authorization: `Bearer ${token()}` }) }));
}
