import { keyFingerprint } from '../peering/index.ts';
import type { AdminHandlers, NodeStatus } from '../../../../../shared/contract/admin-operations.ts';
import { HttpError, badRequest, conflict } from '../../../errors.ts';
import { Identity } from '../../../identity/identity.ts';
import { loadCertificate } from '../../../tls/certificate.ts';
import type { NodeContext } from '../../../node-context.ts';
import { VERSION } from '../../../version.ts';
import { logWarnings } from '../../../log/health.ts';

export function nodeStatus(node: NodeContext): NodeStatus {
  const identity = node.identity();
  const counts = { allow: 0, block: 0, quarantine: 0 };
  for (const row of node.db.prepare<[], { trust: keyof typeof counts; n: number }>('SELECT trust, COUNT(*) AS n FROM federation_servers GROUP BY trust').all()) {
    counts[row.trust] = row.n;
  }
  return {
    mode: identity ? 'running' : 'setup',
    setup_required: !identity,
    server_name: identity?.serverName ?? null,
    key_id: identity?.keyId ?? null,
    public_key: identity?.publicKeyHex ?? null,
    key_fingerprint: identity ? keyFingerprint(identity.publicKeyHex) : null,
    federation: { paused: node.isPaused(), url: node.federationUrl(), tls_fingerprint: node.tls()?.fingerprint256 ?? null, scheme: node.config.insecureHttp ? 'http' : 'https', self_signed: node.tls()?.selfSigned ?? false },
    peers: counts.allow,
    peer_counts: counts,
    queue: (({ pending, failed }) => ({ pending, failed }))(node.outbox.counts()),
    version: VERSION,
    uptime_ms: Date.now() - node.startedAt,
    backup: (({ last_at, scheduled, warning, next_at }) => ({ last_at, scheduled, warning, next_at }))(node.backups.records.summary()),
    key_storage: node.keyStorage(),
    warnings: [...node.quota.warnings(Date.now(), node.quarantine.heldBytesByServer()), ...logWarnings(node.log)],
    ...(identity ? reachabilityOf(node) : {}),
    members_signed_in: node.members.signedInCount(),
  };
}

function reachabilityOf(node: NodeContext): Pick<NodeStatus, 'reachability'> {
  const reachability = node.running()?.reachability;
  if (!reachability) return {}; // federation not started yet
  return { reachability: { ...reachability.status(), summary: reachability.summary() } };
}

export function statusOperations(node: NodeContext): Pick<AdminHandlers, 'getStatus' | 'setup' | 'createLoginLink' | 'checkReachability' | 'backupIdentity'> {
  return {
    getStatus: async () => nodeStatus(node),
    createLoginLink: async () => ({ login_url: node.loginUrl() }),
    setup: async (input) => {
      if (node.identity()) throw conflict('already_set_up', `this node is already set up as ${node.identity()!.serverName}`);
      // Check everything first: a refused setup changes nothing.
      if (input.identity_backup !== undefined) {
        const check = Identity.checkBackup(input.identity_backup);
        if (!check.ok) throw badRequest('invalid_backup', check.reason);
        // Whose identity it is, as a field too: the setup page says which server name it needs.
        if (check.serverName !== input.server_name) throw new HttpError(400, 'invalid_backup', `the backup is the identity of ${check.serverName}, not ${input.server_name}`, {}, { backup_server_name: check.serverName });
      }
      if (input.tls_cert_file && input.tls_key_file) {
        try {
          loadCertificate(input.tls_cert_file, input.tls_key_file, false);
        } catch (error) {
          throw badRequest('invalid_certificate', `cannot use that certificate: ${(error as Error).message}`);
        }
      }
      await node.completeSetup(input.server_name, input);
      return nodeStatus(node);
    },
    checkReachability: async () => {
      const url = node.federationUrl();
      if (!url) return { reachable: false, url: null, message: 'Federation is not running yet: finish the setup first.' };
      try {
        const document = await node.discovery.fetchDocument(url, { ...(node.tls()?.fingerprint256 ? { pin: node.tls()!.fingerprint256 } : {}) });
        if (document.server_name !== node.identity()?.serverName) {
          return { reachable: false, url, message: `${url} answers, but as ${document.server_name}: another server is at that address.` };
        }
        return {
          reachable: true, url,
          message: `Your server answers at ${url} from this computer. Friends on other networks reach it only if that address works from the internet: behind a home router, forward the port to this computer, and make the name point to your public address.`,
        };
      } catch (error) {
        // The raw cause apart (the page shows it behind "details"); no "Settings" screen exists: the address is the wizard's, or --public-url.
        return {
          reachable: false, url,
          message: `Your server does not answer at ${url} from this computer. Check the address (the setup's public address, or start the node with --public-url), that the name points to this computer, and that no firewall blocks the port.`,
          error: (error as Error).message,
        };
      }
    },
    backupIdentity: async () => ({ identity: node.identity()!.backup() }),
  };
}
