/**
 * createNode(config) → { start, stop, admin }: the composition root, the only owner of state
 * (docs/ARCHITECTURE.md §One owner of state). Used by the headless CLI and by the desktop app
 * alike; never imports electron.
 *
 * In order: the data directory (data-dir-init.ts), the services every node has (services.ts),
 * the capabilities that run, each with its own start and stop (capabilities.ts, lifecycle.ts),
 * the members' app and the context admin operations see (context.ts). start() loads the
 * identity, then starts federation when there is one (federation.ts), the admin listener
 * (listeners.ts), the housekeeping (housekeeping.ts), memory trim and backups; stop() stops them
 * in reverse, storage last.
 * Without an identity the node is in setup mode (setup-mode.ts) until completeSetup.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AdminHandlers } from '../../../shared/contract/admin-operations.ts';
import { memberClient } from '../client/client-app.ts';
import { memberMembership } from '../client/member-access.ts';
import { membersMayCreateRooms } from '../members/member-policy.ts';
import type { NodeConfig } from '../config.ts';
import { dataDirPaths, ensureDataDir, readRuntimeInfo, type DataDirPaths, type RuntimeInfo } from '../data-dir.ts';
import type { LookupFn } from '../federation/address-policy.ts';
import { Identity, type KeySealer } from '../identity/identity.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { flushLimited } from '../log/rate-limit.ts';
import type { NodeContext } from '../node-context.ts';
import { Settings } from '../store/settings.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { PACKAGE_ROOT } from '../version.ts';
import { nodeCapabilities } from './capabilities.ts';
import { adminHandlers, nodeContext } from './context.ts';
import { initDataDir, openDataDir } from './data-dir-init.ts';
import { federationCapability } from './federation.ts';
import { Lifecycle } from './lifecycle.ts';
import { buildServices, newNodeState, type Services } from './services.ts';
import { MAX_CLOCK_SKEW_MS, MAX_EVENT_AGE_MS } from '../rooms/ordering.ts';
import { HttpError } from '../errors.ts';
import { StartupRefusedError } from '../data-dir-lock.ts';

export interface StartedNode {
  mode: 'running' | 'setup';
  federation_url: string | null;
  admin_url: string;
  /** The address the admin listener is bound to (its host name, if one was given, resolved). */
  admin_address: string;
  /** One-time link that opens the UI logged in. */
  login_url: string;
}

export interface ParacordNode {
  /** `loginLinkValidMs`: how long the ready line's login link works (at most 15 minutes, the default). */
  start(options?: { loginLinkValidMs?: number }): Promise<StartedNode>;
  /**
   * Stops accepting, lets in-flight requests finish (up to `graceMs`), closes the database.
   * `afterFailedStart`: the clean-up of a start that failed, which says nothing at the info level
   * (the failure's own line is what the user reads).
   */
  stop(graceMs?: number, options?: { afterFailedStart?: boolean }): Promise<void>;
  readonly admin: AdminHandlers;
  readonly log: Logger;
  readonly context: NodeContext;
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
  const log = options.log ?? createLogger({ level: config.logLevel, file: paths.logFile, stderr: config.logToStderr ?? false, maxBytes: config.logMaxBytes, files: config.logFiles });
  // One node per data dir, and no silent fresh start over a lost identity or database (startup-checks.ts).
  const { lock, db } = openDataDir(paths, config, (error) => {
    log.error({ event: 'data_dir_lock_lost', error: error.message }, 'the data directory lock was taken away: stopping');
    void stop().finally(() => options.onFatal?.(new Error(`stopped: the data directory lock of ${paths.root} was taken away (another node may be running on it)`)));
  });
  const runNonce = randomBytes(32).toString('hex');
  const settings = new Settings(db);
  const state = newNodeState(settings);
  const s = buildServices({ config, paths, log, db, settings, state }, options.lookup);
  const uiRoot = join(PACKAGE_ROOT, 'dist', 'renderer');
  // What runs besides federation, each with its own start and stop (capabilities.ts, lifecycle.ts).
  const capabilities = nodeCapabilities(s, { runNonce, uiRoot, handlers: () => guardedAdmin });
  const startedAt = Date.now();
  let stopped = false;
  const members = membersApp(s, uiRoot, () => guardedAdmin);

  const context = nodeContext(s, {
    startedAt,
    adminUrl: capabilities.adminUrl,
    keyStorageWarning: options.keyStorageWarning,
    completeSetup: async (serverName, setup = {}) => {
      // The identity first: a setup it refuses (another server's database, a backup that is none)
      // says why in a 409 and writes no setting (a review, 2026-12-01: the settings were written,
      // then a 500 internal_error).
      let identity: Awaited<ReturnType<typeof initDataDir>>;
      try {
        identity = await initDataDir(config.dataDir, serverName, setup.identity_backup, options.keySealer, config);
      } catch (error) {
        if (error instanceof HttpError) throw error;
        throw new HttpError(409, error instanceof StartupRefusedError ? error.code : 'setup_refused', `the node could not be set up: ${(error as Error).message}`);
      }
      if (setup.public_url) settings.set('public_url', setup.public_url);
      if (setup.tls_cert_file && setup.tls_key_file) {
        settings.set('tls_cert_file', setup.tls_cert_file);
        settings.set('tls_key_file', setup.tls_key_file);
      }
      state.identity = identity;
      log.info({ event: 'setup_complete', server_name: serverName, key_id: identity.keyId }, 'node initialized');
      await lifecycle.start(federationCapability(s, identity, members));
    },
  });
  const guardedAdmin = adminHandlers(context, s);

