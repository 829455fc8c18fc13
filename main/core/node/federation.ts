/**
 * What starts with federation, once the node has an identity: the room service, rooms shared
 * with reference servers, peering, the federation listener and reachability. They come back as
 * one `Running` object (the bus event federationStarted, NodeContext.running()); they hear of
 * deliveries through the node's bus.
 */
import type { Server } from 'node:http';
import type Koa from 'koa';
import type { Middleware } from 'koa';
import { createFederationApp } from '../federation/federation-app.ts';
import { isLoopbackHost } from '../federation/address-policy.ts';
import { normalizeEndpoint } from '../../../shared/endpoint.ts';
import { BATCH_CAPABILITY, DESTINATION_BINDING_CAPABILITY, LARGE_BATCH_CAPABILITY, MAILBOX_CAPABILITY, MAILBOX_REFUSALS_CAPABILITY, MAILBOX_WAITING_CAPABILITY, OWN_EVENTS_CAPABILITY, PULL_HELD_CAPABILITY, PULL_REFUSALS_CAPABILITY } from '../federation/paths.ts';
import { DEFAULT_MAILBOX_QUOTA } from '../mailbox/mailbox-store.ts';
import { readRestoredMark, writeRestoredMark } from '../backup/restored-mark.ts';
import { verifySignedRequest } from '../federation/middleware/verify-signed-request.ts';
import { eventEntitlement } from '../federation/routes/event/index.ts';
import { ReferencePoller } from '../federation/reference/reference-poller.ts';
import { ReferenceRooms } from '../federation/reference/reference-rooms.ts';
import type { ConnectionStats } from '../http/connection-limits.ts';
import type { Identity } from '../identity/identity.ts';
import { warnLimited } from '../log/rate-limit.ts';
import { PeerLiveness } from '../peering/liveness.ts';
import { PeeringService } from '../peering/peering-service.ts';
import { Puller } from '../pull/puller.ts';
import { Reachability } from '../reachability/reachability.ts';
import { probeCaller } from '../reachability/probe-caller.ts';
import { PublishedEndpoints } from '../reachability/published-endpoints.ts';
import { RoomService } from '../rooms/room-service.ts';
import { ensureSelfSignedCertificate, loadCertificate, type TlsMaterial } from '../tls/certificate.ts';
import type { Capability } from './lifecycle.ts';
import { close, defaultEndpoint, forcedClose, listenFederation, selfBaseUrl, type FederationListener } from './listeners.ts';
import type { Services } from './services.ts';

/** The services that start with federation. */
export interface Running {
  rooms: RoomService;
  /** Our users' joins and leaves in rooms Paracord reference servers host. */
  referenceRooms: ReferenceRooms;
  /** Polls reference servers for what their users say in the rooms we share (they never push). */
  referencePoller: ReferencePoller;
  peering: PeeringService;
  /** Whether quiet friends' nodes still answer, checked while the owner's screens list them. */
  liveness: PeerLiveness;
  /** Reachability self-test, port mapping and pull mode (issue #15). */
  reachability: Reachability;
  /** The federation listener. */
  server: Server;
  /** Its connections so far (open, accepted, TLS handshakes): /metrics reads them. */
  connections: ConnectionStats;
  /** Ends the work in progress (catch-ups, peering), before the database closes. */
  halt(): void;
  /** Stops the reachability watch, the reference poller and the listener (its requests get `graceMs`, then `onForced`). */
  close(graceMs: number, onForced: () => void): Promise<void>;
}

