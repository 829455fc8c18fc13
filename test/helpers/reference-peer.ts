/**
 * A small server that behaves like the Paracord reference server v0.8.5 on the federation wire,
 * written from docs/REFERENCE-INTEROP-NOTES.md (which cites its source, github
 * Scdouglas1999/Paracord @ 29d7f47) — or, with `version: '3'`, like the reference 3.x (section
 * "Reference 3.x" of the same notes, sources @e6f874b0/b95e578a): bound five-line signatures
 * required (401 without), discovery 404 unless enabled (then federation-v2), membership
 * endorsement events pushed, GET /events paged by cursor with filtered pages, stricter ingest. It shares NO code with the node under test (its own JSON
 * serialiser, node:crypto ed25519, its own id grammar), so a test that passes against it says
 * the node speaks the reference's dialect, not merely its own.
 *
 * Abbreviations as in the notes: F = crates/paracord-api/src/routes/federation.rs,
 * L = crates/paracord-federation/src/lib.rs, C = …/client.rs, T = …/transport.rs.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface RefEnvelope {
  event_id: string;
  room_id: string;
  event_type: string;
  sender: string;
  origin_server: string;
  origin_ts: number;
  content: Record<string, unknown>;
  depth: number;
  state_key: string | null;
  signatures: Record<string, Record<string, string>>;
}

/** serde_json::Value output: keys sorted (BTreeMap, byte order) at every level, compact (notes §3, row 21). */
export function sortedJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  const keys = Object.keys(value).sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  return `{${keys.filter((k) => (value as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${sortedJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/**
 * `serde_json::to_vec(&parsed_struct)` (F:775,2050,2100,2180): struct order at top level, Option
 * fields present as null, unknown fields dropped; nested Values sorted. Null when a required
 * field is missing or mistyped (axum's Json answers 422 then).
 */
const STRUCTS: Record<string, Array<[string, 'string' | 'i64' | 'value' | 'opt_string' | 'opt_i64']>> = {
  event: [['event_id', 'string'], ['room_id', 'string'], ['event_type', 'string'], ['sender', 'string'], ['origin_server', 'string'], ['origin_ts', 'i64'], ['content', 'value'], ['depth', 'i64'], ['state_key', 'opt_string'], ['signatures', 'value']],
  invite: [['origin_server', 'string'], ['room_id', 'string'], ['sender', 'string'], ['max_age_seconds', 'opt_i64']],
  join: [['origin_server', 'string'], ['room_id', 'string'], ['user_id', 'string']],
  leave: [['origin_server', 'string'], ['room_id', 'string'], ['user_id', 'string']],
};
export function reserialize(kind: keyof typeof STRUCTS, parsed: unknown): string | null {
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  const input = parsed as Record<string, unknown>;
  const parts: string[] = [];
  for (const [field, type] of STRUCTS[kind]!) {
    const v = input[field];
    if (type === 'string' && typeof v !== 'string') return null;
    if (type === 'i64' && !Number.isInteger(v)) return null;
    if (type === 'value' && v === undefined) return null;
    if (type === 'opt_string' && v !== undefined && v !== null && typeof v !== 'string') return null;
    if (type === 'opt_i64' && v !== undefined && v !== null && !Number.isInteger(v)) return null;
    parts.push(`${JSON.stringify(field)}:${v === undefined ? 'null' : sortedJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

const sha256hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');
const publicKeyOf = (hex: string): KeyObject => createPublicKey({ key: Buffer.concat([SPKI_ED25519, Buffer.from(hex, 'hex')]), format: 'der', type: 'spki' });

interface PeerRow {
  server_name: string;
  domain: string;
  federation_endpoint: string;
  /** Pinned once at add time from keys[0] (F:2495-2516), with its valid_until. */
  key?: { key_id: string; public_key: string; valid_until: number };
}

export interface ReferencePeerOptions {
  serverName: string;
  /** Ids use the domain (L:269-271); equal to serverName unless set. */
  domain?: string;
  /** PARACORD_FEDERATION_ALLOWED_GUILD_IDS (F:333-352): empty = deny every guild. */
  allowedGuilds?: string[];
  /** Serve HTTPS with this certificate (a default reference auto-generates a self-signed one: CFG:289-300). */
  tls?: { cert: string; key: string };
  /**
   * federation_max_events_per_peer_per_minute (default 120, CFG:578-580): POST /event counted per
   * transport origin in fixed windows of the wall clock, refused 429 past the limit, no
   * Retry-After (F:788-806). `windowMs` is 60 000 there; tests may shorten it.
   */
  pushLimit?: { events: number; windowMs: number };
  /** Which reference it plays: v0.8.5 (default) or 3.x. */
  version?: '0.8.5' | '3';
  /** 3.x: `[federation] allow_discovery` (default false: its discovery answers 404). */
  allowDiscovery?: boolean;
}

/** 3.x limits (notes "Reference 3.x": L event_origin_ts_is_fresh, V validate_message_content, F MAX_HISTORY_*). */
const FRESH_BACK_MS = 7 * 86_400_000;
const FRESH_AHEAD_MS = 60_000;
const MAX_BODY_BYTES = 2_000;
const MAX_HISTORY_SCAN = 2_048;
const MAX_HISTORY_RESPONSE_BYTES = 7 * 1024 * 1024;
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

export class ReferencePeer {
  readonly serverName: string;
  /** The id suffix its discovery declares (serveDomain() sets it to the address of a second listener). */
  domain: string;
  readonly keyId = 'ed25519:auto';
  publicKeyHex: string;
  private privateKey: KeyObject;
  /** First /keys call + 24 h, never renewed (F:738-756): made stale on purpose. */
  readonly keyValidUntil = Date.now() - 3 * 24 * 3600_000;
  /** Keys its keys document lists before and after its own (what someone on a plain http path could add). */
  keysBefore: Array<{ key_id: string; public_key: string }> = [];
  keysAfter: Array<{ key_id: string; public_key: string }> = [];
  readonly allowedGuilds: Set<string>;
  private readonly tls: { cert: string; key: string } | undefined;
  /** federation_events: everything it persisted (its own events and what it ingested). */
  readonly events: RefEnvelope[] = [];
  readonly peers = new Map<string, PeerRow>();
  /** Raw bodies received on POST routes (to assert exact bytes). */
  readonly received: Array<{ path: string; body: string; headers: IncomingMessage['headers'] }> = [];
  /** Rooms it hosts: guild id -> name. */
  readonly guilds = new Map<string, string>();
  /** A guild's first text channel (its /invite's default_channel_id, F:2040-2089); the guild id when unset. */
  readonly defaultChannels = new Map<string, string>();
  /** Remote users joined to its guilds by /join (pseudo-users, F:482-558). */
  readonly joined = new Map<string, Set<string>>();
  /** The local numeric id it gave each remote user (the join answer's local_user_id). */
  readonly localIds = new Map<string, string>();
  /** Per (peer, room) poll cursor: advanced only over events that verified (F:1930-1975). */
  readonly cursors = new Map<string, number>();
  private readonly replay = new Set<string>();
  /** When set, GET /events answers this status (a peer in trouble). */
  failEvents: number | null = null;
  /** GET /events answers after this long (a slow peer); how many such answers are under way. */
  eventsDelayMs = 0;
  eventsInFlight = 0;
  /** When set, POST /event answers this status (a peer in trouble). */
  failPosts: number | null = null;
  /** GET /keys answers after this long (a peer that answers slowly); how often it was asked. */
  keysDelayMs = 0;
  keysAsked = 0;
  /** When set, POST /leave answers this status (a peer that refuses to let our user go). */
  failLeaves: number | null = null;
  readonly pushLimit: { events: number; windowMs: number };
  /** Per (origin, window) POST /event counts (increment_window_counter counts refused ones too). */
  private readonly pushCounts = new Map<string, number>();
  /** How many pushes it refused with 429. */
  rateLimited = 0;
  readonly version: '0.8.5' | '3';
  /** When set, its discovery answers this document (bad input of its dialect). */
  discoveryOverride: Record<string, unknown> | null = null;
  allowDiscovery: boolean;
  /** 3.x: event ids its GET /events filters out (a channel not public to @everyone); the cursor still moves past them. */
  readonly hidden = new Set<string>();
  /** 3.x: events scanned per GET /events at most (MAX_HISTORY_SCAN, 2048; tests lower it to make empty pages). */
  historyScan = MAX_HISTORY_SCAN;
  /** When set, its GET /events answers this (bad input of its dialect). */
  historyOverride: Record<string, unknown> | null = null;
  /** When set, fields its /join answer carries instead of its own (bad input of its dialect). */
  joinAnswerOverride: Record<string, unknown> | null = null;
  /** The room of every GET /events it was asked, in order. */
  readonly historyAsked: string[] = [];
  /** 3.x: m.message events it accepted (202) but did not store as chat (a body outside 1..2000 bytes). */
  readonly droppedBodies: RefEnvelope[] = [];
  /** 3.x: what its pushes were answered (POST /event to trusted peers). */
  readonly pushed: Array<{ peer: string; event_id: string; status: number }> = [];
  /** 3.x: room -> servers with a member recorded there (federation_room_memberships), for GET /events. */
  readonly roomServers = new Map<string, Set<string>>();
  private server: Server | null = null;
  private domainServer: Server | null = null;
  url = '';
  private snowflake = 100_000n;

  constructor(options: ReferencePeerOptions) {
    this.serverName = options.serverName;
    this.domain = options.domain ?? options.serverName;
    this.allowedGuilds = new Set(options.allowedGuilds ?? []);
    this.tls = options.tls;
    this.pushLimit = options.pushLimit ?? { events: 120, windowMs: 60_000 };
    this.version = options.version ?? '0.8.5';
    this.allowDiscovery = options.allowDiscovery ?? false;
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    this.privateKey = privateKey;
    this.publicKeyHex = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('hex');
  }

  nextId(): string {
    this.snowflake += 1n;
    return (BigInt(Date.now()) * 1000n + this.snowflake).toString();
  }

  private listener(): Server {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      void this.handle(req, res).catch((error: Error) => this.reply(res, 500, { code: 'INTERNAL_ERROR', message: error.message, error: error.message, details: null }));
    };
    return this.tls ? createHttpsServer({ cert: this.tls.cert, key: this.tls.key }, handler) : createServer(handler);
  }

  async start(): Promise<this> {
    this.server = this.listener();
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `${this.tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /**
   * Serves the same server at a second address and declares that address (`127.0.0.1:<port>`) as
   * its domain: a domain its discovery and keys can be fetched from, as an admin who sets
   * `[federation] domain` and serves the server there too would have it.
   */
  async serveDomain(): Promise<string> {
    this.domainServer = this.listener();
    await new Promise<void>((resolve) => this.domainServer!.listen(0, '127.0.0.1', resolve));
    this.domain = `127.0.0.1:${(this.domainServer.address() as AddressInfo).port}`;
    return this.domain;
  }

  async stop(): Promise<void> {
    for (const server of [this.server, this.domainServer]) {
      const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      // Before waiting: a node that keeps polling keeps its connections busy, and close() waits for them.
      server?.closeAllConnections();
      await closed;
    }
  }

  private reply(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  /** ApiError body (error.rs:29-80). */
  private error(res: ServerResponse, status: number, code: string, message: string): void {
    this.reply(res, status, { code, message, error: message, details: null });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = req.url ?? '/';
    const path = url.split('?')[0];
    if (req.method === 'GET' && path === '/.well-known/paracord/server' && this.discoveryOverride !== null) return this.reply(res, 200, this.discoveryOverride);
    if (req.method === 'GET' && path === '/.well-known/paracord/server' && this.version === '3') {
      // F well_known @e6f874b0: 404 unless federation and allow_discovery are on; then federation-v2.
      if (!this.allowDiscovery) return this.error(res, 404, 'NOT_FOUND', 'Not found');
      return this.reply(res, 200, {
        domain: this.domain, enabled: true, federation_endpoint: '/_paracord/federation/v1', server_name: this.serverName,
        supported_versions: ['federation-v2', 'federation-v1'], version: 'federation-v2',
      });
    }
    if (req.method === 'GET' && path === '/.well-known/paracord/server') {
      // F:719-728: relative endpoint, domain, no capabilities.
      return this.reply(res, 200, { domain: this.domain, enabled: true, federation_endpoint: '/_paracord/federation/v1', server_name: this.serverName, version: 'federation-v1' });
    }
    if (req.method === 'GET' && path === '/_paracord/federation/v1/keys') {
      this.keysAsked++;
      if (this.keysDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.keysDelayMs));
      // F:730-761: unsigned, no algorithm; valid_until stale.
      const own = { key_id: this.keyId, public_key: this.publicKeyHex, server_name: this.serverName, valid_until: this.keyValidUntil };
      const other = (k: { key_id: string; public_key: string }) => ({ ...k, server_name: this.serverName, valid_until: this.keyValidUntil });
      return this.reply(res, 200, { keys: [...this.keysBefore.map(other), own, ...this.keysAfter.map(other)], server_name: this.serverName });
    }
    if (req.method === 'GET' && path === '/_paracord/federation/v1/events' && this.eventsDelayMs > 0) {
      this.eventsInFlight++;
      await new Promise((resolve) => setTimeout(resolve, this.eventsDelayMs));
      this.eventsInFlight--;
    }
    if (req.method === 'GET' && path === '/_paracord/federation/v1/events' && this.failEvents !== null) {
      return this.error(res, this.failEvents, 'INTERNAL_ERROR', 'database is locked');
    }
    if (req.method === 'GET' && path === '/_paracord/federation/v1/events') {
      // GETs verify against the raw path_and_query as received (F:1771,1799-1803); no replay check.
      const auth = this.verifyTransport(req, 'GET', url, '');
      if (!auth.ok) return this.error(res, auth.status, auth.code, auth.message);
      const query = new URLSearchParams(url.slice(url.indexOf('?') + 1));
      const roomId = query.get('room_id');
      if (!roomId) {
        res.writeHead(400, { 'content-type': 'text/plain' });
        return void res.end('Failed to deserialize query string: missing field `room_id`');
      }
      this.historyAsked.push(roomId);
      const since = Math.max(0, Number(query.get('since_depth') ?? 0));
      const limit = Math.min(1000, Math.max(1, Number(query.get('limit') ?? 100)));
      if (this.historyOverride !== null) return this.reply(res, 200, this.historyOverride);
      if (this.version === '3') return this.listEvents3(res, auth.origin, roomId, since, query.get('since_event_id'), limit);
      // L:712-719: depth > since ORDER BY depth ASC LIMIT n; no membership check (F:1789-1812).
      const page = this.events.filter((e) => e.room_id === roomId && e.depth > since).sort((a, b) => a.depth - b.depth).slice(0, limit);
      return this.reply(res, 200, { events: page.map((e) => JSON.parse(sortedJson(e))) });
    }
    const kind = ({ '/_paracord/federation/v1/event': 'event', '/_paracord/federation/v1/invite': 'invite', '/_paracord/federation/v1/join': 'join', '/_paracord/federation/v1/leave': 'leave' } as const)[path ?? ''];
    if (req.method === 'POST' && kind === 'event' && this.failPosts !== null) return this.error(res, this.failPosts, 'INTERNAL_ERROR', 'unavailable');
    if (req.method === 'POST' && kind) {
      this.received.push({ path: path!, body: raw, headers: req.headers });
      if (kind === 'leave' && this.failLeaves !== null) return this.error(res, this.failLeaves, 'INTERNAL_ERROR', 'unavailable');
      if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) {
        res.writeHead(415, { 'content-type': 'text/plain' });
        return void res.end('Expected request with `Content-Type: application/json`');
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        res.writeHead(400, { 'content-type': 'text/plain' });
        return void res.end('Failed to parse the request body as JSON');
      }
      const reserialized = reserialize(kind, parsed);
      if (reserialized === null) {
        res.writeHead(422, { 'content-type': 'text/plain' });
        return void res.end('Failed to deserialize the JSON body into the target type');
      }
      // POSTs verify against a hard-coded path literal and the hash of the RE-SERIALISED body (F:775,781);
      // 3.x hashes the raw bytes received (F ingest_event @e6f874b0).
      const auth = this.verifyTransport(req, 'POST', path!, this.version === '3' ? raw : reserialized, true);
      if (!auth.ok) return this.error(res, auth.status, auth.code, auth.message);
      const body = JSON.parse(reserialized) as Record<string, unknown>;
      if (kind === 'event') {
        // F:788-806: after the transport check, before anything else; the count includes this request.
        const window = `${auth.origin} ${Math.floor(Date.now() / this.pushLimit.windowMs)}`;
        const count = (this.pushCounts.get(window) ?? 0) + 1;
        this.pushCounts.set(window, count);
        if (count > this.pushLimit.events) {
          this.rateLimited++;
          return this.error(res, 429, 'RATE_LIMITED', 'rate limited');
        }
        return this.version === '3' ? this.receiveEvent3(res, auth.origin, body as unknown as RefEnvelope) : this.receiveEvent(res, body as unknown as RefEnvelope);
      }
      if (body.origin_server !== auth.origin) return this.error(res, 403, 'FORBIDDEN', 'origin mismatch'); // F:2058,2108,2188
      return this.membership(res, kind, body as { origin_server: string; room_id: string; sender?: string; user_id?: string; max_age_seconds?: number | null });
    }
    return this.error(res, 404, 'NOT_FOUND', 'not found');
  }

  /** F:397-480, T:30-53: four-line string, 60 s skew, pinned key with valid_until >= now, replay on POST only. */
  private verifyTransport(req: IncomingMessage, method: string, target: string, body: string, post = false): { ok: true; origin: string } | { ok: false; status: number; code: string; message: string } {
    const h = (name: string) => String(req.headers[name] ?? '').trim();
    const origin = h('x-paracord-origin');
    const keyId = h('x-paracord-key-id');
    const ts = h('x-paracord-timestamp');
    const signature = h('x-paracord-signature');
    if (!origin || !keyId || !ts || !signature) return { ok: false, status: 401, code: 'UNAUTHORIZED', message: 'missing federation transport headers' };
    if (Math.abs(Date.now() - Number(ts)) > 60_000) return { ok: false, status: 401, code: 'UNAUTHORIZED', message: 'stale federation transport timestamp' };
    // 3.x (F verify_transport_request @e6f874b0): the destination is required (401 without), and
    // must name it (server_name, domain or its public_url host; else 403); five lines signed.
    const destination = h('x-paracord-destination').toLowerCase();
    if (this.version === '3' && !destination) return { ok: false, status: 401, code: 'UNAUTHORIZED', message: 'Unauthorized' };
    if (this.version === '3' && destination !== this.serverName.toLowerCase() && destination !== this.domain.toLowerCase() && destination !== new URL(this.url).hostname) {
      return { ok: false, status: 403, code: 'FORBIDDEN', message: 'federation request destination mismatch' };
    }
    const peer = this.peers.get(origin);
    if (!peer?.key || peer.key.key_id !== keyId || peer.key.valid_until < Date.now()) return { ok: false, status: 403, code: 'FORBIDDEN', message: 'untrusted or unknown federation key' };
    const signed = `${method}\n${target}\n${ts}\n${sha256hex(body)}${this.version === '3' ? `\n${destination}` : ''}`;
    if (!/^[0-9a-f]{128}$/.test(signature) || !edVerify(null, Buffer.from(signed, 'utf8'), publicKeyOf(peer.key.public_key), Buffer.from(signature, 'hex'))) {
      return { ok: false, status: 403, code: 'FORBIDDEN', message: 'invalid federation transport signature' };
    }
    if (post) {
      const replayKey = sha256hex(`${origin}\n${keyId}\n${ts}\n${target}\n${signature}`);
      if (this.replay.has(replayKey)) return { ok: false, status: 409, code: 'CONFLICT', message: 'replayed federation transport signature' };
      this.replay.add(replayKey);
    }
    return { ok: true, origin };
  }

  /** F:560-633: canonical = sorted JSON of the nine fields; first key id (alphabetical) under signatures[origin]; pinned key valid now. */
  verifyEnvelope(e: RefEnvelope): boolean {
    const peer = this.peers.get(e.origin_server);
    if (!peer?.key || peer.key.valid_until < Date.now()) return false;
    const byKey = e.signatures?.[e.origin_server];
    const keyId = byKey ? Object.keys(byKey).sort()[0] : undefined;
    if (!keyId || keyId !== peer.key.key_id || typeof byKey![keyId] !== 'string') return false;
    const { signatures: _s, ...unsigned } = e;
    return edVerify(null, Buffer.from(sortedJson({ ...unsigned, state_key: e.state_key ?? null }), 'utf8'), publicKeyOf(peer.key.public_key), Buffer.from(byKey![keyId]!, 'hex'));
  }

  private receiveEvent(res: ServerResponse, e: RefEnvelope): void {
    if (!this.verifyEnvelope(e)) return this.error(res, 403, 'FORBIDDEN', 'invalid event signature');
    const exists = this.events.some((x) => x.event_id === e.event_id);
    if (!exists) this.events.push({ ...e, depth: e.depth <= 0 ? e.origin_ts : e.depth }); // F:641-643
    this.reply(res, 202, { event_id: e.event_id, inserted: !exists });
  }

  /** F:2040-2233: preflight /invite, /join, /leave for guilds it hosts; allowlist; no invite token. */
  private membership(res: ServerResponse, kind: 'invite' | 'join' | 'leave', body: { origin_server: string; room_id: string; sender?: string; user_id?: string; max_age_seconds?: number | null }): void {
    const match = /^!(\d+):(.+)$/.exec(body.room_id);
    if (!match || (match[2]!.toLowerCase() !== this.domain && match[2]!.toLowerCase() !== this.serverName)) return this.error(res, 400, 'BAD_REQUEST', 'Invalid room_id format');
    const guild = BigInt(match[1]!).toString();
    if (!this.allowedGuilds.has(guild)) return this.error(res, 403, 'FORBIDDEN', 'guild is not allowed for federation');
    if (!this.guilds.has(guild)) return this.error(res, 404, 'NOT_FOUND', 'guild not found');
    const room = `!${guild}:${this.domain}`;
    if (kind === 'invite') {
      const expires = Math.min(86_400, Math.max(60, body.max_age_seconds ?? 3600));
      return this.reply(res, 200, { accepted: true, room_id: room, guild_id: guild, guild_name: this.guilds.get(guild), default_channel_id: this.defaultChannels.get(guild) ?? guild, join_endpoint: '/_paracord/federation/v1/join', expires_in_seconds: expires });
    }
    const user = body.user_id!;
    const server = /^@[^:]+:(.+)$/.exec(user)?.[1];
    if (!server) return this.error(res, 400, 'BAD_REQUEST', 'Invalid user_id');
    if (server !== body.origin_server) return this.error(res, 403, 'FORBIDDEN', 'user_id server mismatch');
    const members = this.joined.get(room) ?? new Set<string>();
    this.joined.set(room, members);
    if (kind === 'join') {
      members.add(user);
      const localId = this.localIds.get(user) ?? `9${this.nextId()}`;
      this.localIds.set(user, localId);
      // 3.x: the membership is endorsed by an event pushed to every trusted peer (F publish_membership_endorsement).
      if (this.version === '3') this.endorse('m.member.join', guild, user);
      return this.reply(res, 200, { joined: true, room_id: room, guild_id: guild, local_user_id: localId, ...this.joinAnswerOverride });
    }
    const left = members.delete(user);
    if (this.version === '3') this.endorse('m.member.leave', guild, user);
    return this.reply(res, 200, { left, room_id: room, guild_id: guild });
  }

  // ——— 3.x ———

  /** Servers with a member recorded in a room (its own guild's /join members, and ingested joins). */
  private serversIn(roomId: string): Set<string> {
    const servers = new Set(this.roomServers.get(roomId) ?? []);
    for (const user of this.joined.get(roomId) ?? []) servers.add(user.slice(user.indexOf(':') + 1));
    return servers;
  }

  /**
   * GET /events (F list_events @e6f874b0): 403 unless the caller has a member in the room; scans
   * in (depth, event_id byte order) after the cursor, skips what it hides (the cursor moves past
   * them), stops at `limit` visible events or 7 MiB; answers next_depth/next_event_id.
   */
  private listEvents3(res: ServerResponse, origin: string, roomId: string, since: number, sinceEventId: string | null, limit: number): void {
    if (!this.serversIn(roomId).has(origin)) return this.error(res, 403, 'FORBIDDEN', 'server does not participate in this room');
    if (sinceEventId !== null && sinceEventId.length > 255) return this.error(res, 400, 'BAD_REQUEST', 'Invalid federation history cursor');
    const d = (e: RefEnvelope) => (e.depth === 0 ? e.origin_ts : e.depth);
    const after = this.events
      .filter((e) => e.room_id === roomId && (d(e) > since || (d(e) === since && sinceEventId !== null && byteOrder(e.event_id, sinceEventId) > 0)))
      .sort((a, b) => d(a) - d(b) || byteOrder(a.event_id, b.event_id));
    const visible: unknown[] = [];
    let bytes = 0;
    let nextDepth = since;
    let nextId = sinceEventId;
    let scanned = 0;
    for (const e of after) {
      if (scanned >= this.historyScan || visible.length >= limit) break;
      const hidden = this.hidden.has(e.event_id);
      const json = hidden ? '' : sortedJson(e);
      if (!hidden && visible.length > 0 && bytes + Buffer.byteLength(json) > MAX_HISTORY_RESPONSE_BYTES) break;
      scanned++;
      nextDepth = d(e);
      nextId = e.event_id;
      if (hidden) continue;
      visible.push(JSON.parse(json));
      bytes += Buffer.byteLength(json);
    }
    this.reply(res, 200, { events: visible, next_depth: nextDepth, next_event_id: nextId });
  }

  /** Whether `origin` is authoritative for a room (the room's namespace is its domain or name). */
  private authoritative(origin: string, roomId: string): boolean {
    const namespace = roomId.slice(roomId.indexOf(':') + 1).toLowerCase();
    const row = origin === this.serverName ? { server_name: this.serverName, domain: this.domain } : this.peers.get(origin);
    return row !== undefined && (namespace === row.server_name.toLowerCase() || namespace === row.domain.toLowerCase());
  }

  /** POST /event as 3.x checks it (F ingest_verified_payload, validate_event_target_scope @e6f874b0). */
  private receiveEvent3(res: ServerResponse, transportOrigin: string, e: RefEnvelope): void {
    if (!this.verifyEnvelope(e)) return this.error(res, 403, 'FORBIDDEN', 'invalid event signature');
    const peer = this.peers.get(e.origin_server);
    const id = e.event_id.toLowerCase();
    if (!peer || !(id.endsWith(`:${peer.server_name.toLowerCase()}`) || id.endsWith(`:${peer.domain.toLowerCase()}`))) return this.error(res, 403, 'FORBIDDEN', 'event id does not belong to its origin');
    const now = Date.now();
    if (!(e.origin_ts > 0 && e.origin_ts <= now + FRESH_AHEAD_MS && e.origin_ts >= now - FRESH_BACK_MS)) return this.error(res, 400, 'BAD_REQUEST', 'event origin_ts is outside the accepted freshness window');
    if (!(e.depth >= 0 && e.depth <= now + FRESH_AHEAD_MS)) return this.error(res, 400, 'BAD_REQUEST', 'event depth is out of range');
    const authoritative = this.authoritative(e.origin_server, e.room_id);
    if (e.content.membership_user_id !== undefined && !authoritative) return this.error(res, 403, 'FORBIDDEN', 'membership_user_id from a server that does not host the room');
    const match = /^!(\d+):(.+)$/.exec(e.room_id);
    if (match && match[2]!.toLowerCase() === this.domain.toLowerCase()) {
      const guild = match[1]!;
      if (String(e.content.guild_id) !== guild) return this.error(res, 403, 'FORBIDDEN', 'guild does not match the room');
      if (e.content.channel_id !== undefined && String(e.content.channel_id) !== (this.defaultChannels.get(guild) ?? guild)) return this.error(res, 403, 'FORBIDDEN', 'unknown channel');
      const scoped = ['m.message', 'm.message.edit', 'm.reaction.add', 'm.member.join'].includes(e.event_type);
      if (scoped && !authoritative && !(this.joined.get(e.room_id)?.has(e.sender) ?? false)) return this.error(res, 403, 'FORBIDDEN', 'sender is not a member of the room');
    } else if (!authoritative && !this.serversIn(e.room_id).has(e.origin_server) && e.event_type !== 'm.member.join') {
      return this.error(res, 403, 'FORBIDDEN', 'origin does not participate in the room');
    }
    const exists = this.events.some((x) => x.event_id === e.event_id);
    if (!exists) {
      this.events.push(e);
      if (e.event_type === 'm.member.join') {
        const member = typeof e.content.membership_user_id === 'string' ? e.content.membership_user_id : e.state_key ?? e.sender;
        const servers = this.roomServers.get(e.room_id) ?? new Set<string>();
        servers.add(member.slice(member.indexOf(':') + 1));
        this.roomServers.set(e.room_id, servers);
      }
      // V validate_message_content: 1..=2000 UTF-8 bytes, else accepted (202) and dropped.
      const body = e.content.body;
      if (e.event_type === 'm.message' && (typeof body !== 'string' || Buffer.byteLength(body) < 1 || Buffer.byteLength(body) > MAX_BODY_BYTES)) this.droppedBodies.push(e);
    }
    void transportOrigin;
    this.reply(res, 202, { event_id: e.event_id, inserted: !exists });
  }

  /**
   * A membership endorsement (F publish_membership_endorsement, L build_custom_envelope
   * @e6f874b0): sender `@server:<domain>`, content {guild_id, membership_user_id}, id from a hash
   * of the content; persisted and pushed to every trusted peer.
   */
  endorse(type: 'm.member.join' | 'm.member.leave', guild: string, user: string, ts = Date.now()): RefEnvelope {
    const content = { guild_id: guild, membership_user_id: user };
    const e = this.signEnvelope({
      event_id: `$${type.replaceAll('.', '_')}:${sha256hex(JSON.stringify(content)).slice(0, 12)}:${ts}:${this.domain}`,
      room_id: `!${guild}:${this.domain}`, event_type: type, sender: `@server:${this.domain}`, origin_server: this.serverName, origin_ts: ts,
      content, depth: ts, state_key: null,
    });
    this.events.push(e);
    this.pushToAll(e);
    return e;
  }

  /** Pushes an event to every trusted peer but its origin (L forward_envelope_to_peers_inner), not awaited. */
  pushToAll(e: RefEnvelope): void {
    for (const name of this.peers.keys()) if (name !== e.origin_server) void this.push(name, e, 5);
  }

  /**
   * POST /event to a peer, signed bound (C post_event), retried while it is not a 2xx, as its
   * outbound queue retries any failure (L process_outbound_queue_once: 5 s·2^n there, 150 ms
   * here, a few times). Each answer is recorded in `pushed`; the last one is returned.
   */
  async push(peer: string, e: RefEnvelope, attempts = 1): Promise<number> {
    let status = 0;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 150));
      const answer = await this.call(peer, 'POST', '/event', reserialize('event', e)!).catch(() => ({ status: 0 }));
      status = answer.status;
      this.pushed.push({ peer, event_id: e.event_id, status });
      if (status >= 200 && status < 300) break;
    }
    return status;
  }

  /** An operator pin (`discover: false` with key_id and public_key_hex): valid until changed (DB register_manual_server_key). */
  pinServer(serverName: string, domain: string, federationEndpoint: string, keyId: string, publicKeyHex: string): void {
    this.peers.set(serverName, { server_name: serverName, domain, federation_endpoint: federationEndpoint, key: { key_id: keyId, public_key: publicKeyHex, valid_until: Number.MAX_SAFE_INTEGER } });
  }

  // ——— its own side ———

  /** POST /_paracord/federation/v1/servers with discover:true: an UNSIGNED GET <endpoint>/keys, keys.first() pinned as given (F:2495-2516). */
  async addServer(serverName: string, domain: string, federationEndpoint: string): Promise<void> {
    const response = await fetch(`${federationEndpoint}/keys`);
    const doc = (await response.json()) as { keys: Array<{ server_name: string; key_id: string; public_key: string; valid_until: number }> };
    const first = doc.keys[0]!;
    this.peers.set(first.server_name, { server_name: serverName, domain, federation_endpoint: federationEndpoint, key: { key_id: first.key_id, public_key: first.public_key, valid_until: first.valid_until } });
  }

  /** 3.x: sign the four-line form anyway (a forged or replayed v0.8.5-style request in its name). */
  signUnbound = false;
  /** 3.x: bind to this name instead of the peer's server name (156125ca/0d9d2dcc bind to the host of the URL they dial). */
  bindTo: string | null = null;

  /** When set, requests are signed with this key instead of the current one (a request in flight across a key change). */
  requestKey: KeyObject | null = null;

  private signRequest(method: string, pathAndQuery: string, body: string, destination: string): Record<string, string> {
    const ts = String(Date.now());
    // 3.x binds to the peer's registered server_name, lowercased (C FederationTarget::destination @e6f874b0).
    const bound = this.version === '3' && !this.signUnbound ? (this.bindTo ?? destination).toLowerCase() : undefined;
    const signed = `${method}\n${pathAndQuery}\n${ts}\n${sha256hex(body)}${bound !== undefined ? `\n${bound}` : ''}`;
    return {
      ...(bound !== undefined ? { 'X-Paracord-Destination': bound, 'X-Paracord-Fed-Version': 'federation-v2' } : {}),
      'X-Paracord-Origin': this.serverName,
      'X-Paracord-Key-Id': this.keyId,
      'X-Paracord-Timestamp': ts,
      'X-Paracord-Signature': edSign(null, Buffer.from(signed, 'utf8'), this.requestKey ?? this.privateKey).toString('hex'),
      'user-agent': 'Paracord-Federation/0.4',
    };
  }

  /** A signed request as its client sends it (C:378-397): POST bodies are to_vec(struct). */
  async call(peer: string, method: 'GET' | 'POST', pathAndQuery: string, body?: string): Promise<{ status: number; json: any; text: string }> {
    const endpoint = this.peers.get(peer)!.federation_endpoint;
    const path = `/_paracord/federation/v1${pathAndQuery}`;
    const response = await fetch(`${endpoint}${pathAndQuery}`, {
      method,
      headers: { ...this.signRequest(method, path, body ?? '', this.peers.get(peer)!.server_name), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body }),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, json, text };
  }

  /** One catch-up poll of a room on `peer` (F:1814-1979, C:158-178): limit 128, room id unencoded. */
  async poll(peer: string, roomId: string, limit = 128): Promise<{ status: number; verified: number; rejected: number; rejectedOrigins: string[]; eventIds: string[] }> {
    const key = `${peer} ${roomId}`;
    const since = this.cursors.get(key) ?? 0;
    if (this.version === '3') return this.poll3(peer, roomId, limit);
    const answer = await this.call(peer, 'GET', `/events?room_id=${roomId}&since_depth=${since}&limit=${limit}`);
    if (answer.status !== 200) return { status: answer.status, verified: 0, rejected: 0, rejectedOrigins: [], eventIds: [] };
    const events = (answer.json as { events: RefEnvelope[] }).events;
    let newest = since;
    let verified = 0;
    let rejected = 0;
    const rejectedOrigins: string[] = [];
    for (const e of events) {
      if (reserialize('event', e) === null || !this.verifyEnvelope(e)) {
        rejected++;
        rejectedOrigins.push(e.origin_server);
        continue;
      }
      verified++;
      if (!this.events.some((x) => x.event_id === e.event_id)) this.events.push(e);
      newest = Math.max(newest, e.depth, e.origin_ts, 1);
    }
    this.cursors.set(key, newest);
    return { status: 200, verified, rejected, rejectedOrigins, eventIds: events.map((e) => e.event_id) };
  }

  /** Its explicit cursor (depth, event id), for a 3.x poller. */
  readonly cursorIds = new Map<string, string>();

  /**
   * 3.x catch-up (C fetch_messages_page, F ≈129 000 @e6f874b0): room_id and since_event_id
   * percent-encoded, our next_depth/next_event_id adopted only when every event on the page
   * ingested; otherwise the cursor stays (and the room is polled again from there).
   */
  private async poll3(peer: string, roomId: string, limit: number): Promise<{ status: number; verified: number; rejected: number; rejectedOrigins: string[]; eventIds: string[] }> {
    const key = `${peer} ${roomId}`;
    const since = this.cursors.get(key) ?? 0;
    const sinceId = this.cursorIds.get(key);
    const strict = (v: string) => encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const answer = await this.call(peer, 'GET', `/events?room_id=${strict(roomId)}&since_depth=${since}${sinceId ? `&since_event_id=${strict(sinceId)}` : ''}&limit=${limit}`);
    if (answer.status !== 200) return { status: answer.status, verified: 0, rejected: 0, rejectedOrigins: [], eventIds: [] };
    const body = answer.json as { events: RefEnvelope[]; next_depth?: number; next_event_id?: string | null };
    let verified = 0;
    const rejectedOrigins: string[] = [];
    const now = Date.now();
    for (const e of body.events) {
      const fresh = e.origin_ts > 0 && e.origin_ts <= now + FRESH_AHEAD_MS && e.origin_ts >= now - FRESH_BACK_MS;
      if (reserialize('event', e) === null || !this.verifyEnvelope(e) || !fresh) {
        rejectedOrigins.push(e.origin_server);
        continue;
      }
      verified++;
      if (!this.events.some((x) => x.event_id === e.event_id)) this.events.push(e);
    }
    if (rejectedOrigins.length === 0 && typeof body.next_depth === 'number') {
      this.cursors.set(key, body.next_depth);
      if (typeof body.next_event_id === 'string') this.cursorIds.set(key, body.next_event_id);
    }
    return { status: 200, verified, rejected: rejectedOrigins.length, rejectedOrigins, eventIds: body.events.map((e) => e.event_id) };
  }

  /**
   * Its key changes behind the same key id (`ed25519:auto`, F:730-761: a new key row, e.g. a
   * fresh database or a restored one). Answers the old private key, to sign with it afterwards.
   */
  replaceKey(): KeyObject {
    const old = this.privateKey;
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    this.privateKey = privateKey;
    this.publicKeyHex = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('hex');
    return old;
  }

  /** Signs an envelope the way it builds its own (L:253-367; canonical = sorted nine fields). */
  signEnvelope(unsigned: Omit<RefEnvelope, 'signatures'>, key: KeyObject = this.privateKey): RefEnvelope {
    const signature = edSign(null, Buffer.from(sortedJson(unsigned), 'utf8'), key).toString('hex');
    return { ...unsigned, signatures: { [this.serverName]: { [this.keyId]: signature } } };
  }

  /** A user of it posts in a room (its own guild or a mirror of ours): persisted, never pushed (L:403-420). */
  say(roomId: string, username: string, body: string, options: { mirrored?: boolean; extra?: Record<string, unknown>; channel?: { id: string; name: string }; ts?: number } = {}): RefEnvelope {
    const ts = options.ts ?? Date.now();
    const mid = this.nextId();
    const guild = roomId.slice(1, roomId.indexOf(':'));
    // Its own guild's messages name their channel (CH:2374-2421); a mirror's keep ours.
    const channel = options.channel ? { channel_id: options.channel.id, channel_name: options.channel.name } : { channel_id: this.defaultChannels.get(guild) ?? guild };
    const e = this.signEnvelope({
      // Own guilds: `$<mid>:<domain>`; mirrored: `$m_message:<mid>:<ts>:<domain>` (L:269-342).
      // 3.x: always the custom form (CH federation_forward_message @b95e578a).
      event_id: options.mirrored || this.version === '3' ? `$m_message:${mid}:${ts}:${this.domain}` : `$${mid}:${this.domain}`,
      room_id: roomId, event_type: 'm.message', sender: `@${username}:${this.domain}`, origin_server: this.serverName, origin_ts: ts,
      content: { body, msgtype: 'm.text', guild_id: guild, ...channel, message_id: mid, ...options.extra }, depth: ts, state_key: null,
    });
    this.events.push(e);
    return e;
  }

  /** Edit / delete / reaction naming the target by message_id (CH:1211-1216,1269-1273,1639-1644). */
  relate(roomId: string, username: string, type: 'm.message.edit' | 'm.message.delete' | 'm.reaction.add' | 'm.reaction.remove', messageId: string, extra: Record<string, unknown> = {}): RefEnvelope {
    const ts = Date.now();
    const guild = roomId.slice(1, roomId.indexOf(':'));
    const stable = type.startsWith('m.reaction') ? `${messageId}:${String(extra.emoji)}` : messageId;
    const e = this.signEnvelope({
      event_id: `$${type.replaceAll('.', '_')}:${stable}:${ts}:${this.domain}`,
      room_id: roomId, event_type: type, sender: `@${username}:${this.domain}`, origin_server: this.serverName, origin_ts: ts,
      content: { guild_id: guild, channel_id: guild, message_id: messageId, ...extra }, depth: ts, state_key: null,
    });
    this.events.push(e);
    return e;
  }

  /** m.member.join of one of its users (MEM:367-377): state_key null, content.user_id its local numeric id. */
  memberJoin(roomId: string, username: string): RefEnvelope {
    const ts = Date.now();
    const guild = roomId.slice(1, roomId.indexOf(':'));
    const uid = this.nextId();
    const e = this.signEnvelope({
      event_id: `$m_member_join:${guild}:${uid}:${ts}:${this.domain}`,
      room_id: roomId, event_type: 'm.member.join', sender: `@${username}:${this.domain}`, origin_server: this.serverName, origin_ts: ts,
      content: { guild_id: guild, user_id: uid }, depth: ts, state_key: null,
    });
    this.events.push(e);
    return e;
  }

  /**
   * Its moderator kicks (or bans) a remote user from one of its guilds (MEM:261-297, 349-388):
   * an m.member.leave whose sender is the KICKED user's pseudo-user there, content
   * {guild_id, user_id: its local id}, state_key null; no actor, no reason
   * (docs/REFERENCE-INTEROP-NOTES.md:207-218; a ban is the same event). `localId` defaults to the
   * one its /join answer gave that user.
   */
  kick(roomId: string, remoteUser: string, localId = this.localIds.get(remoteUser)!): RefEnvelope {
    const ts = Date.now();
    const guild = roomId.slice(1, roomId.indexOf(':'));
    if (this.version === '3') {
      // 3.x: an endorsed leave naming the removed user (M federation_forward_member_event; bans alike).
      this.joined.get(roomId)?.delete(remoteUser);
      return this.endorse('m.member.leave', guild, remoteUser, ts);
    }
    const localpart = remoteUser.slice(1, remoteUser.indexOf(':'));
    const pseudo = `${localpart.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 24) || 'remote'}_${sha256hex(remoteUser).slice(0, 6)}`;
    this.joined.get(roomId)?.delete(remoteUser);
    const e = this.signEnvelope({
      event_id: `$m_member_leave:${guild}:${localId}:${ts}:${this.domain}`,
      room_id: roomId, event_type: 'm.member.leave', sender: `@${pseudo}:${this.domain}`, origin_server: this.serverName, origin_ts: ts,
      content: { guild_id: guild, user_id: localId }, depth: ts, state_key: null,
    });
    this.events.push(e);
    return e;
  }

  /**
   * Its moderator (`MANAGE_MESSAGES`, or the guild owner) deletes another user's message
   * (docs/REFERENCE-INTEROP-NOTES.md:219-223, CH:1237-1292, content CH:1269-1273): an
   * m.message.delete whose sender is the MODERATOR, content {guild_id, channel_id, message_id:
   * its local id of the target}; no target_event_id, no reason, no moderator flag; id
   * `$m_message_delete:<mid>:<ts>:<domain>` (L:335-341).
   */
  moderatorDelete(roomId: string, moderator: string, messageId: string): RefEnvelope {
    return this.relate(roomId, moderator, 'm.message.delete', messageId);
  }
}
