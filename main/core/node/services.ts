/**
 * The services a node has from its first moment, set up or not, built in dependency order
 * through their constructors (docs/ARCHITECTURE.md §One owner of state). What one of them must
 * ask of a service built after it is a question on the node's bus, and what it must tell another
 * is an event there (node-bus.ts); what it reads of the root's own state (identity, federation
 * URL) is a function given to it. The services that start with federation, once the node has an
 * identity, are in federation.ts.
 */
import { warnLimited } from '../log/rate-limit.ts';
import type { NodeConfig } from '../config.ts';
import { readAdminToken, type DataDirPaths } from '../data-dir.ts';
import { DestinationBindingMemory } from '../federation/destination-binding.ts';
import { Discovery } from '../federation/discovery.ts';
import { EventIngest, payerOf } from '../federation/event-ingest.ts';
import { HttpClient } from '../federation/http-client.ts';
import { RouterAddresses, homeAddressCheck } from '../federation/home-addresses.ts';
import { AddressPolicy, type LookupFn } from '../federation/address-policy.ts';
import { ServerKeys } from '../federation/keys/server-keys.ts';
import { NameClaims } from '../federation/name-claims.ts';
import { ReplayCache } from '../federation/replay-cache.ts';
import { PeerDialects } from '../federation/reference/peer-dialects.ts';
import { ReferenceChannels } from '../federation/reference/channel-rooms.ts';
import { reference3Refusal } from '../federation/reference/carry.ts';
import type { Identity } from '../identity/identity.ts';
import type { Logger } from '../log/logger.ts';
import { TrustedProxies } from '../http/client-address.ts';
import { InFlightRequests } from '../http/middleware/in-flight.ts';
import { IdleMemoryTrim } from '../memory/idle-memory-trim.ts';
import { VerifyPool } from '../crypto/verify-pool.ts';
import { LoginSessions } from '../admin/sessions.ts';
import { MemberStore } from '../members/member-store.ts';
import { SignInLimiter } from '../members/sign-in-limiter.ts';
import type { Db } from '../store/database.ts';
import { FederationEvents } from '../store/federation-events.ts';
import { GroupCommit } from '../store/group-commit.ts';
import { WalSync } from '../store/wal-sync.ts';
import type { Settings } from '../store/settings.ts';
import type { TlsMaterial } from '../tls/certificate.ts';
import { TrustStore } from '../trust/trust-store.ts';
import { StorageQuota } from '../trust/storage-quota.ts';
import { RateLimiters } from '../trust/rate-limiter.ts';
import { AbuseMonitor } from '../trust/abuse-monitor.ts';
import { QuarantineStore } from '../trust/quarantine.ts';
import { LocalUsers } from '../rooms/local-users.ts';
import { RoomStore } from '../rooms/room-store.ts';
import { HeldThere } from '../outbox/held-there.ts';
import { Outbox } from '../outbox/outbox.ts';
import { DeliveryWorkers } from '../outbox/delivery-worker.ts';
import { DEFAULT_REFERENCE_PUSH_LIMIT, PushPacer } from '../outbox/push-pacer.ts';
import { DEFAULT_BACKOFF } from '../outbox/backoff.ts';
import { BackupRecords } from '../backup/records.ts';
import { BackupScheduler } from '../backup/scheduler.ts';
import { NodeMetrics } from '../metrics/node-metrics.ts';
import { MailboxStore } from '../mailbox/mailbox-store.ts';
import { MailboxSender } from '../mailbox/sender.ts';
import { MailboxDeposits } from '../mailbox/deposits.ts';
import { MailboxFetcher, mailboxRefusalsOut } from '../mailbox/fetcher.ts';
import { SelfDispatch } from '../mailbox/self-dispatch.ts';
import { PullQueue } from '../pull/pull-queue.ts';
import { NodeEvents } from '../node-events.ts';
import { GatewayThread } from '../reachability/gateway-thread.ts';
import { ingestHooks } from './ingest-hooks.ts';
import { NodeBus } from './node-bus.ts';
import type { Running } from './federation.ts';

/**
 * What the composition root itself holds and changes while the node runs; services read it
 * through the late-bound functions they were given.
 */
export interface NodeState {
  /** Null in setup mode (no identity yet); loaded in start() (opening sealed keys is asynchronous). */
  identity: Identity | null;
  /** Asked on every delivery kick and federation request (issue #17): read once, kept by setPaused. */
  paused: boolean;
  federationUrl: string | null;
  /** Our own federation listener as this machine calls it: requests a mailbox carried for us go there. */
  selfBase: string | null;
  tls: TlsMaterial | null;
  /** The services that start with federation; null until then. */
  running: Running | null;
}