/** The room service, reference rooms and peering, told of deliveries by the bus. */
function startRooms(s: Services, id: Identity) {
  const { config, state, bus, notifications, log, mailboxSender } = s;
  const rooms = new RoomService({
    db: s.db, commit: s.commit, events: s.events, rooms: s.rooms, users: s.users, outbox: s.outbox, workers: s.workers, ingest: s.ingest, http: s.http, discovery: s.discovery,
    identity: () => id, notifications, log, signer: s.verifier,
    mailboxFor: (server) => mailboxSender.find(id, server),
    noteUnreachable: (server) => mailboxSender.noteUnreachable(server),
    leaveAtMailbox: async (server, path, body) => {
      const left = await mailboxSender.deposit(id, server, path, body);
      return left?.response.status === 200 ? left.mailbox : null;
    },
    isHeldDestination: s.isHeldDestination,
    isAllowedPeer: (server) => s.trust.decide(server).allowed,
    reorderWindowMs: config.reorderWindowMs, maxPendingInvitesPerPeer: config.maxPendingInvitesPerPeer, dialects: s.dialects,
    catchUpRequestsPerHostPerMinute: config.catchUpRequestsPerHostPerMinute, catchUpMaxPagesPerRun: config.catchUpMaxPagesPerRun, catchUpBackoffMs: config.catchUpBackoffMs,
    ownEventsRetryMs: config.ownEventsRetryMs,
    onBannedSender: (server) => s.abuse.record(server, 'banned_events'),
    onReceived: s.metrics.fetched('catch_up'),
  });
  bus.on('readBy', (destination, rows, held) => rooms.noteRead(destination, rows, held));
  bus.on('deliverySettled', (rows) => rooms.noteDeliveryChanged(rows));
  bus.on('requeued', (destination) => s.workers.deliver(destination, { queued: true }));
  // Incoming events (ingest-hooks.ts): routed and authorized by the rooms, then applied and relayed.
  bus.answer('routeInbound', (origin, event) => rooms.checkRoute(origin, event));
  bus.answer('authorizeInbound', (event) => rooms.authorizeInbound(event));
  bus.on('inboundStored', (event, from) => rooms.onInboundStored(event, from));
  bus.on('inboundCommitted', (event) => rooms.onInboundCommitted(event));
  bus.on('inboundDurable', (event) => rooms.onInboundDurable(event));
  bus.answer('reissueRefused', (destination, eventId, roomDepth) => rooms.reissueRefused(destination, eventId, roomDepth));
  bus.answer('resendTakenLate', (late, settled) => rooms.resendTakenLate(late, settled));
  const referencePoller = new ReferencePoller({
    db: s.db, rooms: s.rooms, ingest: s.ingest, http: s.http, discovery: s.discovery, trust: s.trust, dialects: s.dialects,
    identity: () => id, log, intervalMs: config.referencePollIntervalMs,
    keyChangePending: (peer) => s.keys.replaced.pending(peer) !== undefined,
  });
  const referenceRooms = new ReferenceRooms({
    db: s.db, commit: s.commit, rooms: s.rooms, http: s.http, discovery: s.discovery, trust: s.trust, dialects: s.dialects, channels: s.channels,
    identity: () => id, notifications, log, poller: referencePoller,
  });
  const peering = new PeeringService({
    db: s.db, identity: () => id, federationUrl: () => state.federationUrl ?? '', tls: () => state.tls, trust: s.trust, keys: s.keys, claims: s.claims, http: s.http, discovery: s.discovery, log, pull: s.pull,
    onPeered: () => notifications.notify({ type: 'status' }),
    onNotReached: (server, error) => bus.emit('peerNotReached', server, error),
    // Our links name where we receive while nobody can reach us (issue #32).
    mailboxes: s.currentMailboxes,
    leaveAtMailbox: async (server, path, body, link) => (await mailboxSender.deposit(id, server, path, body, undefined, link))?.mailbox ?? null,
    rememberMailbox: (server, mailboxes) => mailboxSender.remember(server, mailboxes),
  });
  peering.start();
  s.mailboxDeposits.start();
  const liveness = new PeerLiveness({
    discovery: s.discovery, changed: () => notifications.notify({ type: 'status', scope: 'queue' }),
    ...(config.peerLivenessStaleMs !== undefined ? { staleAfterMs: config.peerLivenessStaleMs } : {}),
  });
  return { rooms, referenceRooms, referencePoller, peering, liveness };
}

type RoomParts = ReturnType<typeof startRooms>;

/** The command line wins; then what the setup wizard stored; then a generated certificate. */
async function loadTls({ config, settings, paths }: Services, id: Identity): Promise<TlsMaterial | null> {
  if (config.insecureHttp) return null;
  const certFile = config.tlsCertFile ?? settings.get('tls_cert_file');
  const keyFile = config.tlsKeyFile ?? settings.get('tls_key_file');
  return certFile && keyFile ? loadCertificate(certFile, keyFile, false) : await ensureSelfSignedCertificate(paths.tlsCert, paths.tlsKey, id.serverName, paths.tlsDir);
}

/** The federation API (federation-app.ts) over this node's services. */
/** Answers one server may have on their way through a mailbox at once (a join's snapshot or refusal). */
const MAX_ANSWERS_IN_FLIGHT = 16;

