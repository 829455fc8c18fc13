/**
 * A hostile room host for the red-team repros: honest discovery and keys, a /keys/cache that
 * serves documents of identities it mints itself, a join answer with whatever snapshot the test
 * says, 202 for everything else. It stands in for somebody else's compromised server.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Envelope } from '../../main/core/federation/envelope.ts';
import { INVITE_WIRE_ORDER, wireJson } from '../../main/core/federation/wire-json.ts';
import { Identity } from '../../main/core/identity/identity.ts';
import { makeEvent } from '../helpers/events.ts';
import { sendSigned } from '../helpers/signed-request.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const FED = '/_paracord/federation/v1';

export class HostileHost {
  readonly identity: Identity;
  readonly minted = new Map<string, Identity>();
  /** Keys documents served from /keys/cache by server name (over minted identities). */
  readonly cacheDocuments = new Map<string, unknown>();
  snapshotEvents: (roomId: string) => Envelope[] = () => [];
  /** The `members` of its join answers (whatever it likes to claim). */
  snapshotMembers: (roomId: string) => unknown[] = () => [];
  /** What GET /events (catch-up) answers, given its query; every request is counted. */
  catchUpAnswer: (query: URLSearchParams) => unknown = () => ({ events: [], complete: true });
  catchUpRequests = 0;
  url = '';
  private server!: Server;
  readonly serverName: string;
  constructor(serverName: string) {
    this.serverName = serverName;
    this.identity = Identity.create(join(tempDir(), 'identity.json'), serverName);
  }
  mint(name: string): Identity {
    const id = Identity.create(join(tempDir(), 'identity.json'), name);
    this.minted.set(name, id);
    return id;
  }
  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const json = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        const url = new URL(req.url ?? '/', 'http://x');
        if (url.pathname === '/.well-known/paracord/server') {
          return json(200, { server_name: this.serverName, federation_endpoint: this.url, enabled: true, version: 'federation-v1', capabilities: [] });
        }
        if (url.pathname === `${FED}/keys`) return json(200, this.identity.keysDocument());
        if (url.pathname === `${FED}/keys/cache`) {
          const name = url.searchParams.get('server_name') ?? '';
          const served = this.cacheDocuments.get(name) ?? this.minted.get(name)?.keysDocument();
          return served ? json(200, served) : json(404, { error: 'not_found', message: 'no' });
        }
        if (url.pathname === `${FED}/join`) {
          const body = JSON.parse(Buffer.concat(chunks).toString()) as { room_id: string; event: Envelope };
          return json(200, { room: { room_id: body.room_id, name: 'hostile', host_server: this.serverName, depth: body.event.depth }, members: this.snapshotMembers(body.room_id), events: this.snapshotEvents(body.room_id) });
        }
        if (url.pathname === `${FED}/events` && req.method === 'GET') {
          this.catchUpRequests++;
          return json(200, this.catchUpAnswer(url.searchParams));
        }
        if (url.pathname.startsWith(FED)) return json(202, {});
        json(404, { error: 'not_found', message: 'hostile host' });
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
  invite(targetUrl: string, roomId: string, invitee: string, roomName = 'hostile') {
    const sender = `@owner:${this.serverName}`;
    const event = makeEvent(this.identity, {
      room_id: roomId, event_type: 'm.member.invite', sender, state_key: invitee,
      content: { membership: 'invite', expires_at: Date.now() + 3_600_000, room_name: roomName },
    });
    const body = wireJson({ origin_server: this.serverName, room_id: roomId, sender, max_age_seconds: 3600, invitee, room_name: roomName, event }, INVITE_WIRE_ORDER);
    return sendSigned(this.identity, targetUrl, 'POST', `${FED}/invite`, body);
  }
}