export interface NodeBasics {
  config: NodeConfig;
  paths: DataDirPaths;
  log: Logger;
  db: Db;
  settings: Settings;
  state: NodeState;
}

export function newNodeState(settings: Settings): NodeState {
  return { identity: null, paused: settings.get('federation_paused') === '1', federationUrl: null, selfBase: null, tls: null, running: null };
}

/** Trust, where connections may go, the signed-request client, discovery, keys and the names of peers. */
function buildPeerKnowledge({ config, log, db, settings, state }: NodeBasics, bus: NodeBus, lookup: LookupFn | undefined) {
  const trust = new TrustStore(db, settings, { onQuarantineChange: () => bus.emit('quarantineChanged') });
  // The router's public address, as port mapping learns it (the gateway thread, buildServices).
  const routerAddresses = new RouterAddresses();
  const policy = new AddressPolicy({
    insecureHttp: config.insecureHttp,
    allowPrivateAddresses: config.allowPrivateAddresses ?? false,
    // The owner's own federation URL (the setup wizard's self-check calls it) counts as owner-given.
    endpointVouch: (origin) => trust.endpointVouch(origin) ?? (state.federationUrl !== null && new URL(state.federationUrl).origin === origin ? { vouch: 'owner', addresses: 'any' } : undefined),
    ...(lookup ? { lookup } : {}),
    // This machine's own public addresses, and its router's, are judged as private ones (a peer's word cannot point us at ourselves).
    isHomeAddress: homeAddressCheck(undefined, undefined, routerAddresses),
  });
  const http: HttpClient = new HttpClient({
    allowInsecureHttp: config.insecureHttp, pinFor: (url, server) => trust.pinnedFingerprintFor(url, server), policy,
    // The persistent link (docs/PROTOCOL.md): idle connections to peers kept as long as our listener keeps theirs.
    ...(config.keepAliveTimeoutMs !== undefined ? { keepAliveMaxMs: config.keepAliveTimeoutMs } : {}),
    // Peers' other endpoints (their discovery's federation_endpoints) survive a restart (issue #32 item 4).
    failoverStore: { load: () => settings.get('endpoint_alternates'), save: (text) => settings.set('endpoint_alternates', text), keep: (origin) => trust.endpointVouch(origin) !== undefined },
    bindsDestination: (server) => discovery.bindsDestination(server),
    remembersBinding: (server) => discovery.boundWhenLastRead(server),
    forgetDestination: (server) => discovery.forget(server),
    referenceVersion: (server) => dialects.referenceVersion(server),
    onReferenceBinds: (server) => {
      if (dialects.markReference3(server)) log.info({ event: 'reference_binds', server }, `${server} refused an unbound signed request (401): it runs the Paracord reference 3.x, every request to it is bound from now on`);
    },
    onDeliveryFailing: (server) => bus.emit('deliveryFailing', server),
  });
  const discovery: Discovery = new Discovery(http, trust, new DestinationBindingMemory(db));
  const keys: ServerKeys = new ServerKeys(db, http, discovery, log, () => state.identity, {
    // Under the allowlist, a relayed event's unknown origin is verified with the host's key cache, not contacted.
    ...(config.maxRelayedOriginsPerHost !== undefined ? { maxRelayedOriginsPerHost: config.maxRelayedOriginsPerHost } : {}),
    mayContactRelayedOrigin: (server) => (trust.defaultPolicy === 'open' ? trust.get(server)?.trust !== 'block' : trust.get(server) !== undefined && trust.get(server)?.trust !== 'block'),
    isReference: (server) => dialects.isReference(server),
  });
  // Every binding of a name to a peer is checked here (name-claims.ts); a stored alias is honoured only while it is the peer's alone.
  const dialects: PeerDialects = new PeerDialects(db, { refusesAlias: (domain, server) => claims.refusesAlias(domain, server) });
  const claims: NameClaims = new NameClaims({ self: () => state.identity?.serverName, db, trust, keys, dialects, discovery, http });
  return { trust, http, discovery, keys, dialects, claims, routerAddresses };
}