function federationApp(s: Services, id: Identity, parts: RoomParts, endpoints: PublishedEndpoints, memberClient: Middleware | undefined): Koa {
  const { config, state, log, trust, keys, dialects, discovery, pull, mailboxSender, notifications } = s;
  const isDispatched = (value: string) => s.selfDispatch.isDispatched(value);
  /** Answers on their way to each server through a mailbox (answerThroughMailbox). */
  const answersInFlight = new Map<string, number>();
  return createFederationApp({
    log, identity: id, events: s.events, ingest: s.ingest, replay: s.replay, keys,
    rooms: () => parts.rooms,
    peering: () => parts.peering,
    commit: s.commit,
    isDispatched,
    verifySignedRequest: verifySignedRequest({
      trust, keys, replay: s.replay, commit: s.commit, limiter: s.limiter, abuse: s.abuse, verifier: s.verifier,
      isDispatched,
      carriedRefusals: s.mailboxRefusals,
      serverName: () => id.serverName,
      destinationAlias: (origin) => (state.federationUrl !== null && dialects.isReference(origin) ? new URL(state.federationUrl).hostname.toLowerCase() : null),
      // Fails closed for servers seen to bind (destination-binding.ts).
      bindsDestination: async (origin) => dialects.referenceVersion(origin) === '3' || discovery.requiresBinding(origin),
      onVerified: (origin) => {
        trust.markSeen(origin);
        s.workers.deliver(origin, { peerIsBack: true });
      },
    }),
    // mailbox_refusals and mailbox_waiting whether or not the owner lets friends deposit here: a mailbox switched off still drains (its acks and held checks answer).
    capabilities: [BATCH_CAPABILITY, LARGE_BATCH_CAPABILITY, DESTINATION_BINDING_CAPABILITY, PULL_REFUSALS_CAPABILITY, PULL_HELD_CAPABILITY, MAILBOX_REFUSALS_CAPABILITY, MAILBOX_WAITING_CAPABILITY, OWN_EVENTS_CAPABILITY],
    publicUrl: () => state.federationUrl ?? '',
    federationEndpoints: () => endpoints.list(),
    mailboxesNamed: s.currentMailboxes,
    isPaused: s.isPaused,
    isEntitledToEvent: eventEntitlement((roomId, server) => s.rooms.isJoinedServer(roomId, server)),
    referenceVersion: (server) => dialects.referenceVersion(server),
    observe: s.metrics.federationObserver(),
    limiter: s.limiter, verifier: s.verifier, trustedProxies: s.trustedProxies, peeringLimit: config.peeringRateLimit, bodyTimeoutMs: config.bodyTimeoutMs,
    pull,
    mailbox: {
      store: s.mailboxes, enabled: s.mailboxEnabled, ...(config.pullWaitMs !== undefined ? { waitMs: config.pullWaitMs } : {}),
      ...(config.mailboxQuotaItems !== undefined ? { quota: { ...DEFAULT_MAILBOX_QUOTA, items: config.mailboxQuotaItems } } : {}),
      ...(config.mailboxDepositsPerMinute !== undefined ? { depositLimit: { per_second: config.mailboxDepositsPerMinute / 60, burst: config.mailboxDepositsPerMinute } } : {}),
    },
    mailboxPeerAllowed: (server) => trust.get(server)?.trust === 'allow',
    // At most MAX_ANSWERS_IN_FLIGHT answers to one server at a time: a peer handing us carried
    // requests as fast as its limits allow does not get as many deposits started at once. A
    // carried join past that is answered 429 before it is taken (the membership route), so the
    // mailbox hands it over again; one past it all the same (joins taken at once) is logged.
    mailboxAnswersFull: (server) => (answersInFlight.get(server) ?? 0) >= MAX_ANSWERS_IN_FLIGHT,
    answerThroughMailbox: (server, path, body) => {
      const inFlight = answersInFlight.get(server) ?? 0;
      if (inFlight >= MAX_ANSWERS_IN_FLIGHT) {
        warnLimited(log, `mailbox_answer_dropped ${server}`, { event: 'mailbox_answer_dropped', server, path }, 'too many answers to this server on their way through a mailbox; this one is not sent (its user may accept again)');
        return;
      }
      answersInFlight.set(server, inFlight + 1);
      void mailboxSender.deposit(id, server, path, body).then((left) => {
        if (left?.response.status !== 200) log.warn({ event: 'mailbox_answer_failed', server, path, status: left?.response.status ?? null }, 'could not leave an answer at a mailbox; its user may accept again');
      }).catch((error: unknown) => warnLimited(log, `mailbox_answer_failed ${server}`, { event: 'mailbox_answer_failed', server, path, err: error }, 'could not leave an answer at a mailbox; its user may accept again')).finally(() => {
        const left = (answersInFlight.get(server) ?? 1) - 1;
        if (left > 0) answersInFlight.set(server, left);
        else answersInFlight.delete(server);
      });
    },
    onMailboxChange: () => notifications.notify({ type: 'status', scope: 'queue' }),
    ...(config.pullWaitMs !== undefined ? { pullWaitMs: config.pullWaitMs } : {}),
    ...(config.reachProbeIntervalSeconds !== undefined ? { reachProbeIntervalSeconds: config.reachProbeIntervalSeconds } : {}),
    onPullAck: () => notifications.notify({ type: 'status', scope: 'queue' }),
    reachProbe: async (server, keyId, nonce) => {
      const answer = await probeCaller({ trust, discovery, http: s.http, knownKey: (name, k) => keys.get(name, k)?.public_key ?? null }, server, keyId, nonce);
      // Called back where it told us it lives: that endpoint is proven, it may be pushed to (issue #32).
      if (answer.reachable && pull.markReached(server)) {
        log.info({ event: 'peer_endpoint_reached', server }, `${server} was reached at its endpoint: its events are pushed again`);
        s.workers.deliver(server);
      }
      return answer;
    },
    reachEcho: (nonce) => state.running?.reachability.echo(nonce) ?? false,
    extraCapabilities: () => [...(state.running?.reachability.capabilities() ?? []), ...(s.mailboxEnabled() ? [MAILBOX_CAPABILITY] : [])],
    deliveryFailingTo: (server) => s.outbox.networkFailing(server),
    ...(memberClient ? { memberClient } : {}),
  }, s.federationInFlight);
}

