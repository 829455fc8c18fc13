/**
 * The reference poller (docs/PROTOCOL.md "Interop with the Paracord reference"): v0.8.5 never
 * pushes, so whatever its users say — in rooms it hosts and in rooms we host — is heard only by
 * polling its `GET /_paracord/federation/v1/events?room_id=&since_depth=&limit=`
 * (federation.rs:1789-1812, lib.rs:712-719: `depth > since ORDER BY depth LIMIT n`, at most
 * 1000); a 3.x pages its history by cursor (section "Reference 3.x"). One cursor per (peer,
 * room), kept apart from our own catch-up; a round per interval, one request in flight per peer.
 * Joining and leaving the rooms it polls is reference-rooms.ts.
 */
import type { Logger } from 'pino';
import { serverOf } from '../../../../shared/identifiers.ts';
import { cleanText } from '../../util/untrusted-text.ts';
import { warnLimited } from '../../log/rate-limit.ts';
import type { Identity } from '../../identity/identity.ts';
import type { RoomStore } from '../../rooms/room-store.ts';
import type { Db } from '../../store/database.ts';
import type { TrustStore } from '../../trust/trust-store.ts';
import type { Discovery } from '../discovery.ts';
import type { EventIngest } from '../event-ingest.ts';
import type { HttpClient, FederationResponse } from '../http-client.ts';
import type { PeerDialects } from './peer-dialects.ts';
import { guildRoomOf, parseChannelRoom } from './channel-rooms.ts';
import { REFERENCE_HISTORY_MAX_BYTES } from '../page-budget.ts';
import { EVENTS_PATH } from '../paths.ts';
import { guarded } from '../../util/guarded.ts';
import { PolledEvents } from './polled-events.ts';
import { NOTHING_POLLED, readHistoryCursor, takeCursorPage, takeDepthPage, type CursorRow, type PageContext, type PolledPage } from './history-pages.ts';

/** Defaults of the NodeConfig fields `referencePollIntervalMs` / `referencePollLimit`. */
export const DEFAULT_REFERENCE_POLL_INTERVAL_MS = 5_000;
export const DEFAULT_REFERENCE_POLL_LIMIT = 500;
/** Rooms polled per peer per round (the reference itself polls at most 64 per peer: federation.rs:1878). */
const MAX_ROOMS_PER_PEER = 64;
const MAX_BACKOFF_MS = 10 * 60_000;
/** The longest a room we host waits after rounds that brought only refused events (under the 60 s age limit). */
const HOSTED_MAX_FRUITLESS_WAIT_MS = 20_000;
/** Pages of one room read in a round from a 3.x (its filtered pages can be empty while more follows). */
const MAX_PAGES_PER_ROOM = 16;
/**
 * Pages in a row that bring nothing new before a room waits for the next round: a 3.x filters
 * what it hides, so a page can be empty while more follows, but a peer moving its cursor forever
 * over empty pages got MAX_PAGES_PER_ROOM requests per room per round (1,024 per round over 64 rooms).
 */
const MAX_FRUITLESS_PAGES = 2;
const REQUEST_DEADLINE_MS = 15_000;

export interface ReferencePollerDeps {
  db: Db;
  rooms: RoomStore;
  ingest: EventIngest;
  http: HttpClient;
  discovery: Discovery;
  trust: TrustStore;
  dialects: PeerDialects;
  identity: () => Identity;
  log: Logger;
  intervalMs?: number | undefined;
  limit?: number | undefined;
  /** Whether a changed key of the peer waits for the owner's confirmation (reference/key-replacement.ts). */
  keyChangePending?: (peer: string) => boolean;
}

export class ReferencePoller {
  private readonly d: ReferencePollerDeps;
  private timer: NodeJS.Timeout | null = null;
  /** Set while started: stops listening for new reference peers. */
  private unsubscribe: (() => void) | null = null;
  private readonly abort = new AbortController();
  /** Each polled event checked and stored, with the waits it leaves (a storage quota, an event not checkable yet). */
  private readonly events: PolledEvents;
  /** What taking a page needs (history-pages.ts). */
  private readonly pages: PageContext;
  /** Rounds in a row whose pages held events yet none was taken (each refused here), per `peer room`. */
  private readonly fruitlessRounds = new Map<string, number>();
  /** Rounds under way, by peer: a peer's next round starts once its last one ended. */
  private readonly peerRounds = new Map<string, Promise<number>>();
  /** Rooms just joined, polled at once (pollJoined): waited for at stop, as rounds are. */
  private readonly joinPolls = new Set<Promise<number>>();