/** The database's writers and what incoming events go through: group commits, the ingest, rooms, quarantine. */
function buildStorage(
  { config, paths, log, db, state }: NodeBasics,
  bus: NodeBus,
  { trust, keys, dialects }: ReturnType<typeof buildPeerKnowledge>,
  { abuse }: ReturnType<typeof buildGuards>,
  notifications: NodeEvents,
) {
  // Group commits flush the WAL from a libuv thread, not the event loop (wal-sync.ts).
  const walSync = new WalSync(paths.database);
  const commit = new GroupCommit(db, {
    walSync,
    onRollback: () => {
      rooms.forgetCachedMembership();
      quarantine.forgetHeldBytes();
    },
  });
  const replay = new ReplayCache(db);
  const events = new FederationEvents(db);
  const verifier = new VerifyPool();
  const quota = new StorageQuota(db, { bytesPerDay: config.peerQuotaBytesPerDay, totalBytes: config.peerQuotaTotalBytes }, log, {
    // This node itself is never charged (set up: it has an identity).
    isExempt: (server) => server === state.identity?.serverName,
  });
  const users = new LocalUsers(db);
  const rooms = new RoomStore(db, { maxReactionsPerUserPerMessage: config.maxReactionsPerUserPerMessage, serverName: () => state.identity?.serverName ?? null });
  const channels = new ReferenceChannels(db, rooms, quota);
  const referenceLookup = channels.targetLookup(events, (origin) => dialects.domainOf(origin), () => state.identity?.serverName ?? null);
  const quarantine = new QuarantineStore(db, quota, { payerOf: (origin, receivedFrom) => payerOf(trust, origin, receivedFrom) });
  const hooks = ingestHooks({ bus, quarantine, quota, dialects, channels, rooms, referenceLookup, abuse, notifications });
  const ingest = new EventIngest({ trust, keys, events, commit, verifier, quota, hooks });
  return { walSync, commit, replay, events, verifier, quota, ingest, users, rooms, channels, referenceLookup, quarantine };
}

/** The federation listener's guards: rate limits, trusted proxies, and the monitor that quarantines abusers. */
function buildGuards({ config, log }: NodeBasics, trust: TrustStore, notifications: NodeEvents) {
  const limiter = new RateLimiters({ maxAddressBuckets: config.maxAddressBuckets });
  const trustedProxies = new TrustedProxies(config.trustedProxies ?? []);
  const abuse = new AbuseMonitor(
    () => ({ ...trust.autoQuarantine, ...(config.bannedEventsBeforeQuarantine !== undefined ? { banned_events: config.bannedEventsBeforeQuarantine } : {}) }),
    (server, reason) => {
      if (!trust.quarantineAbuser(server, reason)) return;
      log.warn({ event: 'auto_quarantined', server, reason }, 'server auto-quarantined');
      notifications.notify({ type: 'status' });
    },
  );
  return { limiter, trustedProxies, abuse };
}

/** What the owner has of the node itself: backups, metrics, login sessions, and memory given back while idle. */
function buildOwnerServices({ config, paths, log, db, settings, state }: NodeBasics, commit: GroupCommit, notifications: NodeEvents) {
  const backupRecords = new BackupRecords(settings);
  // The command line's schedule wins for this run; without the flags, an earlier run's is cleared.
  const b = config.backup;
  backupRecords.setCommandLineSchedule(b ? { dir: b.dir, every: b.every ?? 'daily', keep: b.keep ?? 7, ...(b.passphraseFile ? { passphrase_file: b.passphraseFile } : {}) } : null);
  const backupScheduler = new BackupScheduler({
    dataDir: config.dataDir, db, records: backupRecords, log,
    serverName: () => state.identity?.serverName ?? null,
    // Sealed keys go into the archive as a portable copy, restorable on another machine.
    identityText: () => (state.identity?.sealedBy ? state.identity.backup() : undefined),
    onChange: () => notifications.notify({ type: 'status' }),
  });
  const metrics = new NodeMetrics(
    { db, databaseFile: paths.database, lastBackupAt: () => backupRecords.last().at, isPaused: () => state.paused, reachability: () => state.running?.reachability.status() ?? null,
      federationConnections: () => state.running?.connections ?? null },
    config.metricsDestinations !== undefined ? { maxDestinations: config.metricsDestinations } : {},
  );
  // Read once: the token does not change while the node runs (rotate it by restarting).
  const token = readAdminToken(paths);
  // A session revoked or signed out: every open stream checks its credential again (credential-gate.ts).
  const sessions = new LoginSessions(db, config.sessionTtlSeconds !== undefined ? config.sessionTtlSeconds * 1000 : undefined, () => notifications.notify({ type: 'status' }));
  // Members (issue #34): their accounts and sessions; sign-in failures limited per account and address.
  const members = new MemberStore(db, () => state.identity?.serverName ?? '', new SignInLimiter(config.signInLimits));
  const federationInFlight = new InFlightRequests();
  const adminInFlight = new InFlightRequests();
  // Any write or request makes a period busy: memory is given back only when nothing happens.
  const activity = () => commit.stats.jobs + federationInFlight.started + adminInFlight.started;
  const memoryTrim = new IdleMemoryTrim({ log, activity, releaseCaches: () => db.pragma('shrink_memory') });
  return { backups: { records: backupRecords, scheduler: backupScheduler }, metrics, adminToken: () => token, sessions, members, federationInFlight, adminInFlight, memoryTrim };
}

