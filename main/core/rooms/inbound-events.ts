/**
 * Events that come from other servers (the hooks of EventIngest): routed, authorized and ordered
 * by the host, applied and relayed; and what delivery tells the rooms back (a settle, an
 * acknowledgement, a host's "too old" that makes us re-issue our event).
 */
import { serverOf } from '../../../shared/identifiers.ts';
import { BANNED_BACKLOG_GRACE_MS } from './room-bans.ts';
import { warnLimited } from '../log/rate-limit.ts';
import type { TakenLate } from '../mailbox/deposits.ts';
import { HttpError, forbidden, notFound } from '../errors.ts';
import { contentHash, envelopeSigningBytes, signEnvelope, unsignedPart, type Envelope } from '../federation/envelope.ts';
import { authorizeReceived } from './authorize.ts';
import { believableRoomDepth, checkRelayedOrdering } from './ordering.ts';
import { RoomPart, USER_NOTICE_TYPES } from './room-part.ts';
import { guarded } from '../util/guarded.ts';

export class InboundEvents extends RoomPart {
  /** Before the signature check: is this the right server to send us this room's event? */
  checkRoute(requestOrigin: string, event: Envelope): void {
    if (this.isHost(event.room_id)) {
      if (!this.d.rooms.room(event.room_id)) throw notFound('unknown_room', `no room ${event.room_id} here`);
      if (event.origin_server !== requestOrigin) throw forbidden('not_origin', 'a room host accepts only events from their origin server');
      return;
    }
    const host = serverOf(event.room_id);
    // A reference peer hosts rooms under the domain its owner bound to it (`!<guild>:<domain>`).
    if (host !== requestOrigin && !(this.d.dialects !== undefined && this.d.dialects.domainOf(requestOrigin) === host)) {
      throw forbidden('not_room_host', `events of ${event.room_id} come from its host ${serverOf(event.room_id)}, not ${requestOrigin}`);
    }
    if (!this.d.rooms.room(event.room_id)) throw notFound('unknown_room', `this server is not in ${event.room_id}`);
    // An invite does not let the host push the room's events to us: only a join does — except
    // the host's word that one of our users was removed, banned or unbanned.
    const aboutOurUser = USER_NOTICE_TYPES.has(event.event_type) && event.state_key !== null && serverOf(event.state_key) === this.server;
    if (!aboutOurUser && !this.d.rooms.isJoinedServer(event.room_id, this.server)) {
      throw forbidden('not_joined', `no user of ${this.server} has joined ${event.room_id}; events are accepted only for joined rooms`);
    }
  }

  /** Inside the storing transaction, before the insert: the host authorizes. */
  authorizeInbound(event: Envelope): void {
    const now = Date.now();
    if (this.isHost(event.room_id)) {
      try {
        authorizeReceived(this.d.rooms, this.d.events, event, this.speaksReference(event.origin_server), now);
      } catch (error) {
        // Recorded after this transaction (which rolls back): a quarantine it causes must stay written.
        if (error instanceof HttpError && error.code === 'banned' && event.origin_server !== this.server &&
          this.bannedSendIsAbuse(event.origin_server, event.room_id, event.sender, event.origin_ts, now)) {
          const origin = event.origin_server;
          setImmediate(() => guarded(this.d.log, 'banned_sender_record_failed', () => this.d.onBannedSender?.(origin)));
        }
        throw error;
      }
      this.checkOrdering(event, now);
    } else {
      checkRelayedOrdering(event, now);
      this.checkReferenceRelay(event);
    }
  }