  constructor(deps: ReferencePollerDeps) {
    this.d = deps;
    this.events = new PolledEvents({ ingest: deps.ingest, log: deps.log, keyChangePending: deps.keyChangePending });
    this.pages = { db: deps.db, serverName: () => this.server, events: this.events, stopping: () => this.abort.signal.aborted };
  }

  private get server(): string {
    return this.d.identity().serverName;
  }

  /**
   * The reference peers whose events of a room wait for this node's storage quota (the room
   * polled is its guild room for a channel room), and until when: the room's view says so.
   */
  quotaWaitsOf(roomId: string, now = Date.now()): Array<{ server: string; until: number }> {
    const guild = guildRoomOf(roomId);
    const waits: Array<{ server: string; until: number }> = [];
    for (const peer of this.d.dialects.references()) {
      const until = this.events.quotaWaitUntil(peer.server_name, guild);
      if (until > now) waits.push({ server: peer.server_name, until });
    }
    return waits;
  }

  /** Rooms to poll on a reference peer: the ones it hosts that we are in, and ours it has members in. */
  private roomsToPoll(peer: string): string[] {
    const domain = this.d.dialects.domainOf(peer);
    const rooms: string[] = [];
    for (const room of this.d.rooms.rooms()) {
      if (parseChannelRoom(room.room_id)) continue; // its channels come with the guild room's stream
      const host = serverOf(room.room_id);
      const hostedByPeer = host === peer || (domain !== null && host === domain);
      if (hostedByPeer ? this.d.rooms.isJoinedServer(room.room_id, this.server) : host === this.server && this.d.rooms.isJoinedServer(room.room_id, peer)) {
        rooms.push(room.room_id);
      }
      if (rooms.length >= MAX_ROOMS_PER_PEER) break;
    }
    return rooms;
  }

  /** A room starts being polled from its beginning (in the transaction that records our join). */
  ensureCursor(peer: string, roomId: string): void {
    this.d.db.prepare('INSERT OR IGNORE INTO reference_poll_cursors (server_name, room_id) VALUES (?, ?)').run(peer, roomId);
  }

  private cursor(peer: string, roomId: string): CursorRow {
    this.ensureCursor(peer, roomId);
    return this.d.db
      .prepare<[string, string], CursorRow>(
        'SELECT c.*, i.since_event_id FROM reference_poll_cursors c LEFT JOIN reference_poll_cursor_ids i USING (server_name, room_id) WHERE c.server_name = ? AND c.room_id = ?',
      )
      .get(peer, roomId)!;
  }

  /**
   * A round for every reference peer whose last round has ended: its rooms one after another (one
   * request in flight per peer), the peers side by side. One round over all peers in turn let a
   * slow peer (a page answered just inside the 15 s deadline, 16 pages a room) hold every other
   * peer's polling for minutes: a v0.8.5 peer's messages in a room we host were then polled over a
   * minute late and refused as too old (red team, 2026-11-28). What the rounds started stored.
   */
  async pollOnce(now = Date.now()): Promise<number> {
    const rounds: Array<Promise<number>> = [];
    for (const peer of this.d.dialects.references()) {
      if (this.abort.signal.aborted) break;
      if (this.d.trust.get(peer.server_name)?.trust !== 'allow' || this.peerRounds.has(peer.server_name)) continue;
      const round: Promise<number> = this.pollPeer(peer.server_name, now).finally(() => this.endRound(peer.server_name, round));
      this.peerRounds.set(peer.server_name, round);
      rounds.push(round);
    }
    return (await Promise.all(rounds)).reduce((sum, n) => sum + n, 0);
  }

  private async pollPeer(peer: string, now: number): Promise<number> {
    let stored = 0;
    for (const roomId of this.roomsToPoll(peer)) {
      if (this.abort.signal.aborted) break;
      if (this.cursor(peer, roomId).next_at > now || this.events.quotaWaitUntil(peer, roomId) > now) continue;
      stored += await this.pollRoom(peer, roomId).catch(() => 0);
    }
    return stored;
  }

  /**
   * A room our user just joined: its history at once, after the peer's round under way if any
   * (which may be polling the same room: the two asked the same page, each event checked twice),
   * and never after stop (which waits for it; it wrote to a closed database at shutdown).
   */
  pollJoined(peer: string, roomId: string): void {
    // It is the peer's round while it runs (a tick meanwhile starts none for that peer).
    const poll: Promise<number> = (this.peerRounds.get(peer) ?? Promise.resolve(0))
      .catch(() => 0)
      .then(() => (this.abort.signal.aborted ? 0 : this.pollRoom(peer, roomId)))
      .catch(() => 0)
      .finally(() => {
        this.joinPolls.delete(poll);
        this.endRound(peer, poll);
      });
    this.joinPolls.add(poll);
    this.peerRounds.set(peer, poll);
  }