/**
 * A friend's node as a mailbox (issue #32): what we hold for friends, how we leave what cannot be
 * sent at a friend's mailbox and follow it there, and how we fetch what friends hold for us. Built
 * after the outbox: what a mailbox gives back, or its recipient refused, goes back to it.
 */
function buildMailboxes(
  { config, log, db, settings, state }: NodeBasics,
  bus: NodeBus,
  { trust, http, discovery, keys }: ReturnType<typeof buildPeerKnowledge>,
  { commit, replay }: ReturnType<typeof buildStorage>,
  outbox: Outbox,
  notifications: NodeEvents,
) {
  // What we hold for friends, and where we leave what they cannot be sent.
  // A server the owner allowed is remembered past the bound of servers remembered (servers-remembered.ts).
  const mailboxes = new MailboxStore(db, { ownerAllowed: (server) => trust.get(server)?.trust === 'allow' });
  const mailboxSender = new MailboxSender({ db, trust, discovery, http, keys, log });
  // Where our events wait after a mailbox took them, until their recipient fetched them.
  const mailboxDeposits = new MailboxDeposits({
    db, discovery, http, log, identity: () => state.identity,
    onChange: (gone) => {
      notifications.notify({ type: 'status', scope: 'queue' });
      // A message (or a change of one) no longer waiting at a mailbox: its room's screen asks for it again.
      if (gone.length > 0) bus.emit('deliverySettled', gone);
    },
    // The rooms answer once federation starts (federation.ts).
    // A failure (the database closing) is logged, never an unhandled rejection.
    onTakenLate: (late, settled) =>
      Promise.resolve(bus.answererOf('resendTakenLate')?.(late, settled)).catch((error: unknown) =>
        warnLimited(log, 'mailbox_taken_late_failed', { event: 'mailbox_taken_late_failed', err: error }, 'sending again what a mailbox held too long failed'),
      ),
    // Forgotten at the mailbox's week's end, never seen taken: ours are sent again.
    requeue: (destination, eventId, roomId) => void outbox.enqueue(destination, eventId, roomId),
    // Refused for good by their recipient after a mailbox carried them: failed, in the refusal's words.
    refused: (destination, eventId, roomId, error, status) => void outbox.failAfterDeposit(destination, eventId, roomId, error, status),
    onRequeued: (destinations) => {
      for (const destination of destinations) bus.emit('requeued', destination);
    },
    ...(config.mailboxCheckSeconds !== undefined ? { checkMs: config.mailboxCheckSeconds * 1000 } : {}),
  });
  const mailboxEnabled = () => settings.get('mailbox_enabled') !== 'off';
  // Requests a mailbox carried for us go to our own listener, checked like direct ones.
  const selfDispatch = new SelfDispatch(() => state.selfBase, () => state.identity?.serverName ?? '');
  // The events of carried requests refused for good here, until an ack names them to their mailbox:
  // written by the fetcher and by our listener (in the commit of a carried request's replay entry).
  const mailboxRefusals = mailboxRefusalsOut(db);
  const mailboxFetcher = new MailboxFetcher({
    db, trust, discovery, http, identity: () => state.identity, log, isPaused: () => state.paused, refusals: mailboxRefusals,
    dispatch: (carried) => selfDispatch.dispatch(carried),
    durably: (write) => commit.run(write),
    seen: (signature) => replay.seen(signature),
    onChange: () => notifications.notify({ type: 'status' }),
  });
  /** The friends whose mailboxes we fetched from lately (none while we are reached directly). */
  const currentMailboxes = () => mailboxFetcher.sources().filter((m) => m.last_error === null && m.last_fetch_at !== null && Date.now() - m.last_fetch_at < 2 * 60_000).map((m) => m.server_name);
  return { mailboxes, mailboxSender, mailboxDeposits, mailboxEnabled, selfDispatch, mailboxFetcher, mailboxRefusals, currentMailboxes };
}

/**
 * Sending: the outbox and its workers, pull mode's queue, and a friend's node as a mailbox (issue
 * #32), built between the outbox it gives back to and the workers that leave events there.
 */
