import type { AdminHandlers, PeerView } from '../../../../../shared/contract/admin-operations.ts';
import { HttpError, badRequest } from '../../../errors.ts';
import { joinUrl } from '../../../federation/http-client.ts';
import { checkKeysDocument } from '../../../federation/keys-document.ts';
import { KEYS_PATH } from '../../../federation/server-keys.ts';
import type { NodeContext } from '../../../node-context.ts';
import type { FederationServer } from '../../../trust/trust-store.ts';

export function peerView(node: NodeContext, server: FederationServer): PeerView {
  return {
    server_name: server.server_name,
    trust: server.trust,
    endpoint: server.endpoint,
    tls_fingerprint: server.tls_fingerprint,
    reason: server.reason,
    until_ms: server.until_ms,
    rate_limit: server.rate_per_second !== null && server.rate_burst !== null ? { per_second: server.rate_per_second, burst: server.rate_burst } : null,
    added_at: server.added_at,
    last_seen_at: server.last_seen_at,
    keys: node.keys.list(server.server_name).map((k) => ({ key_id: k.key_id, public_key: k.public_key, source: k.source, expired_at: k.expired_at })),
  };
}

/** 502: the peer could not be reached or answered something we cannot accept. */
const peerUnreachable = (message: string) => new HttpError(502, 'peer_unreachable', message);

export function peerOperations(node: NodeContext): Pick<AdminHandlers, 'listPeers' | 'addPeer' | 'setPeerTrust'> {
  return {
    listPeers: async () => ({ peers: node.trust.list().map((s) => peerView(node, s)) }),

    addPeer: async (input) => {
      const self = node.identity()?.serverName;
      if (input.server_name === self) throw badRequest('invalid_input', 'a server cannot peer with itself');
      if (input.endpoint) {
        try {
          node.http.checkUrl(input.endpoint);
        } catch (error) {
          throw badRequest('invalid_input', `endpoint: ${(error as Error).message}`);
        }
      }
      // Contact the peer first, store afterwards: a failure changes nothing.
      let fetched: ReturnType<typeof checkKeysDocument> | undefined;
      let rawKeys: unknown;
      let endpoint = input.endpoint ?? null;
      if (input.public_key === undefined) {
        try {
          const discovery = await node.discovery.fetchDocument(input.endpoint ?? `https://${input.server_name}`);
          if (discovery.server_name !== input.server_name) {
            throw new Error(`the server there calls itself ${discovery.server_name}, not ${input.server_name}`);
          }
          endpoint = input.endpoint ?? discovery.federation_endpoint;
          const response = await node.http.send('GET', joinUrl(endpoint, KEYS_PATH), { accept: 'application/json' });
          if (response.status !== 200) throw new Error(`keys endpoint answered HTTP ${response.status}`);
          rawKeys = response.json;
          fetched = checkKeysDocument(rawKeys, input.server_name);
          if (!fetched.ok) throw new Error(fetched.reason);
        } catch (error) {
          throw peerUnreachable(`could not add ${input.server_name}: ${(error as Error).message}`);
        }
      }
      const server = node.db.transaction(() => {
        const row = node.trust.upsert(input.server_name, {
          trust: 'allow',
          endpoint,
          ...(input.tls_fingerprint ? { tls_fingerprint: input.tls_fingerprint } : {}),
          reason: null,
          until_ms: null,
        });
        if (input.key_id && input.public_key) node.keys.pin(input.server_name, input.key_id, input.public_key);
        if (fetched?.ok) node.keys.store(fetched.document, Date.now(), rawKeys);
        return row;
      })();
      node.discovery.forget(input.server_name);
      node.log.info({ event: 'peer_added', server: input.server_name, endpoint, pinned: input.public_key !== undefined }, 'peer added');
      node.notifications.notify({ type: 'status' });
      return peerView(node, server);
    },

    setPeerTrust: async (input) => {
      const server = node.trust.upsert(input.server_name, {
        trust: input.mode,
        reason: input.reason ?? null,
        until_ms: input.until_ms ?? null,
        ...(input.rate_limit ? { rate_per_second: input.rate_limit.per_second, rate_burst: input.rate_limit.burst } : {}),
      });
      node.log.info({ event: 'trust_changed', server: input.server_name, mode: input.mode, reason: input.reason }, 'peer trust changed');
      // Outbound to a server that is no longer quarantined resumes.
      if (input.mode === 'allow') node.workers.kick(input.server_name);
      node.notifications.notify({ type: 'status' });
      return peerView(node, server);
    },
  };
}