  /**
   * In a room a Paracord reference server hosts, an event of another origin that it relays (pushed
   * or served in its history) was not authorized as a native host authorizes what it relays: a
   * 3.x checks the sender of messages, edits, reactions and joins only, applies edits and deletes
   * only of their author, and stores and serves the rest; v0.8.5 checks nothing
   * (docs/REFERENCE-INTEROP-NOTES.md). Such an event acts only for its own sender here: a
   * membership change of that sender, an edit or delete of that sender's message. Acting on
   * others (removals, bans, roles, moderator deletes) stays the host's own users' (SECURITY.md
   * "A reference peer's removals and moderator deletes").
   */
  private checkReferenceRelay(event: Envelope): void {
    const host = this.d.dialects?.serverOfDomain(serverOf(event.room_id)) ?? null;
    if (host === null || event.origin_server === host) return;
    const refuse = (what: string) =>
      forbidden('not_room_host', `${event.origin_server} does not host ${event.room_id}: ${what} (in a room a reference server hosts, only its own users act on others)`);
    if (event.event_type === 'm.member.join' || event.event_type === 'm.member.leave') {
      if (event.state_key !== event.sender) throw refuse(`its ${event.event_type} concerns ${event.state_key ?? 'nobody'}, not its sender`);
      // A role is the host's to give, as a native host refuses a join "as owner" (authorize.ts):
      // another server's user joined as the guild's owner (a red-team review, 2026-11-30).
      if (event.content.role !== undefined && event.content.role !== 'member') throw refuse(`its ${event.event_type} gives its sender the role ${String(event.content.role).slice(0, 20)}`);
      return;
    }
    if (event.event_type.startsWith('m.member.') || event.event_type === 'm.room.role') throw refuse(`${event.event_type} is the host's to send`);
    if (event.event_type === 'm.message.edit' || event.event_type === 'm.message.delete') {
      const target = typeof event.content.target === 'string' ? this.d.events.get(event.content.target) : undefined;
      if (!target || target.room_id !== event.room_id) throw notFound('unknown_target', `no message ${String(event.content.target).slice(0, 255)} in this room`);
      if (target.sender !== event.sender) throw refuse(`${event.sender} may not ${event.event_type === 'm.message.edit' ? 'edit' : 'delete'} a message of ${target.sender}`);
    }
  }

  /** Inside the storing transaction, after the insert: apply and relay. */
  onInboundStored(event: Envelope, receivedFrom: string): void {
    this.d.rooms.apply(event);
    this.enqueueDeliveries(event, receivedFrom, Date.now());
  }

  /** At the commit of an inbound event, before the flush: the UI hears of it. */
  onInboundCommitted(event: Envelope): void {
    this.notifyEvent(event);
  }

  /**
   * Once an inbound event is durable: relays start. Not earlier: a host that relayed an event a
   * power cut then took back would refuse its sender's copy sent again later as too old, and the
   * sender's re-issue under the same id would conflict with the copies the members already hold.
   */
  onInboundDurable(event: Envelope): void {
    this.kickDeliveries(event, null);
  }

  /**
   * An attempt's outcome changed the delivery of events (delivered, a retry, a refusal): the UI is
   * told of those this server made, per room, so the "waiting" and "delivered" it shows follow
   * the outbox (rooms reload only what changed, issue #17, so nothing else would refresh them).
   */
  noteDeliveryChanged(rows: ReadonlyArray<{ event_id: string; room_id: string }>): void {
    if (this.d.notifications.listenerCount('notification') === 0) return; // no UI or tray listening (a headless node under load)
    const byRoom = new Map<string, string[]>();
    for (const row of rows) {
      if (serverOf(row.event_id) !== this.server) continue; // relays of others' events: no delivery shown
      let ids = byRoom.get(row.room_id);
      if (!ids) byRoom.set(row.room_id, (ids = []));
      ids.push(row.event_id); // one settle is one destination: each event once
    }
    for (const [room_id, ids] of byRoom) {
      // An edit, delete or reaction of ours is shown on the message it changes (its
      // changes_not_delivered): that message is named too, so a page showing it asks for it again.
      const targets = this.d.events.relationTargets(ids);
      const named = targets.length > 0 ? [...new Set([...ids, ...targets])] : ids;
      for (let start = 0; start < named.length; start += 100) this.d.notifications.notify({ type: 'delivery', room_id, event_ids: named.slice(start, start + 100) });
    }
  }

  /**
   * Events `destination` read (pushed and acknowledged or refused by its answer, or pulled and
   * acked): a ban of a room we host reaching the banned user's server is recorded (the time from
   * which its sends count as abuse; refusing the ban does not keep it from counting).
   * Called inside the transaction that deletes their outbox rows. `held`: it took them and holds
   * them for review (it keeps our server in quarantine), so it does not know the ban yet; one it
   * keeps holding counts as known from BANNED_BACKLOG_GRACE_MS later (a server that claimed to hold
   * every ban would otherwise never have its banned users' sends counted against it).
   */
  noteRead(destination: string, rows: ReadonlyArray<{ event_id: string; room_id: string }>, held = false): void {
    const at = Date.now() + (held ? BANNED_BACKLOG_GRACE_MS : 0);
    for (const row of rows) if (this.isHost(row.room_id)) this.d.rooms.bans.noteRead(row.room_id, row.event_id, destination, at);
  }