  // Storage first, so it closes last.
  const lifecycle = new Lifecycle();
  lifecycle.hold(...capabilities.held);

  async function start(startOptions: { loginLinkValidMs?: number } = {}): Promise<StartedNode> {
    await loadIdentity(s, paths, options.keySealer);
    if (state.identity) await lifecycle.start(federationCapability(s, state.identity, members));
    await lifecycle.start(...capabilities.serving);
    const adminUrl = capabilities.adminUrl();
    const runtime: RuntimeInfo = { pid: process.pid, federation_url: state.federationUrl, admin_url: adminUrl, started_at: startedAt, nonce: runNonce };
    writeFileAtomic(paths.runtime, JSON.stringify(runtime) + '\n');
    await lifecycle.start(...capabilities.background);
    const mode = state.identity ? 'running' : 'setup';
    log.info({ event: 'node_ready', mode, server_name: state.identity?.serverName ?? null, federation_url: state.federationUrl, admin_url: adminUrl }, 'node ready');
    // A test setting left on: members on the protocol's minute lose events this host refuses sooner (SECURITY.md 2).
    if (MAX_EVENT_AGE_MS !== MAX_CLOCK_SKEW_MS) log.warn({ event: 'test_setting', setting: 'PARACORD_TEST_EVENT_MAX_AGE_MS', value: MAX_EVENT_AGE_MS }, 'a test setting is in effect: rooms hosted here refuse events signed more than this many ms ago, not a minute; members of other nodes may lose events');
    return { mode, federation_url: state.federationUrl, admin_url: adminUrl, admin_address: capabilities.adminAddress(), login_url: context.loginUrl(startOptions.loginLinkValidMs) };
  }

  async function stop(graceMs = 10_000, stopOptions: { afterFailedStart?: boolean } = {}): Promise<void> {
    if (stopped) return;
    stopped = true;
    const say = stopOptions.afterFailedStart ? log.debug.bind(log) : log.info.bind(log);
    say({ event: 'node_stopping' }, 'stopping: finishing in-flight requests');
    await lifecycle.stop(graceMs);
    // Only our own node.json: after a lost lock it may be another node's.
    if (readRuntimeInfo(paths)?.nonce === runNonce) rmSync(paths.runtime, { force: true });
    lock.release();
    flushLimited(log);
    say({ event: 'node_stopped' }, 'node stopped');
    log.flush?.();
  }

  return { start, stop, admin: guardedAdmin, log, context };
}

/** Opens the identity, or makes one when the command line names the server (init on first start). */
async function loadIdentity({ config, settings, state, log }: Services, paths: DataDirPaths, sealer: KeySealer | undefined): Promise<void> {
  if (!state.identity && Identity.exists(paths.identity)) state.identity = await Identity.open(paths.identity, sealer);
  const storedName = settings.get('server_name');
  const initName = config.serverName ?? (config.newIdentity ? storedName : undefined);
  if (!state.identity && initName) {
    if (storedName && storedName !== initName) throw new Error(`${paths.root} holds the data of ${storedName}, not ${initName}`);
    const identity = await initDataDir(config.dataDir, initName, undefined, sealer, config);
    state.identity = identity;
    if (config.newIdentity) log.warn({ event: 'new_identity', server_name: identity.serverName, key_id: identity.keyId }, 'made a new signing key on purpose (--new-identity); peers must accept it');
    else log.info({ event: 'initialized', server_name: identity.serverName, key_id: identity.keyId }, 'data directory initialized');
  } else if (state.identity && config.serverName && config.serverName !== state.identity.serverName) {
    throw new Error(`${paths.root} is initialized as ${state.identity.serverName}, not ${config.serverName}`);
  }
  // The database records whose data it holds (checkDataDir compares it with identity.json); older ones learn it here.
  if (state.identity && settings.get('server_name') === undefined) settings.set('server_name', state.identity.serverName);
}

/** The members' app and API on the federation listener (issue #34): the admin operations a member may use, as that member. */
function membersApp({ config, log, state, settings, ...s }: Services, uiRoot: string, handlers: () => AdminHandlers) {
  return memberClient({
    log, members: s.members, trustedProxies: s.trustedProxies, limiter: s.limiter, uiRoot,
    ...(config.memberRequestLimits ? { memberLimits: config.memberRequestLimits } : {}),
    onSessionsChange: () => s.notifications.notify({ type: 'status' }),
    notifications: s.notifications, inFlight: s.federationInFlight,
    serverName: () => state.identity?.serverName ?? '',
    mayCreateRooms: () => membersMayCreateRooms(settings),
    roomsCreatedBy: (userId) => s.rooms.roomsOwnedHere(userId), maxRoomsPerMember: config.maxRoomsPerMember,
    txnKnown: (userId, txnId) => state.running?.rooms.clientTxns.known(userId, txnId) ?? false,
    membership: memberMembership(s.db, (roomId, userId) => s.rooms.member(roomId, userId)),
    membershipEnded: (roomId, userId) => s.rooms.latestJoinEnd(roomId, userId) !== null,
    handlers,
  });
}