/** Reachability (issue #15): the self-test, port mapping, and pull mode with the mailboxes while nobody can reach us. */
function buildReachability(s: Services, id: Identity, parts: RoomParts, listener: FederationListener): Reachability {
  const { config, state, notifications } = s;
  return new Reachability({
    trust: s.trust, http: s.http, discovery: s.discovery, log: s.log, identity: () => id, federationUrl: () => state.federationUrl, federationPort: () => listener.port,
    // While nobody can reach us: pull what peers queued for us, and fetch what others left at them (mailboxes).
    puller: receivers(
      new Puller({
        db: s.db, trust: s.trust, discovery: s.discovery, http: s.http, ingest: s.ingest, identity: () => id, log: s.log, isPaused: s.isPaused,
        onChange: () => notifications.notify({ type: 'status' }), onReceived: s.metrics.fetched('pull'),
        receiveInvite: (server, raw) => parts.rooms.receiveInviteEvent(server, raw),
        ...(config.pullUncheckedForMs !== undefined ? { uncheckedForMs: config.pullUncheckedForMs } : {}),
      }),
      s.mailboxFetcher,
    ),
    forcePull: config.pull ?? false,
    neverReached: (server) => s.pull.unreachedReason(server) !== null,
    mailboxSources: s.currentMailboxes,
    // A node listening on loopback only cannot be reached through the router: no mapping then.
    // Judged by the address it is bound to (a host name resolving to 127.0.1.1 is loopback).
    portMapping: !(config.noPortMapping ?? false) && !isLoopbackHost(boundAddressOf(listener)),
    listenHost: listener.host,
    ...(config.reachabilityWatchSeconds !== undefined ? { watchSeconds: config.reachabilityWatchSeconds } : {}),
    ...(config.reachabilityConfirmSeconds !== undefined ? { confirmSeconds: config.reachabilityConfirmSeconds } : {}),
    ...(config.reachabilityRecheckSeconds !== undefined ? { recheckSeconds: config.reachabilityRecheckSeconds } : {}),
    ...(config.reachabilityReportGapSeconds !== undefined ? { reportGapSeconds: config.reachabilityReportGapSeconds } : {}),
    gateway: s.gatewayThread,
    ...(config.portMappingGateway ? { gatewayAddress: config.portMappingGateway } : {}),
    onChange: () => notifications.notify({ type: 'status' }),
  });
}

/** Where this node is reached: its federation URL and endpoints, from the listener's address. */
async function nameEndpoints(s: Services, id: Identity, listener: FederationListener): Promise<void> {
  const { state, config, settings } = s;
  const { host, port } = listener;
  state.selfBase = selfBaseUrl(state.tls, host, port);
  const publicUrl = usablePublicUrl(s, config.publicUrl ?? settings.get('public_url'));
  const scheme = state.tls ? 'https' : 'http';
  const federationUrl = publicUrl ?? (await defaultEndpoint(scheme, host, port, id.serverName));
  state.federationUrl = federationUrl;
  s.bus.emit('federationListening', { federationUrl, ownerGaveUrl: publicUrl !== undefined, scheme, port, listenHost: host });
  const tls = state.tls;
  s.log.info({ event: 'federation_listening', url: state.federationUrl, listen: `${host}:${port}`, tls: tls ? { self_signed: tls.selfSigned, fingerprint256: tls.fingerprint256 } : null }, 'federation API listening');
}

