/**
 * createNode(config) → { start, stop, admin }: the only owner of state (docs/ARCHITECTURE.md §One owner of state).
 * Used by the headless CLI and by the desktop app alike; never imports electron.
 */
import { ReferenceRooms } from './federation/reference/reference-rooms.ts';
import { DEFAULT_REFERENCE_PUSH_LIMIT, PushPacer } from './outbox/push-pacer.ts';
import { PeerDialects } from './federation/reference/peer-dialects.ts';
import { NameClaims } from './federation/name-claims.ts';
import { localView } from './federation/reference/vocabulary.ts';
import { ReferenceChannels } from './federation/reference/channel-rooms.ts';
import type { Server } from 'node:http';
import { createServer as createHttpServer } from './http/node-http.ts';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import type { AdminHandlers } from '../../shared/contract/admin-operations.ts';
import { createAdminApp } from './admin/admin-app.ts';
import { passUpgradesThrough, type UpgradedSockets } from './admin/stream/upgrade.ts';
import { peerOperations } from './admin/operations/peers/index.ts';
import { policyOperations } from './admin/operations/policy/index.ts';
import { statusOperations } from './admin/operations/status/index.ts';
import { DEFAULT_ADMIN_LISTEN, parseHostPort, type NodeConfig } from './config.ts';
import { dataDirPaths, ensureDataDir, readAdminToken, readRuntimeInfo, type RuntimeInfo } from './data-dir.ts';
import { DestinationBindingMemory } from './federation/destination-binding.ts';
import { Discovery } from './federation/discovery.ts';
import { EventIngest } from './federation/event-ingest.ts';
import { createFederationApp } from './federation/federation-app.ts';
import { HttpClient } from './federation/http-client.ts';
import { AddressPolicy, type LookupFn } from './federation/address-policy.ts';
import { verifySignedRequest } from './federation/middleware/verify-signed-request.ts';
import { ReplayCache } from './federation/replay-cache.ts';
import { eventEntitlement } from './federation/routes/event/index.ts';
import { ServerKeys } from './federation/keys/server-keys.ts';
import { Identity, type KeySealer } from './identity/identity.ts';
import { createLogger, type Logger } from './log/logger.ts';
import { flushLimited, warnLimited } from './log/rate-limit.ts';
import { TrustedProxies } from './http/client-address.ts';
import { adminConnectionLimits, federationConnectionLimits, limitConnections, serverOptions } from './http/connection-limits.ts';
import type { NodeContext } from './node-context.ts';
import { openDatabase, type Db } from './store/database.ts';
import { FederationEvents } from './store/federation-events.ts';
import { GroupCommit } from './store/group-commit.ts';
import { WalSync } from './store/wal-sync.ts';
import { IdleMemoryTrim } from './memory/idle-memory-trim.ts';
import { InFlightRequests } from './http/middleware/in-flight.ts';
import { VerifyPool } from './crypto/verify-pool.ts';
import { LoginSessions } from './admin/sessions.ts';
import { PACKAGE_ROOT } from './version.ts';
import { join } from 'node:path';
import { Settings } from './store/settings.ts';
import { ensureSelfSignedCertificate, loadCertificate, type TlsMaterial } from './tls/certificate.ts';
import { TrustStore } from './trust/trust-store.ts';
import { HttpError } from './errors.ts';
import { LocalUsers } from './rooms/local-users.ts';
import { RoomStore } from './rooms/room-store.ts';
import { checkContentBulk } from './rooms/event-types.ts';
import { StorageQuota } from './trust/storage-quota.ts';
import { RoomService } from './rooms/room-service.ts';
import { Outbox } from './outbox/outbox.ts';
import { DEFAULT_MAX_AGE_MS, DeliveryWorkers } from './outbox/delivery-worker.ts';
import { reference3Refusal } from './federation/reference/carry.ts';
import { DEFAULT_BACKOFF } from './outbox/backoff.ts';
import { NodeEvents } from './node-events.ts';
import { userOperations } from './admin/operations/users/index.ts';
import { roomOperations } from './admin/operations/rooms/index.ts';
import { inviteOperations } from './admin/operations/invites/index.ts';
import { sessionOperations } from './admin/operations/sessions/index.ts';
import { moderationOperations } from './admin/operations/moderation/index.ts';
import { searchOperations } from './admin/operations/search/index.ts';
import { federationOperations } from './admin/operations/federation/index.ts';
import { peeringOperations } from './admin/operations/peering/index.ts';
import { keyOperations } from './admin/operations/keys/index.ts';
import { PeeringService } from './peering/peering-service.ts';
import { RateLimiters } from './trust/rate-limiter.ts';
import { AbuseMonitor } from './trust/abuse-monitor.ts';
import { QuarantineStore } from './trust/quarantine.ts';
import { releaseHeld } from './trust/quarantine-release.ts';
import { QuarantineLapses } from './trust/quarantine-lapses.ts';
import { writeFileAtomic } from './util/atomic-file.ts';
import { randomBytes } from 'node:crypto';
import { lockDataDir, StartupRefusedError } from './data-dir-lock.ts';
import { checkDataDir, identityMismatch, inspectDatabase, lostIdentity, type StartIntent } from './startup-checks.ts';
import { BackupRecords } from './backup/records.ts';
import { BackupScheduler } from './backup/scheduler.ts';
import { removeStaleStaging } from './backup/create.ts';
import { backupOperations } from './admin/operations/backups/index.ts';
import { NodeMetrics } from './metrics/node-metrics.ts';
import { MailboxStore } from './mailbox/mailbox-store.ts';
import { MailboxSender } from './mailbox/sender.ts';
import { MailboxFetcher } from './mailbox/fetcher.ts';
import { SelfDispatch } from './mailbox/self-dispatch.ts';
import { PullQueue } from './pull/pull-queue.ts';
import { Puller } from './pull/puller.ts';
import { Reachability } from './reachability/reachability.ts';
import { probeCaller } from './reachability/probe-caller.ts';
import { globalIpv6Addresses, ipv6Endpoint, nameResolves, ownEndpoints } from './reachability/own-endpoints.ts';
import { reachabilityOperations } from './admin/operations/reachability/index.ts';
import { mailboxOperations } from './admin/operations/mailbox/index.ts';
import { DESTINATION_BINDING_CAPABILITY, LARGE_BATCH_CAPABILITY, MAILBOX_CAPABILITY } from './federation/paths.ts';

