/**
 * The one fake federation server of the tests: a real identity and a real HTTP server on
 * 127.0.0.1 that serves discovery and keys honestly and answers the rest however the test says.
 * It stands in for somebody else's broken or hostile server, not for any component of ours.
 *
 * - As a peer (the default) it accepts invites and answers event deliveries with `answer`
 *   (429 with Retry-After, 500, 403, or never), or per batch with `batchAnswer`.
 * - As a room host (`{ roomHost: true }`) it also answers joins with whatever snapshot the test
 *   says, catch-up (`GET /events`) with `catchUpAnswer`, and 202 for any other federation path.
 * - Either way it serves `/keys/cache` for identities it mints itself (`mint`, `cacheDocuments`),
 *   sends signed invites of its own (`invite`), and answers further paths from `routes`; an
 *   impostor serves a keys document of its own making (`keysDocument`, `identity`).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Envelope } from '../../main/core/federation/envelope.ts';
import { INVITE_WIRE_ORDER, wireJson } from '../../main/core/federation/wire-json.ts';
import { Identity } from '../../main/core/identity/identity.ts';
import { makeEvent } from './events.ts';
import { sendSigned } from './signed-request.ts';
import { tempDir } from './temp-dir.ts';

const FED = '/_paracord/federation/v1';

export type DeliveryAnswer = { status: number; headers?: Record<string, string>; body?: unknown } | 'hang';

export interface FakePeerOptions {
  /** Answers as the host of rooms: joins, catch-up, and 202 for every other federation path. */
  roomHost?: boolean;
  /** Its identity (an impostor's key made by hand); a new one of its server name by default. */
  identity?: Identity;
}

export class FakePeer {
  readonly identity: Identity;
  readonly serverName: string;
  /** Every delivery request; `events` and `body`: the envelopes a `POST /events` carried, and its text. */
  readonly deliveries: Array<{ path: string; at: number; events?: number; body?: string }> = [];
  answer: DeliveryAnswer = { status: 202, body: {} };
  /** When set, answers each `POST /events` from the event ids it carried (instead of `answer`). */
  batchAnswer: ((eventIds: string[]) => DeliveryAnswer) | undefined;
  batch = false;
  /** Further discovery capabilities to advertise (e.g. destination_binding). */
  capabilities: string[] = [];
  /** Answers for further paths (without the query), e.g. a hostile `GET /pull`, given the request's URL, body text and headers; 'hang': never (until `dropConnections`). */
  readonly routes = new Map<string, (url: URL, body: string, headers: IncomingHttpHeaders) => { status: number; body: unknown; headers?: Record<string, string> } | 'hang'>();
  /** Its discovery answers 503 (cannot be read) while set. */
  discoveryDown = false;
  /** The federation_endpoint its discovery names (its own URL by default). */
  federationEndpoint: string | undefined;
  /** Every request's path, in order. */
  readonly requests: string[] = [];
  /** Every request's method and URL (with its query), in order: `GET /…?…`. */
  readonly calls: string[] = [];
  /** Shifts the Date header of its answers (a server whose clock is off), in ms. */
  dateOffsetMs = 0;
  /** What its /keys answers (its identity's own document by default). */
  keysDocument: () => unknown;

  /** Identities it minted; their keys documents are served from /keys/cache. */
  readonly minted = new Map<string, Identity>();
  /** Keys documents served from /keys/cache by server name (over minted identities). */
  readonly cacheDocuments = new Map<string, unknown>();

  /** Room host only: the `events` and `members` of its join answers (whatever it likes to claim). */
  snapshotEvents: (roomId: string) => Envelope[] = () => [];
  snapshotMembers: (roomId: string) => unknown[] = () => [];
  /** As a room host: the answer to every join instead of a snapshot (a refusal), while set. */
  joinRefusal: { status: number; body: unknown } | null = null;
  /** As a room host: the join events it was sent, in order. */
  readonly joins: Envelope[] = [];
  /** Room host only: what GET /events (catch-up) answers, given its query; every request is counted. */
  catchUpAnswer: (query: URLSearchParams) => unknown = () => ({ events: [], complete: true });
  catchUpRequests = 0;

  url = '';
  private readonly roomHost: boolean;
  private server!: Server;
  private readonly hanging = new Set<ServerResponse>();

  constructor(serverName: string, options: FakePeerOptions = {}) {
    this.serverName = serverName;
    this.roomHost = options.roomHost ?? false;
    this.identity = options.identity ?? Identity.create(join(tempDir(), 'identity.json'), serverName);
    this.keysDocument = () => this.identity.keysDocument();
  }