  /** A round of `peer` ended: it is no longer the peer's round, unless another took its place. */
  private endRound(peer: string, round: Promise<number>): void {
    if (this.peerRounds.get(peer) === round) this.peerRounds.delete(peer);
  }

  /**
   * A room's new history from a reference peer: one page from a v0.8.5 one; from a 3.x one, pages
   * while its cursor moves (a page it filtered can be short or empty while more follows), at most
   * MAX_PAGES_PER_ROOM a round, and no more than MAX_FRUITLESS_PAGES in a row that bring nothing.
   */
  async pollRoom(peer: string, roomId: string): Promise<number> {
    let stored = 0;
    let fruitless = 0;
    let offered = 0;
    let taken = 0;
    let halted = false;
    for (let page = 0; page < MAX_PAGES_PER_ROOM; page++) {
      const result = await this.pollPage(peer, roomId);
      stored += result.stored;
      offered += result.offered;
      taken += result.taken;
      halted ||= result.halted;
      if (!result.more || this.abort.signal.aborted) break;
      fruitless = result.stored > 0 ? 0 : fruitless + 1;
      if (fruitless >= MAX_FRUITLESS_PAGES) break;
    }
    // A round that offered events of its own and took none (each refused here: not the room's,
    // not allowed, a bad signature) waits longer each time, as a failure would (red team 2026-11-27: a peer
    // serving such pages had each checked every round, for every room).
    // In a room we host, the wait stays well under the minute after which we refuse an event as
    // too old (ordering.ts): a v0.8.5 peer never pushes nor re-issues, so its users' messages
    // polled later than that would be refused for good.
    const key = `${peer} ${roomId}`;
    if (offered > 0 && taken === 0 && !halted) {
      const rounds = (this.fruitlessRounds.get(key) ?? 0) + 1;
      if (this.fruitlessRounds.size >= 10_000) this.fruitlessRounds.clear();
      this.fruitlessRounds.set(key, rounds);
      const wait = fruitlessWaitMs(rounds, this.intervalMs, serverOf(roomId) === this.server);
      this.d.db.prepare('UPDATE reference_poll_cursors SET next_at = ? WHERE server_name = ? AND room_id = ?').run(Date.now() + wait, peer, roomId);
      warnLimited(this.d.log, `reference_poll_fruitless ${peer}`, { event: 'reference_poll_fruitless', server: peer, room_id: roomId, offered, rounds, wait_ms: wait }, 'a reference server\'s pages bring only events refused here; polling the room less often');
    } else if (taken > 0 || offered === 0) this.fruitlessRounds.delete(key);
    return stored;
  }