export interface StartedNode {
  mode: 'running' | 'setup';
  federation_url: string | null;
  admin_url: string;
  /** One-time link that opens the UI logged in. */
  login_url: string;
}

export interface ParacordNode {
  start(): Promise<StartedNode>;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), closes the database. */
  stop(graceMs?: number): Promise<void>;
  readonly admin: AdminHandlers;
  readonly log: Logger;
  readonly context: NodeContext;
}

/**
 * Initializes a data dir: identity (new, or restored from a backup) and server name; with a
 * sealer the seeds are sealed at rest. Refuses a different name on an initialized dir.
 */
export async function initDataDir(dataDir: string, serverName: string, identityBackup?: string, sealer?: KeySealer, intent: StartIntent = {}): Promise<Identity> {
  const paths = dataDirPaths(dataDir);
  ensureDataDir(paths);
  if (Identity.exists(paths.identity)) {
    const identity = await Identity.open(paths.identity, sealer);
    if (identity.serverName !== serverName) {
      throw new Error(`${paths.root} is already initialized as ${identity.serverName}`);
    }
    const mismatch = identityMismatch(paths);
    if (mismatch) throw mismatch;
    return identity;
  }
  const refusal = lostIdentity(paths, { ...intent, restoringBackup: identityBackup !== undefined });
  if (refusal) throw refusal;
  const stored = inspectDatabase(paths.database).serverName;
  if (stored !== null && stored !== serverName) throw new StartupRefusedError('identity_mismatch', `${paths.database} holds the data of ${stored}, not ${serverName}`);
  const db = openDatabase(paths.database);
  try {
    new Settings(db).set('server_name', serverName);
  } finally {
    db.close();
  }
  const created = identityBackup ? Identity.restore(paths.identity, identityBackup) : Identity.create(paths.identity, serverName);
  return sealer ? Identity.open(paths.identity, sealer) : created;
}

export interface NodeOptions {
  log?: Logger;
  /** Seals the private keys at rest (the desktop app's safeStorage); plaintext 0600 file without. */
  keySealer?: KeySealer;
  /** Shown in the status when keys cannot be protected better than a plaintext file. */
  keyStorageWarning?: string;
  /** Name resolution for outbound connections (address-policy.ts); the system resolver by default. */
  lookup?: LookupFn;
  /** Told after the node stopped itself for good (its data-dir lock was taken away); the CLI exits 1. */
  onFatal?: (error: Error) => void;
}

