import { TrustedProxies } from './http/client-address.ts';

/** Node configuration, as the CLI (or the desktop app) resolves it. */
export interface NodeConfig {
  dataDir: string;
  /** Initializes an empty data dir with this name; without it an empty dir starts in setup mode. */
  serverName?: string;
  /** Federation listener, HOST:PORT (port 0 = any free port). */
  listen: string;
  /**
   * Where to listen instead when `listen` is not possible on this host (the address family is not
   * supported or has no address): the default `[::]:7447` falls back to `0.0.0.0:7447` on a host
   * without IPv6. Unset for a listener the owner gave (it is used exactly as given).
   */
  listenFallback?: string;
  /** Admin API + UI listener, HOST:PORT; loopback by default. */
  adminListen: string;
  /** URL peers reach us at (published in discovery); derived from `listen` when absent. */
  publicUrl?: string;
  /** Serve federation over plain HTTP and allow http:// peers (loopback/LAN testing). */
  insecureHttp: boolean;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Outbound retry backoff: first delay and cap (ms). Defaults 1 s and 5 min. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** A peer that pulls from us is pushed to again this long after its last pull (ms). Default 2 min; tests shorten it. */
  pullStaleMs?: number;
  /** Undelivered outbox entries expire after this long (ms). Default 7 days. */
  outboxMaxAgeMs?: number;
  /**
   * Let peers' names resolve to private (RFC 1918), link-local, CGNAT and IPv6 unique-local
   * addresses (a LAN of home servers). Loopback and cloud metadata addresses stay refused unless
   * the owner gave that endpoint. Default false. CLI flag `--allow-private-addresses`, env
   * PARACORD_ALLOW_PRIVATE_ADDRESSES=1 (to be wired in the CLI).
   */
  allowPrivateAddresses?: boolean;
  /**
   * Distinct reaction keys one user may have on one message (issue #14 item 4). Default 20.
   * Env PARACORD_MAX_REACTIONS_PER_MESSAGE; CLI flag to wire: --max-reactions-per-message <n>.
   */
  maxReactionsPerUserPerMessage?: number;
  /**
   * Staleness window of the data-dir lock for a holder on ANOTHER host (a shared folder), ms;
   * a holder on this host is stale only when its pid is dead. Default 30000. CLI flag
   * --lock-stale-ms, env PARACORD_LOCK_STALE_MS.
   */
  dataDirLockStaleMs?: number;
  /**
   * Admin listener: ms a connection has to send its request headers (idle connections are also
   * closed first when the listener is full). Default 5000. CLI flag --admin-headers-timeout, env
   * PARACORD_ADMIN_HEADERS_TIMEOUT_MS.
   */
  adminHeadersTimeoutMs?: number;
  /**
   * The admin stream's limits (admin/stream/stream.ts): ping interval, requests under way per
   * stream and per node. Tests only; the defaults there otherwise.
   */
  adminStreamLimits?: { pingMs?: number; perStream?: number; perNode?: number; unreadPerNode?: number };
  /** A quiet friend's node is checked when listed after this long without news (peering/liveness.ts). Tests only; default 60 s. */
  peerLivenessStaleMs?: number;
  /**
   * Per-server storage quota (issue #14 item 5, issue #37 item 8; trust/storage-quota.ts), charged
   * to an event's origin when it is a peer, else to the server that delivered it: bytes per UTC
   * day (default 50 MiB; over it, 429 until tomorrow) and the total (default 1 GiB): the most a
   * quarantined server's held events may take, and a notice level. Env PARACORD_PEER_QUOTA_DAY_BYTES
   * and PARACORD_PEER_QUOTA_TOTAL_BYTES; CLI flags to wire: --peer-quota-day <bytes>,
   * --peer-quota-total <bytes>.
   */
  peerQuotaBytesPerDay?: number;
  peerQuotaTotalBytes?: number;
  /**
   * How many servers one room host may make this node learn keys of through its key cache
   * (origins it relays that we know nothing of directly); events of further ones are refused
   * 403 too_many_relayed_origins. Default 100. CLI --max-relayed-origins, env
   * PARACORD_MAX_RELAYED_ORIGINS.
   */
  maxRelayedOriginsPerHost?: number;
  /**
   * A room this node hosts places an event at most this far (ms) behind its latest event;
   * older ones are refused 409 depth_too_old (our own members then re-issue them). Default
   * 60 000. CLI --reorder-window-ms, env PARACORD_REORDER_WINDOW_MS.
   */
  reorderWindowMs?: number;
  /**
   * How often (ms) rooms shared with Paracord reference servers are polled (the reference never
   * pushes; it polls every 5 s itself). Default 5 000. CLI --reference-poll-interval-ms, env
   * PARACORD_REFERENCE_POLL_INTERVAL_MS.
   */
  referencePollIntervalMs?: number;
  /**
   * Pushes to one Paracord reference server per minute: it answers 429 past 120 events a minute
   * per origin (its federation_max_events_per_peer_per_minute). Default 120; 0 turns pacing off.
   * `referencePushWindowMs` is the window they count over (default 60 000; tests shorten it).
   * CLI --reference-push-per-minute, env PARACORD_REFERENCE_PUSH_PER_MINUTE.
   */
  referencePushPerMinute?: number;
  referencePushWindowMs?: number;
  /**
   * Pending (unexpired) room invites one peer may hold for our users; more are refused 429
   * too_many_invites. Default 50. CLI --max-pending-invites-per-peer, env PARACORD_MAX_PENDING_INVITES_PER_PEER.
   */
  maxPendingInvitesPerPeer?: number;
  /**
   * Catch-up (red team "catch-up crawl"): requests to one room host per minute, all rooms
   * together (default 120), and pages one catch-up run asks for (default 500, 200 events each).
   * CLI --catch-up-requests-per-minute / --catch-up-max-pages, env
   * PARACORD_CATCH_UP_REQUESTS_PER_MINUTE / PARACORD_CATCH_UP_MAX_PAGES.
   */
  catchUpRequestsPerHostPerMinute?: number;
  catchUpMaxPagesPerRun?: number;
  /** How long a room host is not asked for catch-up after pages that brought nothing (ms). Default 10 min; tests shorten it. */
  catchUpBackoffMs?: number;
  /** After a restore, the first retry of a failed recovery of our own events (ms; doubled each time, at most 30 min). Default 30 s; tests shorten it. */
  ownEventsRetryMs?: number;
  /**
   * Events (or joins) for users banned from a room we host that one server may send within the
   * auto-quarantine window before it is quarantined (issue #20); 0 disables. Default 20.
   * Flag: --banned-events-before-quarantine; env PARACORD_BANNED_EVENTS_BEFORE_QUARANTINE.
   */
  bannedEventsBeforeQuarantine?: number;
  /**
   * Seconds a browser session of the admin UI lasts without use (issue #16 item 1); each use
   * slides it on. Default 2592000 (30 days). Flag --session-ttl-seconds; env PARACORD_SESSION_TTL_SECONDS.
   */
  sessionTtlSeconds?: number;
  /** Members' sign-in failures allowed per account and per address in a window (issue #34); tests set small ones. Default 5, 20, 15 minutes. */
  signInLimits?: { perAccount: number; perAddress: number; windowMs: number; confirmGapMs?: number };
  /**
   * Members' requests (issue #34, client/member-limits.ts): token buckets per signed-in member and
   * per client address, on the members' API and stream; tests set small ones. Default 10/s (burst
   * 600) per member, 40/s (burst 2000) per address.
   */
  memberRequestLimits?: { perMember: { per_second: number; burst: number }; perAddress: { per_second: number; burst: number }; sendBytesPerDay?: number };
  /** Rooms one member may have created here (client/member-access.ts); tests set a small one. Default 100. */
  maxRoomsPerMember?: number;
  /**
   * Scheduled backups of this run: every hour/day/week into `dir` (not inside the data dir),
   * keeping the newest `keep`. While given it wins over a schedule set through the admin API
   * (which is kept, and used again by a run without it); it is not saved. Flags --backup-dir,
   * --backup-every (default daily), --backup-keep (default 7), --backup-passphrase-file; env
   * PARACORD_BACKUP_DIR, PARACORD_BACKUP_EVERY, PARACORD_BACKUP_KEEP, PARACORD_BACKUP_PASSPHRASE_FILE.
   */
  backup?: { dir: string; every?: 'hourly' | 'daily' | 'weekly'; keep?: number; passphraseFile?: string };
  /**
   * Delivery destinations given their own label in /metrics (the first ones seen since start);
   * the others are counted as "other". Default 20. Env: PARACORD_METRICS_DESTINATIONS.
   */
  metricsDestinations?: number;
  /**
   * Receive by pull (issue #15): peers keep this node's events until it pulls and acknowledges
   * them. `serve --pull`, PARACORD_PULL=1. Default false (the node still switches to pull by
   * itself when its self-test says nobody can reach it and no port mapping helped).
   */
  pull?: boolean;
  /** Never ask the router for a port mapping (`serve --no-port-mapping`, PARACORD_NO_PORT_MAPPING=1). Default false. */
  noPortMapping?: boolean;
  /**
   * Reachability self-test (issue #15): seconds between network-change checks (default 30) and
   * between routine re-tests while reachable (default 1800). 0 turns the automatic tests off
   * (on-demand tests still run).
   */
  reachabilityWatchSeconds?: number;
  reachabilityRecheckSeconds?: number;
  /** A peer's report that its deliveries to us fail starts a self-test at most this often (default 300; tests). */
  reachabilityReportGapSeconds?: number;
  /**
   * Hysteresis of pull mode (issue #15): a failed self-test (one port mapping did not cure) is
   * confirmed by a second test this many seconds later — through another peer when there is one,
   * else the same peer once its per-peer probe limit (30 s by default) allows — before the node
   * switches to pull mode; one successful test switches back at once. Default 31. CLI
   * --reachability-confirm-seconds, env PARACORD_REACHABILITY_CONFIRM_SECONDS.
   */
  reachabilityConfirmSeconds?: number;
  /** The NAT-PMP gateway address; by default the default route's gateway (`defaultGateway` in reachability/gateway-worker.ts). */
  portMappingGateway?: string;
  /**
   * One reachability probe (POST /reach-probe: two outbound requests) per peer per this many
   * seconds; more answer 429. Default 30. CLI --reach-probe-interval, env PARACORD_REACH_PROBE_INTERVAL_SECONDS.
   */
  reachProbeIntervalSeconds?: number;
  /**
   * While our events wait at a friend's mailbox, how often that mailbox is asked which its
   * recipient took (mailbox/deposits.ts). Default 30. CLI --mailbox-check-seconds, env PARACORD_MAILBOX_CHECK_SECONDS.
   */
  mailboxCheckSeconds?: number;
  /**
   * As a friend's mailbox: requests kept for one friend (one depositor may leave at most half).
   * Default 20 000. CLI --mailbox-quota-items, env PARACORD_MAILBOX_QUOTA_ITEMS.
   */
  mailboxQuotaItems?: number;
  /** As a friend's mailbox: deposits one server may make per minute. Default 3000. CLI --mailbox-deposits-per-minute, env PARACORD_MAILBOX_DEPOSITS_PER_MINUTE. */
  mailboxDepositsPerMinute?: number;
  /** How long an empty GET /pull waits for new events, ms (default 25 000; at most 30 000). */
  pullWaitMs?: number;
  /** How long a pulled event whose signer's keys cannot be read is asked again before it is given up, ms. Default 2 h; tests shorten it. */
  pullUncheckedForMs?: number;
  logLevel?: string;
  /** Also log to stderr (the CLI does; tests usually do not). */
  logToStderr?: boolean;
  /**
   * Make a new signing key although the database has data, because identity.json is lost
   * (`serve --new-identity`, PARACORD_NEW_IDENTITY=1). Default false: such a start is refused.
   */
  newIdentity?: boolean;
  /**
   * Start with an empty database although identity.json exists, because paracord.db is lost or
   * empty (`serve --new-database`, PARACORD_NEW_DATABASE=1). Default false: such a start is refused.
   */
  newDatabase?: boolean;
  /**
   * Log rotation (issue #14, item 9): a log file is rotated at this size, and this many files
   * are kept. Defaults 10 MB and 5. Env PARACORD_LOG_MAX_BYTES, PARACORD_LOG_FILES;
   * CLI --log-max-bytes, --log-files.
   */
  logMaxBytes?: number;
  logFiles?: number;
  /**
   * Reverse proxies in front of the federation listener, as addresses or CIDRs (issue #14,
   * item 13): X-Forwarded-For is believed only from these. Default none. Env
   * PARACORD_TRUSTED_PROXIES (comma separated, see parseTrustedProxyList); CLI --trusted-proxy
   * (repeatable or comma separated).
   */
  trustedProxies?: string[];
  /**
   * Open connections on the federation listener (issue #14, item 6): in all, and from one
   * client address. Defaults 1024 and 64. Env PARACORD_MAX_CONNECTIONS,
   * PARACORD_MAX_CONNECTIONS_PER_ADDRESS; CLI --max-connections, --max-connections-per-address.
   */
  maxConnections?: number;
  maxConnectionsPerAddress?: number;
  /**
   * Federation listener timeouts (ms): all headers of a request (default 15 s), the whole
   * request (30 s), an idle keep-alive connection (5 min: the persistent link between peers,
   * docs/PROTOCOL.md §Persistent link; also the longest our own requests keep an idle connection
   * to a peer), a request body once a handler reads it (20 s). Env PARACORD_HEADERS_TIMEOUT_MS, PARACORD_REQUEST_TIMEOUT_MS,
   * PARACORD_KEEP_ALIVE_TIMEOUT_MS, PARACORD_BODY_TIMEOUT_MS; CLI --headers-timeout,
   * --request-timeout, --keep-alive-timeout, --body-timeout (ms).
   */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /**
   * Anonymous `POST /peering` (redeeming an invite link) per client address. Default 5 at once,
   * then one every 10 s ({ per_second: 0.1, burst: 5 }). No CLI flag needed.
   */
  peeringRateLimit?: { per_second: number; burst: number };
  /**
   * Client addresses whose request rate the federation listener remembers (issue #14, item 11):
   * one token bucket each (≈ 100 bytes), the least recently used forgotten first. Per-server and
   * global buckets are kept apart, so many addresses never push those out. Default 10,000. Env
   * PARACORD_MAX_ADDRESS_BUCKETS; CLI --max-address-buckets.
   */
  maxAddressBuckets?: number;
}

/** "10.0.0.0/8, 127.0.0.1" (PARACORD_TRUSTED_PROXIES, --trusted-proxy) → checked list; throws one clear line. */
export function parseTrustedProxyList(value: string): string[] {
  const entries = value.split(',').map((s) => s.trim()).filter(Boolean);
  new TrustedProxies(entries);
  return entries;
}

/** IPv4 and IPv6 (dual-stack); a host without IPv6 listens on DEFAULT_LISTEN_IPV4 instead. */
export const DEFAULT_LISTEN = '[::]:7447';
export const DEFAULT_LISTEN_IPV4 = '0.0.0.0:7447';
export const DEFAULT_ADMIN_LISTEN = '127.0.0.1:7448';

export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[^:[\]]+):([0-9]{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw new Error(`${what} must be HOST:PORT (for example 127.0.0.1:7448), not "${value}"`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}
