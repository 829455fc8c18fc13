import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { Identity } from '../identity/identity.ts';
import type { FederationEvents } from '../store/federation-events.ts';
import type { Envelope } from './envelope.ts';
import type { EventIngest } from './event-ingest.ts';
import type { ReplayCache } from './replay-cache.ts';
import type { ServerKeys } from './server-keys.ts';
import type { RoomService } from '../rooms/room-service.ts';
import type { PeeringService } from '../peering/peering-service.ts';
import type { GroupCommit } from '../store/group-commit.ts';

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
  isPaused: () => boolean;
  isEntitledToEvent: (requester: string, event: Envelope) => boolean;
}
