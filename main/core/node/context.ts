/**
 * The node's services as admin operations see them (NodeContext), and the admin handlers built
 * over it, guarded in setup mode (setup-mode.ts).
 */
import type { AdminHandlers } from '../../../shared/contract/admin-operations.ts';
import { peerOperations } from '../admin/operations/peers/index.ts';
import { policyOperations } from '../admin/operations/policy/index.ts';
import { statusOperations } from '../admin/operations/status/index.ts';
import { userOperations } from '../admin/operations/users/index.ts';
import { roomOperations } from '../admin/operations/rooms/index.ts';
import { inviteOperations } from '../admin/operations/invites/index.ts';
import { sessionOperations } from '../admin/operations/sessions/index.ts';
import { moderationOperations } from '../admin/operations/moderation/index.ts';
import { searchOperations } from '../admin/operations/search/index.ts';
import { federationOperations } from '../admin/operations/federation/index.ts';
import { peeringOperations } from '../admin/operations/peering/index.ts';
import { keyOperations } from '../admin/operations/keys/index.ts';
import { backupOperations } from '../admin/operations/backups/index.ts';
import { reachabilityOperations } from '../admin/operations/reachability/index.ts';
import { mailboxOperations } from '../admin/operations/mailbox/index.ts';
import { memberOperations } from '../admin/operations/members/index.ts';
import type { NodeContext } from '../node-context.ts';
import { releaseHeld } from '../trust/quarantine-release.ts';
import type { Services } from './services.ts';
import { guardSetupMode } from './setup-mode.ts';

/** What the composition root adds: the admin URL it listens at, key storage, and setup. */
export interface ContextExtras {
  startedAt: number;
  adminUrl: () => string;
  keyStorageWarning: string | undefined;
  completeSetup: NodeContext['completeSetup'];
}

export function nodeContext(s: Services, extras: ContextExtras): NodeContext {
  const { config, paths, log, db, settings, trust, http, discovery, keys, users, rooms, outbox, workers, pull, notifications, state } = s;
  return {
    config, paths, log, db, settings, trust, http, discovery, keys, users, rooms, outbox, workers, pull, notifications,
    mailbox: { store: s.mailboxes, sources: () => s.mailboxFetcher.sources(), waitingHere: () => s.mailboxFetcher.waitingHere(), deposits: s.mailboxDeposits },
    startedAt: extras.startedAt, quarantine: s.quarantine, quota: s.quota, dialects: s.dialects, claims: s.claims, limiter: s.limiter, members: s.members,
    backups: s.backups,
    releaseHeld: (server) => releaseHeld(server, s.quarantine, s.ingest, log),
    identity: () => state.identity,
    federationUrl: () => state.federationUrl,
    tls: () => state.tls,
    isPaused: s.isPaused,
    running: () => state.running,
    loginUrl: (validForMs) => `${extras.adminUrl()}/login?code=${s.sessions.newLoginCode(Date.now(), validForMs)}`,
    setPaused: (pause) => {
      settings.set('federation_paused', pause ? '1' : '0');
      state.paused = pause;
      log.info({ event: pause ? 'federation_paused' : 'federation_resumed' }, pause ? 'federation paused' : 'federation resumed');
      if (!pause) workers.start();
      notifications.notify({ type: 'status', scope: 'federation' });
    },
    keyStorage: () => ({ sealed_by: state.identity?.sealedBy ?? null, warning: extras.keyStorageWarning ?? null }),
    completeSetup: extras.completeSetup,
  };
}

/**
 * Every admin operation over the context. Those that work on the services that start with
 * federation (rooms, peering, reachability: `Running`) are built when it starts (the bus event
 * `federationStarted`), with those services; until then the setup guard (setup-mode.ts) answers
 * them with a refusal in words, and in setup mode it answers only what the contract marks `inSetup`.
 */
export function adminHandlers(context: NodeContext, s: Services): AdminHandlers {
  const always = {
    ...statusOperations(context),
    ...policyOperations(context),
    ...userOperations(context),
    ...federationOperations(context),
    ...keyOperations(context),
    ...backupOperations(context),
    ...mailboxOperations(context),
    ...memberOperations(context),
    ...sessionOperations(s.sessions),
  };
  let withFederation: AdminHandlers | null = null;
  s.bus.on('federationStarted', (running) => {
    withFederation = {
      ...always,
      ...peerOperations(context, running),
      ...roomOperations(context, running),
      ...inviteOperations(context, running),
      ...moderationOperations(context, running),
      ...searchOperations(context, running),
      ...peeringOperations(context, running),
      ...reachabilityOperations(context, running),
    };
  });
  return guardSetupMode(always, () => withFederation, () => s.state.identity !== null);
}
