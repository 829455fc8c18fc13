/**
 * A misbehaving peer for fault tests: a real identity and a real HTTP server on 127.0.0.1 that
 * serves discovery and keys honestly, accepts invites, and answers event deliveries however the
 * test says (429 with Retry-After, 500, 403, or never). It stands in for somebody else's broken
 * server, not for any component of ours.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Identity } from '../../main/core/identity/identity.ts';
import { tempDir } from './temp-dir.ts';

export type DeliveryAnswer = { status: number; headers?: Record<string, string>; body?: unknown } | 'hang';

export class FakePeer {
  readonly identity: Identity;
  /** Every delivery request; `events` and `body`: the envelopes a `POST /events` carried, and its text. */
  readonly deliveries: Array<{ path: string; at: number; events?: number; body?: string }> = [];
  answer: DeliveryAnswer = { status: 202, body: {} };
  /** When set, answers each `POST /events` from the event ids it carried (instead of `answer`). */
  batchAnswer: ((eventIds: string[]) => DeliveryAnswer) | undefined;
  batch = false;
  /** Further discovery capabilities to advertise (e.g. destination_binding). */
  capabilities: string[] = [];
  /** Answers for further paths (without the query), e.g. a hostile `GET /pull`. */
  readonly routes = new Map<string, (url: URL) => { status: number; body: unknown }>();
  /** Its discovery answers 503 (cannot be read) while set. */
  discoveryDown = false;
  /** The federation_endpoint its discovery names (its own URL by default). */
  federationEndpoint: string | undefined;
  private server!: Server;
  private readonly hanging = new Set<ServerResponse>();
  url = '';
  /** Every request's path, in order. */
  readonly requests: string[] = [];
  /** Shifts the Date header of its answers (a server whose clock is off), in ms. */
  dateOffsetMs = 0;

  readonly serverName: string;

  constructor(serverName: string) {
    this.serverName = serverName;
    this.identity = Identity.create(join(tempDir(), 'identity.json'), serverName);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Closes every open connection (so the next request of a client has to connect afresh). */
  dropConnections(): void {
    this.server.closeAllConnections();
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
      const path = (req.url ?? '').split('?')[0];
      this.requests.push(path ?? '');
      if (path === '/.well-known/paracord/server') {
        if (this.discoveryDown) return json(503, { error: 'unavailable', message: 'fake peer discovery is down' });
        return json(200, { server_name: this.serverName, federation_endpoint: this.federationEndpoint ?? this.url, enabled: true, version: 'federation-v1', capabilities: [...(this.batch ? ['batch'] : []), ...this.capabilities] });
      }
      if (path === '/_paracord/federation/v1/keys') return json(200, this.identity.keysDocument());
      if (path === '/_paracord/federation/v1/invite') return json(200, { invite_id: 'inv_fake' });
      if (path === '/_paracord/federation/v1/event' || path === '/_paracord/federation/v1/events') {
        const body = path.endsWith('/events') ? Buffer.concat(chunks).toString() : undefined;
        const carried = body === undefined ? undefined : ((JSON.parse(body || '{}') as { events?: Array<{ event_id?: string }> }).events ?? []);
        this.deliveries.push({ path, at: Date.now(), ...(body === undefined ? {} : { events: carried!.length, body }) });
        const answer = carried && this.batchAnswer ? this.batchAnswer(carried.map((e) => String(e.event_id))) : this.answer;
        if (answer === 'hang') {
          this.hanging.add(res);
          return;
        }
        return json(answer.status, answer.body ?? { error: 'test', message: `fake peer answers ${answer.status}` }, answer.headers);
      }
      const route = this.routes.get(path ?? '');
      if (route) {
        const answer = route(new URL(req.url ?? '/', 'http://fake'));
        return json(answer.status, answer.body);
      }
      json(404, { error: 'not_found', message: 'fake peer' });
    });
  }
}