function buildDelivery(
  basics: NodeBasics,
  bus: NodeBus,
  peers: ReturnType<typeof buildPeerKnowledge>,
  storage: ReturnType<typeof buildStorage>,
  metrics: NodeMetrics,
  notifications: NodeEvents,
) {
  const { config, log, db, state } = basics;
  const { trust, http, discovery, dialects } = peers;
  const { events } = storage;
  const isPaused = () => state.paused;
  // What friends' nodes hold of ours for review: learnt from pushes' receipts and pulls' acks alike.
  const heldThere = new HeldThere(db);
  const outbox = new Outbox(db, {
    onQueued: (destination) => bus.emit('deliveryQueued', destination),
    onRead: (destination, rows, held) => bus.emit('readBy', destination, rows, held === true),
    onSettled: (rows) => bus.emit('deliverySettled', rows),
  }, heldThere);
  const pull = new PullQueue(db, {
    onRead: (destination, rows, held) => bus.emit('readBy', destination, rows, held === true),
    onSettled: (rows) => bus.emit('deliverySettled', rows),
    // Rows an ack queues again (a host's refusals): counted as the outbox's own are.
    onQueued: (destination) => bus.emit('deliveryQueued', destination),
    // Remembered past the bound of servers remembered (servers-remembered.ts).
    ownerAllowed: (server) => trust.get(server)?.trust === 'allow',
  }, config.pullStaleMs, heldThere);
  const mail = buildMailboxes(basics, bus, peers, storage, outbox, notifications);
  const pushLimit = { events: config.referencePushPerMinute ?? DEFAULT_REFERENCE_PUSH_LIMIT.events, windowMs: config.referencePushWindowMs ?? DEFAULT_REFERENCE_PUSH_LIMIT.windowMs };
  // Nothing is sent to a server the owner quarantined or blocked, whatever was queued for it
  // before: held until it is allowed again (setPeerTrust 'allow' resumes it). The message page
  // names such servers as held (rooms/message-delivery.ts).
  const isHeldDestination = (server: string): boolean => trust.holdsDeliveryTo(server);
  const workers = new DeliveryWorkers({
    outbox, events, http, discovery, log, isPaused, pull, mailbox: mail.mailboxSender, deposits: mail.mailboxDeposits,
    pacer: new PushPacer((destination) => (pushLimit.events > 0 && dialects.isReference(destination) ? pushLimit : null)),
    cannotCarry: (destination) => (dialects.referenceVersion(destination) === '3' ? (event) => reference3Refusal(event, destination) : null),
    plainRefusals: (destination) => dialects.isReference(destination),
    isHeld: isHeldDestination,
    identity: () => state.identity,
    backoff: { initialMs: config.retryInitialMs ?? DEFAULT_BACKOFF.initialMs, maxMs: config.retryMaxMs ?? DEFAULT_BACKOFF.maxMs },
    ...(config.outboxMaxAgeMs !== undefined ? { maxAgeMs: config.outboxMaxAgeMs } : {}),
    onChange: () => notifications.notify({ type: 'status', scope: 'queue' }),
    // The rooms answer once federation starts (federation.ts): no room event is sent before.
    reissue: (destination, eventId, roomDepth) => bus.answererOf('reissueRefused')?.(destination, eventId, roomDepth) ?? Promise.resolve(false),
    onAttempt: (destination, outcome, latencyMs, delivered) => metrics.deliveryAttempt(destination, outcome, latencyMs, delivered),
    onAnswered: (destination) => trust.markSeen(destination),
    subscribeQueued: (listener) => bus.on('deliveryQueued', listener),
  });
  return { outbox, pull, heldThere, ...mail, workers, isPaused, isHeldDestination };
}

/** Every service a node has before federation starts, in dependency order. */
export function buildServices(basics: NodeBasics, lookup: LookupFn | undefined) {
  const bus = new NodeBus();
  const notifications = new NodeEvents((error) => warnLimited(basics.log, 'notification_listener_failed', { event: 'notification_listener_failed', err: error }, 'a listener (a live stream, the tray) could not be told of a change'));
  const peers = buildPeerKnowledge(basics, bus, lookup);
  const guards = buildGuards(basics, peers.trust, notifications);
  const storage = buildStorage(basics, bus, peers, guards, notifications);
  const owner = buildOwnerServices(basics, storage.commit, notifications);
  const delivery = buildDelivery(basics, bus, peers, storage, owner.metrics, notifications);
  // Where port mapping and the IPv6 pinhole ask the router (reachability, once federation starts): a worker only while asked.
  const gatewayThread = new GatewayThread({ onExternalAddress: (address, by) => peers.routerAddresses.note(address, by) });
  return { ...basics, bus, notifications, ...peers, ...storage, ...guards, ...owner, ...delivery, gatewayThread };
}

export type Services = ReturnType<typeof buildServices>;
