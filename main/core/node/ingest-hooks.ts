/**
 * What the ingest (event-ingest.ts) asks for every incoming event, given to it when it is built:
 * quarantine, quota and dialect checks directly; the rooms' part — route, authorize, apply and
 * relay — through the node's bus, which the room service answers and listens on once federation
 * starts (federation.ts). Before then no room takes an event: none arrives (no listener yet).
 */
import type { IngestHooks } from '../federation/event-ingest.ts';
import { localView, type TargetLookup } from '../federation/reference/vocabulary.ts';
import type { ReferenceChannels } from '../federation/reference/channel-rooms.ts';
import type { PeerDialects } from '../federation/reference/peer-dialects.ts';
import type { NodeEvents } from '../node-events.ts';
import { checkReceivedContent, checkReceivedView } from '../rooms/authorize.ts';
import type { RoomStore } from '../rooms/room-store.ts';
import type { AbuseMonitor } from '../trust/abuse-monitor.ts';
import type { QuarantineStore } from '../trust/quarantine.ts';
import type { StorageQuota } from '../trust/storage-quota.ts';
import type { NodeBus } from './node-bus.ts';

export interface IngestHookDeps {
  bus: NodeBus;
  quarantine: QuarantineStore;
  quota: StorageQuota;
  dialects: PeerDialects;
  channels: ReferenceChannels;
  rooms: RoomStore;
  referenceLookup: TargetLookup;
  abuse: AbuseMonitor;
  notifications: NodeEvents;
}

export function ingestHooks({ bus, quarantine, quota, dialects, channels, rooms, referenceLookup, abuse, notifications }: IngestHookDeps): IngestHooks {
  return {
    isHeld: (eventId) => quarantine.isHeld(eventId),
    checkHeld: (server, bytes) => quota.checkHeld(server, quarantine.heldBytes(server), bytes),
    hold: (server, from, verified) => {
      const held = quarantine.hold(server, from, verified.envelope, verified.hash);
      notifications.notify({ type: 'status' }); // the quarantine review is live (issue #16 item 12)
      return held;
    },
    onAttributableFailure: (server) => abuse.record(server, 'signature_failures'),
    checkRoute: (origin, event) => bus.answererOf('routeInbound')?.(origin, event),
    checkContent: (event, bytes) => checkReceivedContent(event, bytes, dialects.isReference(event.origin_server)),
    authorize: (event) => bus.answererOf('authorizeInbound')?.(event),
    // The memberships a reference channel's first message, or a guild's member event, copies: charged with it.
    extraCharge: (event) => channels.copyCharge(event),
    onStored: (event, from) => {
      channels.ensure(event.room_id, event.content); // a reference channel's first message makes its room
      bus.emit('inboundStored', event, from);
      channels.afterMemberEvent(event);
    },
    onCommitted: (event) => bus.emit('inboundCommitted', event),
    onDurable: (event) => bus.emit('inboundDurable', event),
    writingBatch: (write) => rooms.coalescingClockUpdates(() => quota.coalescing(write)),
    domainOf: (origin) => dialects.domainOf(origin),
    speaksReference: (origin) => dialects.isReference(origin),
    view: (event) => {
      if (!dialects.isReference(event.origin_server)) return undefined;
      const view = localView(event, referenceLookup);
      checkReceivedView(view);
      return view;
    },
  };
}