/**
 * Starts federation for an identity: the services above, in order; `state.running` once they all
 * exist. `memberClient`: the members' app and API, served on the federation listener (issue #34).
 */
export async function startFederation(s: Services, id: Identity, memberClient?: Middleware): Promise<void> {
  const { state, bus, log } = s;
  s.users.add('owner', id.serverName);
  const parts = startRooms(s, id);
  state.tls = await loadTls(s, id);
  const endpoints = new PublishedEndpoints((listener) => bus.on('federationListening', listener));
  const listener = await listenFederation(federationApp(s, id, parts, endpoints, memberClient), state.tls, s.config, log, s.trustedProxies);
  await nameEndpoints(s, id, listener);
  const reachability = buildReachability(s, id, parts, listener);
  bus.on('peerNotReached', (server, error) => reachability.notReachedBy(server, error));
  state.running = {
    ...parts, reachability, server: listener.server, connections: listener.connections,
    halt: () => {
      parts.rooms.stop();
      parts.peering.stop();
      s.mailboxDeposits.stop();
      // Before reachability stops pull mode, which would fetch from the mailboxes chosen lately instead.
      void s.mailboxFetcher.close();
    },
    close: async (graceMs, onForced) => {
      // Members' streams are cut past the grace period with the listener's other connections.
      await Promise.all([reachability.stop(), s.mailboxFetcher.close(), close(listener.server, graceMs, onForced, () => s.federationInFlight.size, listener.upgrades), parts.referencePoller.stop()]);
    },
  };
  bus.emit('federationStarted', state.running);
  s.workers.start();
  reachability.start();
  // Outside pull mode too: the mailboxes this node chose in the last week (mailbox/fetcher.ts).
  s.mailboxFetcher.open();
  bus.on('deliveryFailing', (peer) => reachability.peerReportsFailing(peer));
  parts.referencePoller.start();
  // Pull what we missed in remote rooms while we were away (the hosts' outboxes also resend).
  for (const roomId of parts.rooms.remoteJoinedRooms()) {
    parts.rooms.catchUp(roomId).catch((error: Error) => warnLimited(log, `catch_up_failed ${roomId}`, { event: 'catch_up_failed', room_id: roomId, error: error.message }, 'catch-up failed; will rely on the host resending'));
  }
  // Restored from a backup: what our users sent after it, the members of the rooms we host still
  // hold; they give it back (rooms/own-recovery.ts). The mark goes once each answered, or after a day.
  const restored = readRestoredMark(s.settings);
  if (restored) {
    const firstTry = restored.first_try_at ?? Date.now();
    if (restored.first_try_at === undefined) writeRestoredMark(s.settings, { ...restored, first_try_at: firstTry });
    log.info({ event: 'own_events_recovery', since: restored.since }, 'restored from a backup: asking the members of the rooms we host for the events of ours they hold');
    parts.rooms.recoverOwnEvents({ since: restored.since, first_try_at: firstTry }, () => writeRestoredMark(s.settings, null));
  }
}

/**
 * Federation as one capability of the node's lifecycle (lifecycle.ts): started with an identity
 * (at start, or at the end of setup); on the way down catch-ups and peering halt, then the pull
 * and mailbox waits are woken and the listener, reachability and reference poller close.
 */
export function federationCapability(s: Services, id: Identity, memberClient?: Middleware): Capability {
  return {
    name: 'federation',
    start: () => startFederation(s, id, memberClient),
    halt: () => s.state.running?.halt(),
    drain: async (graceMs) => {
      s.pull.wakeAll();
      s.mailboxes.wakeAll();
      await s.state.running?.close(graceMs, () => forcedClose(s.log, 'federation', graceMs, s.federationInFlight));
    },
  };
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

/** The address the federation listener is bound to (its configured host until it is bound). */
function boundAddressOf(listener: FederationListener): string {
  const bound = listener.server.address();
  return typeof bound === 'object' && bound !== null ? bound.address : listener.host;
}

/**
 * The public address as published: its normalised origin. One the setup wizard stored before it
 * was checked as `--public-url` is (a user name, a query, a path: a review, 2026-12-01) is not
 * published; the default is, and the owner is told why.
 */
function usablePublicUrl(s: Services, configured: string | undefined): string | undefined {
  if (configured === undefined) return undefined;
  const check = normalizeEndpoint(configured);
  if (check.ok) return check.endpoint;
  s.log.warn({ event: 'public_url_ignored', reason: check.reason }, `the public address set at setup is not usable (${check.reason}); the default address is published instead: set it again in the setup or with --public-url`);
  return undefined;
}