export function createNode(config: NodeConfig, options: NodeOptions = {}): ParacordNode {
  const paths = dataDirPaths(config.dataDir);
  ensureDataDir(paths);
  const nodeOptions = options;
  const log = options.log ?? createLogger({ level: config.logLevel, file: paths.logFile, stderr: config.logToStderr ?? false, maxBytes: config.logMaxBytes, files: config.logFiles });
  // One node per data dir, and no silent fresh start over a lost identity or database (startup-checks.ts).
  // A node whose lock is taken away stops serving: never two nodes on one directory.
  const dataDirLock = lockDataDir(paths, (error) => {
    log.error({ event: 'data_dir_lock_lost', error: error.message }, 'the data directory lock was taken away: stopping');
    void stop().finally(() => options.onFatal?.(new Error(`stopped: the data directory lock of ${paths.root} was taken away (another node may be running on it)`)));
  }, { staleMs: config.dataDirLockStaleMs });
  const db: Db = (() => {
    try {
      checkDataDir(paths, config);
      return openDatabase(paths.database);
    } catch (error) {
      dataDirLock.release();
      throw error;
    }
  })();
  // A backup killed half-way left its staging copy of the database here (backup/create.ts).
  removeStaleStaging(paths.root);
  const runNonce = randomBytes(32).toString('hex');
  const settings = new Settings(db);
  // Quarantines with an end time lapse by themselves (trust/quarantine-lapses.ts); built once federation starts.
  let lapses: QuarantineLapses | null = null;
  const trust = new TrustStore(db, settings, { onQuarantineChange: () => lapses?.changed() });
  const policy = new AddressPolicy({
    insecureHttp: config.insecureHttp,
    allowPrivateAddresses: config.allowPrivateAddresses ?? false,
    // The owner's own federation URL (the setup wizard's self-check calls it) counts as owner-given.
    endpointVouch: (origin) => trust.endpointVouch(origin) ?? (federationUrl !== null && new URL(federationUrl).origin === origin ? { vouch: 'owner', addresses: 'any' } : undefined),
    ...(options.lookup ? { lookup: options.lookup } : {}),
  });
  const http = new HttpClient({
    allowInsecureHttp: config.insecureHttp, pinFor: (url) => trust.pinnedFingerprintFor(url), policy,
    // Peers' other endpoints (their discovery's federation_endpoints) survive a restart (issue #32 item 4).
    failoverStore: { load: () => settings.get('endpoint_alternates'), save: (text) => settings.set('endpoint_alternates', text), keep: (origin) => trust.endpointVouch(origin) !== undefined },
  });
  const discovery = new Discovery(http, trust, new DestinationBindingMemory(db));
  http.options.bindsDestination = (server) => discovery.bindsDestination(server);
  http.options.forgetDestination = (server) => discovery.forget(server);
  // Loaded in start(): opening sealed keys is asynchronous.
  let identity: Identity | null = null;
  const keys = new ServerKeys(db, http, discovery, log, () => identity);
  // Under the allowlist, a relayed event's unknown origin is verified with the host's key cache, not contacted.
  if (config.maxRelayedOriginsPerHost !== undefined) keys.maxRelayedOriginsPerHost = config.maxRelayedOriginsPerHost;
  keys.mayContactRelayedOrigin = (server) => trust.defaultPolicy === 'open' ? trust.get(server)?.trust !== 'block' : (trust.get(server) !== undefined && trust.get(server)?.trust !== 'block');
  // Group commits flush the WAL from a libuv thread, not the event loop (wal-sync.ts).
  const walSync = new WalSync(paths.database);
  const commit = new GroupCommit(db, { walSync });
  const replay = new ReplayCache(db);
  const events = new FederationEvents(db);
  const verifier = new VerifyPool();
  const quota = new StorageQuota(db, { bytesPerDay: config.peerQuotaBytesPerDay, totalBytes: config.peerQuotaTotalBytes }, log);
  const ingest = new EventIngest({ trust, keys, events, commit, verifier, quota });
  const dialects = new PeerDialects(db);
  keys.isReference = (server) => dialects.isReference(server);
  http.options.referenceVersion = (server) => dialects.referenceVersion(server);
  http.options.onReferenceBinds = (server) => {
    if (dialects.markReference3(server)) log.info({ event: 'reference_binds', server }, `${server} refused an unbound signed request (401): it runs the Paracord reference 3.x, every request to it is bound from now on`);
  };
  // Every binding of a name to a peer is checked here (name-claims.ts); a stored alias is honoured only while it is the peer's alone.
  const claims = new NameClaims({ self: () => identity?.serverName, db, trust, keys, dialects, discovery, http });
  dialects.refusesAlias = (domain, server) => claims.refusesAlias(domain, server);
  const users = new LocalUsers(db);
  const rooms = new RoomStore(db, { maxReactionsPerUserPerMessage: config.maxReactionsPerUserPerMessage, serverName: () => identity?.serverName ?? null });
  const channels = new ReferenceChannels(db, rooms);
  const referenceLookup = channels.targetLookup(events, (origin) => dialects.domainOf(origin), () => identity?.serverName ?? null);
  commit.onRollback = () => {
    rooms.forgetCachedMembership();
    quarantine.forgetHeldBytes();
  };
  const outbox = new Outbox(db);
  const notifications = new NodeEvents();
  // Asked on every delivery kick and federation request (issue #17): read once, kept by setPaused,
  // the only writer while the node runs (the CLI pauses through the admin API).
  let paused = settings.get('federation_paused') === '1';
  const isPaused = () => paused;
  const quarantine = new QuarantineStore(db, quota);
  quarantine.payerOf = (origin, receivedFrom) => ingest.payerOf(origin, receivedFrom);
  const limiter = new RateLimiters({ maxAddressBuckets: config.maxAddressBuckets });
  const trustedProxies = new TrustedProxies(config.trustedProxies ?? []);
  const abuse = new AbuseMonitor(
    () => ({ ...trust.autoQuarantine, ...(config.bannedEventsBeforeQuarantine !== undefined ? { banned_events: config.bannedEventsBeforeQuarantine } : {}) }),
    (server, reason) => {
      const current = trust.get(server)?.trust;
      if (current === 'block' || current === 'quarantine') return;
      trust.upsert(server, { trust: 'quarantine', reason, until_ms: null });
      log.warn({ event: 'auto_quarantined', server, reason }, 'server auto-quarantined');
      notifications.notify({ type: 'status' });
    },
  );
  const backupRecords = new BackupRecords(settings);
  // The command line's schedule wins for this run; without the flags, an earlier run's is cleared.
  const b = config.backup;
  backupRecords.setCommandLineSchedule(b ? { dir: b.dir, every: b.every ?? 'daily', keep: b.keep ?? 7, ...(b.passphraseFile ? { passphrase_file: b.passphraseFile } : {}) } : null);
  const backupScheduler = new BackupScheduler({
    dataDir: config.dataDir, db, records: backupRecords, log,
    serverName: () => identity?.serverName ?? null,
    // Sealed keys go into the archive as a portable copy, restorable on another machine.
    identityText: () => (identity?.sealedBy ? identity.backup() : undefined),
    onChange: () => notifications.notify({ type: 'status' }),
  });
  const metrics = new NodeMetrics(
    { db, databaseFile: paths.database, lastBackupAt: () => backupRecords.last().at, isPaused, reachability: () => reachability?.status() ?? null },
    config.metricsDestinations !== undefined ? { maxDestinations: config.metricsDestinations } : {},
  );
  const isQuarantined = (server: string) => {
    const decision = trust.decide(server);
    return decision.allowed && decision.quarantined;
  };
  const pull = new PullQueue(db);
  // A friend's node as a mailbox (issue #32): what we hold for friends, and where we leave what they cannot be sent.
  const mailboxes = new MailboxStore(db);
  const mailboxSender = new MailboxSender({ db, trust, discovery, http, log });
  const mailboxEnabled = () => settings.get('mailbox_enabled') !== 'off';
  // Requests a mailbox carried for us go to our own listener, checked like direct ones.
  let selfBase: string | null = null;
  const selfDispatch = new SelfDispatch(() => selfBase, () => identity?.serverName ?? '');
  const mailboxFetcher = new MailboxFetcher({
    db, trust, discovery, http, identity: () => identity, log, isPaused,
    dispatch: (carried) => selfDispatch.dispatch(carried),
    onChange: () => notifications.notify({ type: 'status' }),
  });
  /** The friends whose mailboxes we fetched from lately (none while we are reached directly). */
  const currentMailboxes = () => mailboxFetcher.sources().filter((m) => m.last_error === null && m.last_fetch_at !== null && Date.now() - m.last_fetch_at < 2 * 60_000).map((m) => m.server_name);
  const pushLimit = { events: config.referencePushPerMinute ?? DEFAULT_REFERENCE_PUSH_LIMIT.events, windowMs: config.referencePushWindowMs ?? DEFAULT_REFERENCE_PUSH_LIMIT.windowMs };
  const workers = new DeliveryWorkers({
    outbox, events, http, discovery, log, isPaused, pull, mailbox: mailboxSender,
    pacer: new PushPacer((destination) => (pushLimit.events > 0 && dialects.isReference(destination) ? pushLimit : null)),
    cannotCarry: (destination) => (dialects.referenceVersion(destination) === '3' ? (event) => reference3Refusal(event, destination) : null),
    isHeld: isQuarantined,
    identity: () => identity,
    backoff: { initialMs: config.retryInitialMs ?? DEFAULT_BACKOFF.initialMs, maxMs: config.retryMaxMs ?? DEFAULT_BACKOFF.maxMs },
    ...(config.outboxMaxAgeMs !== undefined ? { maxAgeMs: config.outboxMaxAgeMs } : {}),
    onChange: () => notifications.notify({ type: 'status', scope: 'queue' }),
    reissue: (destination, eventId, roomDepth) => roomService?.reissueRefused(destination, eventId, roomDepth) ?? Promise.resolve(false),
    onAttempt: (destination, outcome, latencyMs, delivered) => metrics.deliveryAttempt(destination, outcome, latencyMs, delivered),
  });
  outbox.onQueued = (destination) => workers.noteQueued(destination);
  let roomService: RoomService | null = null;
  let peeringService: PeeringService | null = null;
  let reachability: Reachability | null = null;
  let referenceRooms: ReferenceRooms | null = null;
  // Read once: the token does not change while the node runs (rotate it by restarting).
  const token = readAdminToken(paths);
  const adminToken = () => token;
  const sessions = new LoginSessions(db, config.sessionTtlSeconds !== undefined ? config.sessionTtlSeconds * 1000 : undefined);
  let adminUrl = '';

  let tls: TlsMaterial | null = null;
  let federationServer: Server | null = null;
  let federationUrl: string | null = null;
  /** Every endpoint this node can be reached at, best first (discovery `federation_endpoints`). */
  let endpoints: () => string[] = () => (federationUrl ? [federationUrl] : []);
  let adminServer: Server | null = null;
  /** The admin listener's upgraded connections (admin streams), which the server does not close itself. */
  let adminUpgrades: UpgradedSockets | null = null;
  let pruneTimer: NodeJS.Timeout | null = null;

  const federationInFlight = new InFlightRequests();
  const adminInFlight = new InFlightRequests();
  // Any write or request makes a period busy: memory is given back only when nothing happens.
  const activity = () => commit.stats.jobs + federationInFlight.started + adminInFlight.started;
  const memoryTrim = new IdleMemoryTrim({ log, activity, releaseCaches: () => db.pragma('shrink_memory') });
  let stopped = false;
  const startedAt = Date.now();

  const context: NodeContext = {
    config, paths, log, db, settings, trust, http, discovery, keys, users, rooms, outbox, workers, pull, notifications,
    mailbox: { store: mailboxes, sources: () => mailboxFetcher.sources() }, startedAt, quarantine, quota, dialects, claims, limiter,
    backups: { records: backupRecords, scheduler: backupScheduler },
    releaseHeld: (server) => releaseHeld(server, quarantine, ingest, log),
    identity: () => identity,
    federationUrl: () => federationUrl,
    tls: () => tls,
    isPaused,
    roomService: () => {
      if (!roomService) throw new Error('the node has no identity yet');
      return roomService;
    },
    reachability: () => {
      if (!reachability) throw new Error('the node has no identity yet');
      return reachability;
    },
    peering: () => {
      if (!peeringService) throw new Error('the node has no identity yet');
      return peeringService;
    },
    referenceRooms: () => {
      if (!referenceRooms) throw new Error('the node has no identity yet');
      return referenceRooms;
    },
    loginUrl: (validForMs) => `${adminUrl}/login?code=${sessions.newLoginCode(Date.now(), validForMs)}`,
    setPaused: (pause) => {
      settings.set('federation_paused', pause ? '1' : '0');
      paused = pause;
      log.info({ event: pause ? 'federation_paused' : 'federation_resumed' }, pause ? 'federation paused' : 'federation resumed');
      if (!pause) workers.start();
      notifications.notify({ type: 'status' });
    },
    keyStorage: () => ({ sealed_by: identity?.sealedBy ?? null, warning: nodeOptions.keyStorageWarning ?? null }),
    completeSetup: async (serverName, options = {}) => {
      if (options.public_url) settings.set('public_url', options.public_url);
      if (options.tls_cert_file && options.tls_key_file) {
        settings.set('tls_cert_file', options.tls_cert_file);
        settings.set('tls_key_file', options.tls_key_file);
      }
      identity = await initDataDir(config.dataDir, serverName, options.identity_backup, nodeOptions.keySealer, config);
      log.info({ event: 'setup_complete', server_name: serverName, key_id: identity.keyId }, 'node initialized');
      await startFederation();
    },
  };

  const admin: AdminHandlers = {
    ...statusOperations(context),
    ...peerOperations(context),
    ...policyOperations(context),
    ...userOperations(context),
    ...roomOperations(context),
    ...inviteOperations(context),
    ...moderationOperations(context),
    ...searchOperations(context),
    ...federationOperations(context),
    ...peeringOperations(context),
    ...keyOperations(context),
    ...backupOperations(context),
    ...reachabilityOperations(context),
    ...mailboxOperations(context),
    ...sessionOperations(sessions),
  };
  // In setup mode only status and setup make sense; everything else waits for an identity.
  const guardedAdmin = new Proxy(admin, {
    get(target, name: string) {
      const handler = target[name as keyof AdminHandlers];
      if (identity || name === 'getStatus' || name === 'setup' || name === 'createLoginLink' || name === 'listSessions' || name === 'revokeSession' || name === 'logout' || typeof handler !== 'function') return handler;
      return async () => {
        throw new HttpError(409, 'setup_required', 'this node is not set up yet: choose a server name first (POST /setup or `paracord-node init`)');
      };
    },
  });

  async function startFederation(): Promise<void> {
    if (!identity) return;
    const id = identity;
    quota.isExempt = (server) => server === id.serverName;
    users.add('owner', id.serverName);
    const service = new RoomService({
      db, commit, events, rooms, users, outbox, workers, ingest, http, discovery, identity: () => id, notifications, log, signer: verifier,
      mailboxFor: (server) => mailboxSender.find(id, server),
      leaveAtMailbox: async (server, path, body) => (await mailboxSender.deposit(id, server, path, body))?.response.status === 200,
      reorderWindowMs: config.reorderWindowMs, maxPendingInvitesPerPeer: config.maxPendingInvitesPerPeer, dialects,
      catchUpRequestsPerHostPerMinute: config.catchUpRequestsPerHostPerMinute, catchUpMaxPagesPerRun: config.catchUpMaxPagesPerRun,
      onBannedSender: (server) => abuse.record(server, 'banned_events'),
      onReceived: metrics.fetched('catch_up'),
    });
    roomService = service;
    outbox.onDelivered = (destination, delivered) => service.noteDelivered(destination, delivered);
    outbox.onSettled = (rows) => service.noteDeliveryChanged(rows);
    pull.onDelivered = (destination, delivered) => {
      service.noteDelivered(destination, delivered);
      service.noteDeliveryChanged(delivered);
    };
    referenceRooms = new ReferenceRooms({
      db, commit, rooms, ingest, http, discovery, trust, dialects, channels, identity: () => id, notifications, log, intervalMs: config.referencePollIntervalMs,
      keyChangePending: (peer) => keys.replaced.pending(peer) !== undefined,
    });
    peeringService = new PeeringService({
      db, identity: () => id, federationUrl: () => federationUrl ?? '', tls: () => tls, trust, keys, claims, http, discovery, log, pull,
      onPeered: () => notifications.notify({ type: 'status' }),
      onNotReached: (server, error) => reachability?.notReachedBy(server, error),
      // Our links name where we receive while nobody can reach us (issue #32).
      mailboxes: currentMailboxes,
      leaveAtMailbox: async (server, path, body, via) => (await mailboxSender.deposit(id, server, path, body, undefined, via))?.mailbox ?? null,
    });
    peeringService.start();
    ingest.hooks = {
      isHeld: (eventId) => quarantine.isHeld(eventId),
      checkHeld: (server, bytes) => quota.checkHeld(server, quarantine.heldBytes(server), bytes),
      hold: (server, from, verified) => {
        const held = quarantine.hold(server, from, verified.envelope, verified.hash);
        notifications.notify({ type: 'status' }); // the quarantine review is live (issue #16 item 12)
        return held;
      },
      onAttributableFailure: (server) => abuse.record(server, 'signature_failures'),
      checkRoute: (origin, event) => service.checkRoute(origin, event),
      checkContent: checkContentBulk,
      authorize: (event) => service.authorizeInbound(event),
      onStored: (event, from) => {
        channels.ensure(event.room_id, event.content); // a reference channel's first message makes its room
        service.onInboundStored(event, from);
        channels.afterMemberEvent(event);
      },
      onCommitted: (event) => service.onInboundCommitted(event),
      onDurable: (event) => service.onInboundDurable(event),
      writingBatch: (write) => rooms.coalescingClockUpdates(() => quota.coalescing(write)),
      domainOf: (origin) => dialects.domainOf(origin),
      speaksReference: (origin) => dialects.isReference(origin),
      view: (event) => (dialects.isReference(event.origin_server) ? localView(event, referenceLookup) : undefined),
    };
    if (!config.insecureHttp) {
      // The command line wins; then what the setup wizard stored; then a generated certificate.
      const certFile = config.tlsCertFile ?? settings.get('tls_cert_file');
      const keyFile = config.tlsKeyFile ?? settings.get('tls_key_file');
      tls = certFile && keyFile
        ? loadCertificate(certFile, keyFile, false)
        : await ensureSelfSignedCertificate(paths.tlsCert, paths.tlsKey, id.serverName, paths.tlsDir);
    }
    const app = createFederationApp({
      log,
      identity: id,
      events,
      ingest,
      replay,
      keys,
      rooms: () => service,
      peering: () => peeringService!,
      commit,
      isDispatched: (value) => selfDispatch.isDispatched(value),
      verifySignedRequest: verifySignedRequest({
        trust, keys, replay, commit, limiter, abuse, verifier,
        isDispatched: (value) => selfDispatch.isDispatched(value),
        serverName: () => id.serverName,
        destinationAlias: (origin) => (federationUrl !== null && dialects.isReference(origin) ? new URL(federationUrl).hostname.toLowerCase() : null),
        // Fails closed for servers seen to bind (destination-binding.ts).
        bindsDestination: async (origin) => dialects.referenceVersion(origin) === '3' || discovery.requiresBinding(origin),
        onVerified: (origin) => {
          trust.markSeen(origin);
          workers.wake(origin);
        },
      }),
      capabilities: ['batch', LARGE_BATCH_CAPABILITY, DESTINATION_BINDING_CAPABILITY],
      publicUrl: () => federationUrl ?? '',
      federationEndpoints: () => endpoints(),
      isPaused,
      isEntitledToEvent: eventEntitlement((roomId, server) => rooms.isJoinedServer(roomId, server)),
      referenceVersion: (server) => dialects.referenceVersion(server),
      observe: metrics.federationObserver(),
      limiter, verifier, trustedProxies, peeringLimit: config.peeringRateLimit, bodyTimeoutMs: config.bodyTimeoutMs,
      pull,
      mailbox: { store: mailboxes, enabled: mailboxEnabled, ...(config.pullWaitMs !== undefined ? { waitMs: config.pullWaitMs } : {}) },
      mailboxPeerAllowed: (server) => trust.get(server)?.trust === 'allow',
      answerThroughMailbox: (server, path, body) => {
        void mailboxSender.deposit(id, server, path, body).then((left) => {
          if (left?.response.status !== 200) log.warn({ event: 'mailbox_answer_failed', server, path, status: left?.response.status ?? null }, 'could not leave an answer at a mailbox; it is sent again when the request comes again');
        });
      },
      onMailboxChange: () => notifications.notify({ type: 'status', scope: 'queue' }),
      ...(config.pullWaitMs !== undefined ? { pullWaitMs: config.pullWaitMs } : {}),
      ...(config.reachProbeIntervalSeconds !== undefined ? { reachProbeIntervalSeconds: config.reachProbeIntervalSeconds } : {}),
      onPullAck: () => notifications.notify({ type: 'status', scope: 'queue' }),
      reachProbe: async (server, keyId) => {
        const answer = await probeCaller({ trust, discovery, http, knownKey: (s, k) => keys.get(s, k)?.public_key ?? null }, server, keyId);
        // Called back where it told us it lives: that endpoint is proven, it may be pushed to (issue #32).
        if (answer.reachable && pull.markReached(server)) {
          log.info({ event: 'peer_endpoint_reached', server }, `${server} was reached at its endpoint: its events are pushed again`);
          workers.kick(server);
        }
        return answer;
      },
      extraCapabilities: () => [...(reachability?.capabilities() ?? []), ...(mailboxEnabled() ? [MAILBOX_CAPABILITY] : [])],
      deliveryFailingTo: (server) => outbox.networkFailing(server),
    }, federationInFlight);
    let { host, port } = parseHostPort(config.listen, '--listen');
    const limits = federationConnectionLimits(config);
    const server = tls
      ? createHttpsServer({ ...serverOptions(limits), cert: tls.cert, key: tls.key }, app.callback())
      : createHttpServer(serverOptions(limits), app.callback());
    limitConnections(server, limits, { log, listener: 'federation', exempt: (address) => trustedProxies.isTrusted(address) });
    try {
      await listen(server, port, host);
    } catch (error) {
      // The default dual-stack listener on a host without IPv6: IPv4 only (issue #32 item 4).
      const code = (error as NodeJS.ErrnoException).code;
      if (!config.listenFallback || (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL')) throw error;
      log.info({ event: 'listen_ipv4_only', listen: config.listen, error: code }, `this host has no IPv6: listening on ${config.listenFallback} instead of ${config.listen}`);
      ({ host, port } = parseHostPort(config.listenFallback, '--listen'));
      await listen(server, port, host);
    }
    federationServer = server;
    const actual = (server.address() as AddressInfo).port;
    selfBase = `${tls ? 'https' : 'http'}://${/^(0\.0\.0\.0|::|\[::\]|)$/.test(host) ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${actual}`;
    const publicUrl = config.publicUrl ?? settings.get('public_url');
    const scheme = tls ? 'https' : 'http';
    federationUrl = publicUrl?.replace(/\/+$/, '') ?? await defaultEndpoint(scheme, host, actual, id.serverName);
    const listenHost = host;
    // Discovery is public: the machine's addresses are read at most every 5 s, however often it is asked.
    let listed: { at: number; list: string[] } | null = null;
    endpoints = () => {
      if (!listed || Date.now() - listed.at > 5_000) listed = { at: Date.now(), list: ownEndpoints({ federationUrl: federationUrl ?? '', ownerGaveUrl: publicUrl !== undefined, scheme, port: actual, listenHost }) };
      return listed.list;
    };
    log.info({ event: 'federation_listening', url: federationUrl, listen: `${host}:${actual}`, tls: tls ? { self_signed: tls.selfSigned, fingerprint256: tls.fingerprint256 } : null }, 'federation API listening');
    workers.start();
    reachability = new Reachability({
      trust, http, discovery, log, identity: () => id, federationUrl: () => federationUrl, federationPort: () => actual,
      // While nobody can reach us: pull what peers queued for us, and fetch what others left at them (mailboxes).
      puller: receivers(
        new Puller({
          db, trust, discovery, http, ingest, identity: () => id, log, isPaused, onChange: () => notifications.notify({ type: 'status' }), onReceived: metrics.fetched('pull'),
          receiveInvite: (server, raw) => service.receiveInviteEvent(server, raw),
        }),
        mailboxFetcher,
      ),
      forcePull: config.pull ?? false,
      neverReached: (server) => pull.unreachedReason(server) !== null,
      mailboxSources: currentMailboxes,
      // A node listening on loopback only cannot be reached through the router: no mapping then.
      portMapping: !(config.noPortMapping ?? false) && !/^(127\.|::1$|localhost$)/.test(host),
      listenHost: host,
      ...(config.reachabilityWatchSeconds !== undefined ? { watchSeconds: config.reachabilityWatchSeconds } : {}),
      ...(config.reachabilityConfirmSeconds !== undefined ? { confirmSeconds: config.reachabilityConfirmSeconds } : {}),
      ...(config.reachabilityRecheckSeconds !== undefined ? { recheckSeconds: config.reachabilityRecheckSeconds } : {}),
      ...(config.portMappingGateway ? { gatewayAddress: config.portMappingGateway } : {}),
      onChange: () => notifications.notify({ type: 'status' }),
    });
    reachability.start();
    http.options.onDeliveryFailing = (peer) => reachability?.peerReportsFailing(peer);
    referenceRooms.start();
    // Pull what we missed in remote rooms while we were away (the hosts' outboxes also resend).
    for (const roomId of service.remoteJoinedRooms()) {
      service.catchUp(roomId).catch((error: Error) => warnLimited(log, `catch_up_failed ${roomId}`, { event: 'catch_up_failed', room_id: roomId, error: error.message }, 'catch-up failed; will rely on the host resending'));
    }
  }

  async function start(): Promise<StartedNode> {
    if (!identity && Identity.exists(paths.identity)) identity = await Identity.open(paths.identity, nodeOptions.keySealer);
    const storedName = settings.get('server_name');
    const initName = config.serverName ?? (config.newIdentity ? storedName : undefined);
    if (!identity && initName) {
      if (storedName && storedName !== initName) throw new Error(`${paths.root} holds the data of ${storedName}, not ${initName}`);
      identity = await initDataDir(config.dataDir, initName, undefined, nodeOptions.keySealer, config);
      if (config.newIdentity) log.warn({ event: 'new_identity', server_name: identity.serverName, key_id: identity.keyId }, 'made a new signing key on purpose (--new-identity); peers must accept it');
      else log.info({ event: 'initialized', server_name: identity.serverName, key_id: identity.keyId }, 'data directory initialized');
    } else if (identity && config.serverName && config.serverName !== identity.serverName) {
      throw new Error(`${paths.root} is initialized as ${identity.serverName}, not ${config.serverName}`);
    }
    // The database records whose data it holds (checkDataDir compares it with identity.json); older ones learn it here.
    if (identity && settings.get('server_name') === undefined) settings.set('server_name', identity.serverName);
    await startFederation();

    const adminListen = parseHostPort(config.adminListen ?? DEFAULT_ADMIN_LISTEN, '--admin-listen');
    const adminApp = createAdminApp({
      log, token: adminToken, handlers: () => guardedAdmin, extraHosts: [adminListen.host], notifications, sessions,
      uiRoot: join(PACKAGE_ROOT, 'dist', 'renderer'),
      inFlight: adminInFlight,
      runNonce: () => runNonce,
      metrics: () => metrics.scrape(),
      streamLimits: config.adminStreamLimits,
    });
    const adminLimits = adminConnectionLimits(config);
    const server = createHttpServer(serverOptions(adminLimits), adminApp.callback());
    adminUpgrades = passUpgradesThrough(server, adminApp.callback());
    limitConnections(server, adminLimits, { log, listener: 'admin', upgrades: true });
    await listen(server, adminListen.port, adminListen.host);
    adminServer = server;
    const adminPort = (server.address() as AddressInfo).port;
    adminUrl = `http://${urlHost(adminListen.host, 'localhost')}:${adminPort}`;

    pruneTimer = setInterval(() => {
      try {
        replay.prune();
        if (mailboxes.expire() > 0) notifications.notify({ type: 'status', scope: 'queue' });
        const expired = outbox.expireOlderThan(config.outboxMaxAgeMs ?? DEFAULT_MAX_AGE_MS);
        if (expired > 0) log.warn({ event: 'delivery_expired', count: expired }, 'undelivered entries expired');
        outbox.pruneAttempts(7 * 24 * 3600_000, 200_000);
        roomService?.clientTxns.forget(Date.now());
      } catch (error) {
        log.warn({ event: 'housekeeping_failed', error: (error as Error).message }, 'periodic cleanup failed');
      }
    }, 60_000);
    pruneTimer.unref();
    // Quarantines with an end time lapse by themselves; what they held is then released.
    lapses = new QuarantineLapses(trust, (server) => {
      trust.upsert(server, { trust: 'allow', reason: 'quarantine ended', until_ms: null });
      log.info({ event: 'quarantine_ended', server }, 'quarantine ended');
      void releaseHeld(server, quarantine, ingest, log).finally(() => workers.kick(server));
      notifications.notify({ type: 'status' });
    });
    lapses.start();

    const runtime: RuntimeInfo = { pid: process.pid, federation_url: federationUrl, admin_url: adminUrl, started_at: startedAt, nonce: runNonce };
    writeFileAtomic(paths.runtime, JSON.stringify(runtime) + '\n');
    const mode = identity ? 'running' : 'setup';
    memoryTrim.start();
    backupScheduler.start();
    log.info({ event: 'node_ready', mode, server_name: identity?.serverName ?? null, federation_url: federationUrl, admin_url: adminUrl }, 'node ready');
    return { mode, federation_url: federationUrl, admin_url: adminUrl, login_url: context.loginUrl() };
  }

  async function stop(graceMs = 10_000): Promise<void> {
    if (stopped) return;
    stopped = true;
    if (pruneTimer) clearInterval(pruneTimer);
    memoryTrim.stop();
    roomService?.stop(); // running catch-ups end before the database closes
    peeringService?.stop();
    lapses?.stop();
    log.info({ event: 'node_stopping' }, 'stopping: finishing in-flight requests');
    const forced = (name: string) =>
      log.warn({ event: 'shutdown_forced', listener: name, grace_ms: graceMs, open_requests: name === 'federation' ? [...federationInFlight].slice(0, 20) : undefined }, `requests still open on the ${name} listener after the grace period; closing them`);
    notifications.emit('close', graceMs);
    // Admin streams close by themselves once their requests are answered; past the grace period they are cut.
    const streamsCut = setTimeout(() => adminUpgrades?.destroyAll(), graceMs);
    streamsCut.unref();
    pull.wakeAll();
    mailboxes.wakeAll();
    await Promise.all([
      reachability?.stop(),
      close(federationServer, graceMs, () => forced('federation'), () => federationInFlight.size),
      close(adminServer, graceMs, () => forced('admin'), () => adminInFlight.size),
      workers.stop(),
      backupScheduler.stop(),
      referenceRooms?.stop(),
    ]);
    clearTimeout(streamsCut);
    // Let any group commit scheduled by the last requests run, and reach the disk, before closing.
    await selfDispatch.close();
    await commit.drained();
    await walSync.close();
    await verifier.close();
    rooms.search.stop();
    db.close();
    // Only our own node.json: after a lost lock it may be another node's.
    if (readRuntimeInfo(paths)?.nonce === runNonce) rmSync(paths.runtime, { force: true });
    dataDirLock.release();
    flushLimited(log);
    log.info({ event: 'node_stopped' }, 'node stopped');
    log.flush?.();
  }

  return { start, stop, admin: guardedAdmin, log, context };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Stops a listener: no new connections; requests being handled may finish (up to `graceMs`).
 * As soon as none is being handled, the remaining connections (keep-alive sockets that Node
 * does not count as idle) are closed, rather than waiting out the grace period.
 */
async function close(server: Server | null, graceMs: number, onForced: () => void, handling: () => number): Promise<void> {
  if (!server) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const deadline = Date.now() + graceMs;
  const poll = setInterval(() => {
    if (handling() === 0) server.closeAllConnections();
    else if (Date.now() >= deadline) {
      onForced();
      server.closeAllConnections();
    }
  }, 50);
  await closed;
  clearInterval(poll);
}

/**
 * The endpoint a node without a public URL names (its links, its peering requests): its server
 * name, as before; but a name that resolves nowhere cannot be reached by anybody, and a host with
 * a global IPv6 address can (issue #32 item 4): then that address.
 */
async function defaultEndpoint(scheme: 'http' | 'https', listenHost: string, port: number, serverName: string): Promise<string> {
  const byName = `${scheme}://${urlHost(listenHost, serverName)}:${port}`;
  const wildcard = listenHost === '::' || listenHost === '0.0.0.0';
  const v6 = wildcard ? globalIpv6Addresses(listenHost) : [];
  if (v6.length === 0 || (await nameResolves(serverName.split(':')[0]!))) return byName;
  return ipv6Endpoint(scheme, v6[0]!, port);
}

/** The host part of a URL for a listen address: wildcard addresses become the server name. */
function urlHost(listenHost: string, fallback: string): string {
  if (listenHost === '0.0.0.0' || listenHost === '::') return fallback.split(':')[0]!;
  return listenHost.includes(':') ? `[${listenHost}]` : listenHost;
}

/** Starts and stops the ways a node nobody can reach receives: pull (issue #15) and mailboxes (issue #32). */
function receivers(...parts: Array<{ start(): void; stop(): Promise<void> }>): { start(): void; stop(): Promise<void> } {
  return {
    start: () => parts.forEach((p) => p.start()),
    stop: async () => {
      await Promise.all(parts.map((p) => p.stop()));
    },
  };
}