  /** Listens on `host:port` (127.0.0.1 and a free port by default). */
  async start(host = '127.0.0.1', port = 0): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(port, host, r));
    this.url = `http://${host}:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server.listening) return;
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Closes every open connection (so the next request of a client has to connect afresh). */
  dropConnections(): void {
    this.server.closeAllConnections();
  }

  /** A new identity of its own making, whose keys document it serves from /keys/cache. */
  mint(name: string): Identity {
    const id = Identity.create(join(tempDir(), 'identity.json'), name);
    this.minted.set(name, id);
    return id;
  }

  /** Invites `invitee` (a user of the server at `targetUrl`) to a room of its own: the signed POST /invite. */
  invite(targetUrl: string, roomId: string, invitee: string, roomName = 'hostile', maxAgeSeconds = 3600) {
    const sender = `@owner:${this.serverName}`;
    const event = makeEvent(this.identity, {
      room_id: roomId, event_type: 'm.member.invite', sender, state_key: invitee,
      content: { membership: 'invite', expires_at: Date.now() + maxAgeSeconds * 1000, room_name: roomName },
    });
    const body = wireJson({ origin_server: this.serverName, room_id: roomId, sender, max_age_seconds: maxAgeSeconds, invitee, room_name: roomName, event }, INVITE_WIRE_ORDER);
    return sendSigned(this.identity, targetUrl, 'POST', `${FED}/invite`, body);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        const date = this.dateOffsetMs !== 0 ? { date: new Date(Date.now() + this.dateOffsetMs).toUTCString() } : {};
        res.writeHead(status, { 'content-type': 'application/json', ...date, ...headers });
        res.end(JSON.stringify(body));
      };
      const url = new URL(req.url ?? '/', 'http://fake');
      const path = url.pathname;
      this.requests.push(path);
      this.calls.push(`${req.method} ${req.url}`);
      if (path === '/.well-known/paracord/server') {
        if (this.discoveryDown) return json(503, { error: 'unavailable', message: 'fake peer discovery is down' });
        return json(200, { server_name: this.serverName, federation_endpoint: this.federationEndpoint ?? this.url, enabled: true, version: 'federation-v1', capabilities: [...(this.batch ? ['batch'] : []), ...this.capabilities] });
      }
      if (path === `${FED}/keys`) return json(200, this.keysDocument());
      if (path === `${FED}/keys/cache`) {
        const name = url.searchParams.get('server_name') ?? '';
        const served = this.cacheDocuments.get(name) ?? this.minted.get(name)?.keysDocument();
        return served ? json(200, served) : json(404, { error: 'not_found', message: 'no' });
      }
      if (this.roomHost) {
        if (path === `${FED}/join`) {
          const body = JSON.parse(Buffer.concat(chunks).toString()) as { room_id: string; event: Envelope };
          this.joins.push(body.event);
          if (this.joinRefusal) return json(this.joinRefusal.status, this.joinRefusal.body);
          return json(200, { room: { room_id: body.room_id, name: 'hostile', host_server: this.serverName, depth: body.event.depth }, members: this.snapshotMembers(body.room_id), events: this.snapshotEvents(body.room_id) });
        }
        if (path === `${FED}/events` && req.method === 'GET') {
          this.catchUpRequests++;
          return json(200, this.catchUpAnswer(url.searchParams));
        }
      } else if (path === `${FED}/invite`) {
        return json(200, { invite_id: 'inv_fake' });
      }
      if (path === `${FED}/event` || path === `${FED}/events`) {
        const body = path.endsWith('/events') ? Buffer.concat(chunks).toString() : undefined;
        // A single push taken (a 2xx with no body of the test's own) is answered as a server does:
        // its receipt naming the event (a sender counts nothing else as delivered).
        const single = body === undefined ? (JSON.parse(Buffer.concat(chunks).toString() || '{}') as { event_id?: unknown }) : undefined;
        const carried = body === undefined ? undefined : ((JSON.parse(body || '{}') as { events?: Array<{ event_id?: string }> }).events ?? []);
        this.deliveries.push({ path, at: Date.now(), ...(body === undefined ? {} : { events: carried!.length, body }) });
        const answer = carried && this.batchAnswer ? this.batchAnswer(carried.map((e) => String(e.event_id))) : this.answer;
        if (answer === 'hang') {
          this.hanging.add(res);
          return;
        }
        const taken = single !== undefined && answer.status >= 200 && answer.status < 300 && (answer.body === undefined || (typeof answer.body === 'object' && answer.body !== null && Object.keys(answer.body).length === 0));
        if (taken) return json(answer.status, { event_id: single.event_id, inserted: true }, answer.headers);
        return json(answer.status, answer.body ?? { error: 'test', message: `fake peer answers ${answer.status}` }, answer.headers);
      }
      const route = this.routes.get(path);
      if (route) {
        const answer = route(url, Buffer.concat(chunks).toString(), req.headers);
        if (answer === 'hang') {
          this.hanging.add(res);
          return;
        }
        return json(answer.status, answer.body, answer.headers);
      }
      if (this.roomHost && path.startsWith(FED)) return json(202, {});
      json(404, { error: 'not_found', message: 'fake peer' });
    });
  }
}
