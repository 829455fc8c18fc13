/**
 * What every node runs besides federation (federation.ts), each capability with its own start and
 * stop (lifecycle.ts), in the groups createNode starts them in: held from construction (storage
 * first, so it closes last), serving the owner once federation started, and the background work
 * started once node.json is written.
 */
import type { AdminHandlers } from '../../../shared/contract/admin-operations.ts';
import { createAdminApp } from '../admin/admin-app.ts';
import { DEFAULT_ADMIN_LISTEN, parseHostPort } from '../config.ts';
import { Housekeeping } from './housekeeping.ts';
import type { Capability } from './lifecycle.ts';
import { close, forcedClose, listenAdmin, type AdminListener } from './listeners.ts';
import type { Services } from './services.ts';

export interface NodeCapabilities {
  /** Exist from construction and need no start: storage, the delivery workers, the gateway thread. */
  held: Capability[];
  /** Started after federation: the admin listener, its live streams, housekeeping. */
  serving: Capability[];
  /** Started once node.json is written: memory trim, backups. */
  background: Capability[];
  /** The admin listener's URL; '' until it listens. */
  adminUrl(): string;
  /** The address the admin listener is bound to; '' until it listens. */
  adminAddress(): string;
}

export interface AdminAppParts {
  /** This run's nonce (node.json), which the admin listener proves it knows (running-node.ts). */
  runNonce: string;
  /** The built renderer it serves. */
  uiRoot: string;
  /** The admin operations, guarded by setup mode (context.ts). */
  handlers: () => AdminHandlers;
}

export function nodeCapabilities(s: Services, parts: AdminAppParts): NodeCapabilities {
  let admin: AdminListener | null = null;
  const housekeeping = new Housekeeping(s);
  const adminListener: Capability = {
    name: 'admin listener',
    start: async () => {
      const address = parseHostPort(s.config.adminListen ?? DEFAULT_ADMIN_LISTEN, '--admin-listen');
      admin = await listenAdmin(adminApp(s, address.host, parts), address, s.config, s.log);
    },
    drain: (graceMs) => close(admin?.server ?? null, graceMs, () => forcedClose(s.log, 'admin', graceMs), () => s.adminInFlight.size, admin?.upgrades),
  };
  return {
    held: [
      { name: 'storage', close: () => closeStorage(s) },
      { name: 'deliveries', drain: () => s.workers.stop() },
      // Closed after federation drained (reachability removed its mapping and pinhole through it).
      { name: 'gateway thread', close: () => s.gatewayThread.stop() },
    ],
    serving: [
      adminListener,
      { name: 'live streams', drain: (graceMs) => void s.notifications.emit('close', graceMs) },
      { name: 'housekeeping', start: () => housekeeping.start(), halt: () => housekeeping.stop() },
    ],
    background: [
      { name: 'memory trim', start: () => s.memoryTrim.start(), halt: () => s.memoryTrim.stop() },
      { name: 'backups', start: () => s.backups.scheduler.start(), drain: () => s.backups.scheduler.stop() },
    ],
    adminUrl: () => admin?.url ?? '',
    adminAddress: () => admin?.boundAddress ?? '',
  };
}

/** The admin app (admin/admin-app.ts) over the node's services. */
function adminApp(s: Services, host: string, { runNonce, uiRoot, handlers }: AdminAppParts) {
  return createAdminApp({
    log: s.log, token: s.adminToken, handlers, extraHosts: [host], notifications: s.notifications, sessions: s.sessions,
    uiRoot,
    inFlight: s.adminInFlight,
    runNonce: () => runNonce,
    metrics: () => s.metrics.scrape(),
    streamLimits: s.config.adminStreamLimits,
  });
}

/** Lets any group commit scheduled by the last requests run, and reach the disk, then closes the database. */
async function closeStorage(s: Services): Promise<void> {
  await s.selfDispatch.close();
  await s.commit.drained();
  await s.walSync.close();
  await s.verifier.close();
  await s.rooms.search.stop();
  s.db.close();
}
