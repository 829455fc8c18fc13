import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { Identity } from '../identity/identity.ts';
import type { FederationEvents } from '../store/federation-events.ts';
import type { Envelope } from './envelope.ts';
import type { EventIngest } from './event-ingest.ts';
import type { ReplayCache } from './replay-cache.ts';
import type { ServerKeys } from './keys/server-keys.ts';
import type { RoomService } from '../rooms/room-service.ts';
import type { PeeringService } from '../peering/peering-service.ts';
import type { GroupCommit } from '../store/group-commit.ts';
import type { PullQueue } from '../pull/pull-queue.ts';
import type { MailboxRouteDeps } from '../mailbox/routes.ts';
import type { ProbeAnswer } from '../reachability/probe-caller.ts';
import type { RateLimit, RateLimiters } from '../trust/rate-limiter.ts';
import type { TrustedProxies } from '../http/client-address.ts';
import type { VerifySignedRequestDeps } from './middleware/verify-signed-request.ts';

/** What the federation routes need from the node. */
export interface FederationDeps {
  log: Logger;
  identity: Identity;
  events: FederationEvents;
  ingest: EventIngest;
  replay: ReplayCache;
  keys: ServerKeys;
  rooms: () => RoomService;
  peering: () => PeeringService;
  commit: GroupCommit;
  verifySignedRequest: Middleware;
  capabilities: readonly string[];
  publicUrl: () => string;
  /** Every endpoint this node can be reached at, best first (discovery `federation_endpoints`); absent: the public URL alone. */
  federationEndpoints?: () => string[];
  isPaused: () => boolean;
  isEntitledToEvent: (requester: string, event: Envelope) => boolean;
  /** Which generation of the Paracord reference a peer runs, if it is one (peer-dialects.ts). */
  referenceVersion?: (server: string) => '0.8' | '3' | null;
  /** Sees every request and its final answer (metrics); outermost, after in-flight tracking. */
  observe?: Middleware;
  /** Shared rate-limit buckets (the peering limit is taken here too). */
  limiter?: RateLimiters;
  /** Signature checks off the main thread (VerifyPool). */
  verifier?: VerifySignedRequestDeps['verifier'];
  /** Anonymous peering requests per client address (NodeConfig `peeringRateLimit`). */
  peeringLimit?: RateLimit;
  /** Reverse proxies whose X-Forwarded-For is believed (NodeConfig `trustedProxies`). */
  trustedProxies?: TrustedProxies;
  /** Deadline for reading a request body (NodeConfig `bodyTimeoutMs`). */
  bodyTimeoutMs?: number;
  /** Serving as friends' mailbox (issue #32, mailbox/routes.ts); absent: its routes answer 404. */
  mailbox?: MailboxRouteDeps;
  /** Whether a mailbox client is still a peer we allow. */
  mailboxPeerAllowed?: (server: string) => boolean;
  /** Whether a header value is this process's mailbox hand-over secret (a request a mailbox carried, mailbox/self-dispatch.ts). */
  isDispatched?: (value: string) => boolean;
  /** The friends whose nodes keep our mail while nobody can reach us (discovery `mailboxes`, issue #32). */
  mailboxesNamed?: () => string[];
  /** Leaves a request for `server` at a mailbox of it, in the background (a join's answer, issue #32). */
  answerThroughMailbox?: (server: string, path: string, body: string) => void;
  /** Whether `server` has as many answers on their way through a mailbox as it may (a carried join waits: 429). */
  mailboxAnswersFull?: (server: string) => boolean;
  /** What a mailbox holds changed (dashboard). */
  onMailboxChange?: () => void;
  /** Pull mode, serving side (issue #15); absent: GET /pull answers 404. */
  pull?: PullQueue;
  /** How long an empty GET /pull waits (default 25 s; at most 30 s). */
  pullWaitMs?: number;
  onPullAck?: (server: string, acknowledged: number) => void;
  /** Answers POST /reach-probe: calls `server` back where we know it lives (and fetches `nonce` there, when the probe sent one). */
  reachProbe?: (server: string, keyId: string, nonce?: string) => Promise<ProbeAnswer>;
  /** GET /reach-probe/echo/<nonce>: whether a self-test of ours waits for that nonce (it is then counted as served). */
  reachEcho?: (nonce: string) => boolean;
  /** Seconds between two probes one peer may ask (default 30). */
  reachProbeIntervalSeconds?: number;
  /** Whether our deliveries to `server` fail for network reasons (told to it in a response header). */
  deliveryFailingTo?: (server: string) => boolean;
  /** The members' app and API (issue #34, client/client-app.ts): /app/ and /_paracord/client/v1 on this listener. */
  memberClient?: Middleware;
  /** Capabilities that come and go (`pull` while this node receives by pull). */
  extraCapabilities?: () => string[];
}