  /**
   * One page of a room from a reference peer. v0.8.5's cursor is `depth >` (lib.rs:712-719), so a
   * full page may end inside a group of equal depths: the next ask then starts just below the last
   * depth (the copies we already have are acknowledged as such), unless that would not move. A 3.x
   * answers its own cursor (next_depth/next_event_id), taken as it is (takeCursorPage).
   */
  private async pollPage(peer: string, roomId: string): Promise<PolledPage> {
    const cursor = this.cursor(peer, roomId);
    const limit = this.d.limit ?? DEFAULT_REFERENCE_POLL_LIMIT;
    const v3 = this.d.dialects.referenceVersion(peer) === '3';
    let response: FederationResponse;
    try {
      // Its discovery may be read first: ended at stop like the request (a peer that stalls it kept shutdown waiting).
      const endpoint = await this.d.discovery.endpointOf(peer, Date.now(), AbortSignal.any([this.abort.signal, AbortSignal.timeout(REQUEST_DEADLINE_MS)]));
      const since = cursor.since_event_id !== null ? `&since_event_id=${encodeURIComponent(cursor.since_event_id)}` : '';
      const path = `${EVENTS_PATH}?room_id=${encodeURIComponent(roomId)}&since_depth=${cursor.since_depth}${since}&limit=${limit}`;
      response = await this.d.http.signed(this.d.identity(), 'GET', endpoint, path, undefined, {
        destination: peer, signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(REQUEST_DEADLINE_MS)]),
        ...(v3 ? { maxResponseBytes: REFERENCE_HISTORY_MAX_BYTES } : {}),
      });
      if (response.status === 403 && v3) {
        throw new Error(`HTTP 403: ${peer} has no member of this server recorded in ${roomId} (a Paracord reference 3.x serves a room's history only to servers with a member in it) ${cleanText(response.text, 200)}`);
      }
      if (response.status !== 200) throw new Error(`HTTP ${response.status} ${cleanText(response.text, 200)}`);
    } catch (error) {
      this.failed(peer, roomId, cursor, (error as Error).message);
      return NOTHING_POLLED;
    }
    const events = (response.json as { events?: unknown } | undefined)?.events;
    if (!Array.isArray(events)) {
      this.failed(peer, roomId, cursor, 'the answer has no events array');
      return NOTHING_POLLED;
    }
    const next = readHistoryCursor(response.json);
    if (next === 'invalid') {
      this.failed(peer, roomId, cursor, 'the answer\'s next_depth / next_event_id are not a cursor (a depth of 0 or more, an event id or null)');
      return NOTHING_POLLED;
    }
    if (next !== null) return takeCursorPage(this.pages, peer, roomId, cursor, events.slice(0, limit), next);
    return takeDepthPage(this.pages, peer, roomId, cursor, events.slice(0, limit), limit);
  }

  /**
   * The owner added `peer` again (a new key confirmed, another address): the waits its rooms earned
   * end, and they are polled at the next round. Pages it served signed with a key not known yet were
   * refused each round, and their growing wait (up to 10 minutes) outlasted the owner's confirmation.
   */
  resume(peer: string): void {
    this.d.db.prepare('UPDATE reference_poll_cursors SET failures = 0, next_at = 0 WHERE server_name = ?').run(peer);
    for (const key of this.fruitlessRounds.keys()) if (key.startsWith(`${peer} `)) this.fruitlessRounds.delete(key);
  }

  private get intervalMs(): number {
    return this.d.intervalMs ?? DEFAULT_REFERENCE_POLL_INTERVAL_MS;
  }

  private failed(peer: string, roomId: string, cursor: CursorRow, message: string): void {
    const failures = cursor.failures + 1;
    const wait = backoffMs(failures, this.intervalMs);
    this.d.db
      .prepare('UPDATE reference_poll_cursors SET failures = ?, next_at = ?, last_error = ? WHERE server_name = ? AND room_id = ?')
      .run(failures, Date.now() + wait, message.slice(0, 300), peer, roomId);
    if (failures === 1 || failures % 10 === 0) {
      this.d.log.warn({ event: 'reference_poll_failed', server: peer, room_id: roomId, failures, error: message }, 'polling a reference server failed; backing off');
    }
  }

  /**
   * The poller: one round every interval, never two at once, while a reference peer is known
   * (with none it does not run: an idle node does not wake for it, issue #36; it starts when a
   * peer is recorded as a reference); stopped with the node.
   */
  start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.d.dialects.onReference(() => this.arm());
    this.arm();
  }

  private arm(): void {
    if (this.timer || !this.unsubscribe || this.d.dialects.references().length === 0) return;
    this.timer = setInterval(() => guarded(this.d.log, 'reference_poll_round_failed', () => {
      if (this.d.dialects.references().length === 0) {
        clearInterval(this.timer!);
        this.timer = null;
        return;
      }
      // Each tick starts a round for the peers whose last one ended (pollOnce): a slow one holds only itself.
      void this.pollOnce().catch((error: Error) => this.d.log.warn({ event: 'reference_poll_round_failed', error: error.message }, 'reference poll round failed'));
    }), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.abort.abort();
    await Promise.allSettled([...this.peerRounds.values(), ...this.joinPolls]);
  }
}

/** The poll interval doubled `times` times (at most 2^10), up to `most`: the wait after failures. */
function backoffMs(times: number, intervalMs: number, most = MAX_BACKOFF_MS): number {
  return Math.min(most, intervalMs * 2 ** Math.min(times, 10));
}

/**
 * The wait after `rounds` rounds in a row that offered only events refused here: as after as many
 * failures, but at most HOSTED_MAX_FRUITLESS_WAIT_MS in a room we host (`hostedHere`), where an
 * honest message polled later than a minute after it was signed would be refused for good.
 */
export function fruitlessWaitMs(rounds: number, intervalMs: number, hostedHere: boolean): number {
  return backoffMs(rounds, intervalMs, hostedHere ? HOSTED_MAX_FRUITLESS_WAIT_MS : MAX_BACKOFF_MS);
}
