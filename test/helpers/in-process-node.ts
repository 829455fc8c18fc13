import { pino, type Logger } from 'pino';
import { request } from 'undici';
import type { NodeConfig } from '../../main/core/config.ts';
import type { LookupFn } from '../../main/core/federation/address-policy.ts';
import { createNode, type ParacordNode, type StartedNode } from '../../main/core/node.ts';
import { ADMIN_API_PREFIX } from '../../shared/contract/admin-operations.ts';
import { tempDir } from './temp-dir.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A real node in this process (real SQLite, real sockets), for tests of one component's API. */
export async function startInProcessNode(
  serverName: string | undefined,
  options: {
    insecureHttp?: boolean;
    /** An existing data dir (restarts); a new temporary one by default. */
    dataDir?: string;
    listen?: string;
    /** Extra NodeConfig fields (limits, timeouts, trusted proxies). */
    config?: Partial<NodeConfig>;
    /** The node's logger; silent by default, `'real'` for the node's own (file) logger. */
    log?: Logger | 'real';
    /** Prepares the data dir before the node opens it. */
    prepare?: (dataDir: string) => void;
    /** Name resolution of the node's outbound connections (stands in for DNS). */
    lookup?: LookupFn;
  } = {},
) {
  const dataDir = options.dataDir ?? tempDir('paracord-inproc-');
  options.prepare?.(dataDir);
  const node: ParacordNode = createNode(
    {
      dataDir, ...(serverName ? { serverName } : {}), listen: options.listen ?? '127.0.0.1:0', adminListen: '127.0.0.1:0',
      insecureHttp: options.insecureHttp ?? true, ...options.config,
    },
    { ...(options.log === 'real' ? {} : { log: options.log ?? pino({ level: 'silent' }) }), ...(options.lookup ? { lookup: options.lookup } : {}) },
  );
  const started: StartedNode = await node.start();
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  async function admin(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const response = await request(`${started.admin_url}${ADMIN_API_PREFIX}${path}`, {
      // A fresh connection each time: a pooled keep-alive connection that the node closed while
      // this process was blocked (spawnSync of the CLI, a busy machine) fails with "other side closed".
      reset: true,
      method: method as 'GET',
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.body.text();
    return { status: response.statusCode, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  }
  return { node, started, dataDir, token, admin };
}