  /**
   * Member side of a 409 `depth_too_old` from a room's host (e.g. messages typed while the host
   * was down longer than its reorder window): our event is re-issued with the same id, a fresh
   * origin_ts and depth = max(now, room_depth + 1, our room clock + 1), signed again, and
   * replaces our stored copy (nobody else has the refused one: members receive events only
   * through the host). True when it was re-issued and should be delivered again.
   */
  async reissueRefused(destination: string, eventId: string, roomDepth: unknown, options: { signedBefore?: number } = {}): Promise<boolean> {
    if (this.reissuable(destination, eventId, roomDepth) === null) return false;
    const event = await this.d.commit.run(() => this.reissueNow(destination, eventId, roomDepth, options));
    if (event === null) return false;
    this.reissued(event);
    return true;
  }

  /** The stored event and the host's believable room depth when `eventId` is ours, in a room `destination` hosts (not us); else null. */
  private reissuable(destination: string, eventId: string, roomDepth: unknown): { old: Envelope; hostDepth: number } | null {
    const old = this.d.events.get(eventId);
    if (!old || old.origin_server !== this.server || this.isHost(old.room_id) || serverOf(old.room_id) !== destination) return null;
    const hostDepth = believableRoomDepth(roomDepth, Date.now());
    // A host's answer must not move our room clock anywhere it likes.
    return hostDepth === null ? null : { old, hostDepth };
  }

  /**
   * reissueRefused's signing, in the caller's transaction (a pull ack signs again in the one that
   * queues the event again: both durable together): the re-issued event, or null when it is not
   * ours to re-issue for `destination`, or was signed again since `signedBefore`. Its caller tells
   * of it after the commit (reissued).
   */
  reissueNow(destination: string, eventId: string, roomDepth: unknown, options: { signedBefore?: number } = {}): Envelope | null {
    const found = this.reissuable(destination, eventId, roomDepth);
    if (found === null) return null;
    // Signed again since it was read (another request re-issued it meanwhile): nothing to do.
    if (options.signedBefore !== undefined && found.old.origin_ts >= options.signedBefore) return null;
    const now = Date.now();
    const depth = Math.max(now, found.hostDepth + 1, (this.d.rooms.room(found.old.room_id)?.last_depth ?? 0) + 1);
    const reissued = signEnvelope({ ...unsignedPart(found.old), origin_ts: now, depth }, this.d.identity());
    this.d.events.reissue(reissued, contentHash(envelopeSigningBytes(reissued)));
    this.d.rooms.apply(reissued, now);
    return reissued;
  }

  /** After the commit of a re-issue: logged, and the room's screens told. */
  reissued(event: Envelope): void {
    this.d.log.info({ event: 'event_reissued', room_id: event.room_id, event_id: event.event_id, depth: event.depth }, 'room host refused our event as too old; re-issued it after the room\'s latest events');
    this.d.notifications.notify({ type: 'room', room_id: event.room_id, event_id: event.event_id, event_type: event.event_type, sender: event.sender });
  }

  /**
   * Our events a room's host took from a friend's mailbox after they were too old for it
   * (mailbox/deposits.ts `onTakenLate`): it refused them, and a carried request's refusal reaches
   * nobody. Each is re-issued as for a refused push and queued for the host again (a deposit again
   * while it is still reached only there), `settled` in the transaction that queues it, so a crash
   * before that leaves it to be told again (re-signed again then: nobody has the first re-issue).
   * Events of rooms the destination does not host are settled and left; one whose re-issue failed
   * (the database closing) is not settled.
   */
  async resendTakenLate(late: ReadonlyArray<TakenLate>, settled: (row: TakenLate) => void): Promise<void> {
    for (const row of late) {
      const { event_id: eventId, destination } = row;
      let reissued: boolean;
      try {
        reissued = await this.reissueRefused(destination, eventId, 0);
      } catch (error) {
        warnLimited(this.d.log, 'mailbox_taken_late_failed', { event: 'mailbox_taken_late_failed', event_id: eventId, err: error }, 'could not re-issue an event a mailbox held too long; tried again later');
        continue;
      }
      const event = reissued ? this.d.events.get(eventId) : null;
      this.d.db.transaction(() => {
        if (event) this.d.outbox.enqueue(destination, eventId, event.room_id);
        settled(row);
      })();
      if (!event) continue;
      this.d.log.info({ event: 'mailbox_taken_late', destination, event_id: eventId }, 'a room host took our event from a mailbox too late to accept it; re-issued and sent again');
      this.d.workers.deliver(destination, { queued: true });
    }
  }

}
