import type { Logger } from 'pino';
import type { NodeConfig } from './config.ts';
import type { DataDirPaths } from './data-dir.ts';
import type { Discovery } from './federation/discovery.ts';
import type { HttpClient } from './federation/http-client.ts';
import type { ServerKeys } from './federation/keys/server-keys.ts';
import type { Identity } from './identity/identity.ts';
import type { Db } from './store/database.ts';
import type { Settings } from './store/settings.ts';
import type { TlsMaterial } from './tls/certificate.ts';
import type { TrustStore } from './trust/trust-store.ts';
import type { LocalUsers } from './rooms/local-users.ts';
import type { RoomStore } from './rooms/room-store.ts';
import type { Outbox } from './outbox/outbox.ts';
import type { DeliveryWorkers } from './outbox/delivery-worker.ts';
import type { PullQueue } from './pull/pull-queue.ts';
import type { MailboxStore } from './mailbox/mailbox-store.ts';
import type { MailboxSourceState } from './mailbox/fetcher.ts';
import type { MailboxDeposits } from './mailbox/deposits.ts';
import type { WaitingHere } from './mailbox/carried-retries.ts';
import type { NodeEvents } from './node-events.ts';
import type { PeerDialects } from './federation/reference/peer-dialects.ts';
import type { NameClaims } from './federation/name-claims.ts';
import type { QuarantineStore } from './trust/quarantine.ts';
import type { StorageQuota } from './trust/storage-quota.ts';
import type { RateLimiters } from './trust/rate-limiter.ts';
import type { BackupRecords } from './backup/records.ts';
import type { BackupScheduler } from './backup/scheduler.ts';
import type { Running } from './node/federation.ts';
import type { MemberStore } from './members/member-store.ts';
import type { ReleaseResult } from './trust/quarantine-release.ts';

/** The services of a running node, handed to admin operations. */
export interface NodeContext {
  config: NodeConfig;
  paths: DataDirPaths;
  log: Logger;
  db: Db;
  settings: Settings;
  trust: TrustStore;
  http: HttpClient;
  discovery: Discovery;
  keys: ServerKeys;
  users: LocalUsers;
  rooms: RoomStore;
  outbox: Outbox;
  workers: DeliveryWorkers;
  /** A friend's node as a mailbox (issue #32): what we hold for friends, and where we fetch ours. */
  mailbox: { store: MailboxStore; sources: () => MailboxSourceState[]; waitingHere: () => WaitingHere[]; deposits: MailboxDeposits };
  /** Who receives from us by pull (and whose endpoint was never reached). */
  pull: PullQueue;
  notifications: NodeEvents;
  startedAt: number;
  backups: { records: BackupRecords; scheduler: BackupScheduler };
  quarantine: QuarantineStore;
  /** Which peers speak the Paracord reference's dialect (federation/reference/). */
  dialects: PeerDialects;
  /** Who each server name is bound to; every binding of a name to a peer is checked here. */
  claims: NameClaims;
  /** Per-peer storage quota (bytes stored per origin server). */
  quota: StorageQuota;
  /** Members of this server (issue #34): their links, accounts and sessions. */
  members: MemberStore;
  /** The federation listener's rate-limit buckets (per address, per server, global). */
  limiter: RateLimiters;
  releaseHeld(server: string): Promise<ReleaseResult>;
  /**
   * The services that start with federation (node/federation.ts): rooms, reference rooms, peering,
   * reachability; null until federation started (in setup mode, and while it starts). The
   * operations that need them are given them when it starts (node/context.ts adminHandlers).
   */
  running(): Running | null;
  setPaused(paused: boolean): void;
  /** How the private keys are stored at rest. */
  keyStorage(): { sealed_by: string | null; warning: string | null };
  /** A fresh one-time login URL for the browser UI; valid 15 minutes unless `validForMs` is shorter. */
  loginUrl(validForMs?: number): string;
  /** Null in setup mode (no identity yet). */
  identity(): Identity | null;
  federationUrl(): string | null;
  tls(): TlsMaterial | null;
  isPaused(): boolean;
  /** Initializes identity and starts federation (setup mode → running). */
  completeSetup(serverName: string, options?: { public_url?: string; identity_backup?: string; tls_cert_file?: string; tls_key_file?: string }): Promise<void>;
}
