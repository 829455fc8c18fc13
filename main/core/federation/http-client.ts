/**
 * Outbound federation HTTP: signed requests to peers, and the unsigned fetches of discovery
 * and keys documents. Responses are read with a size cap so a hostile peer cannot make us
 * buffer without end.
 */
import type { Agent, Dispatcher } from 'undici';
import { signRequestHeaders, type RequestSigner } from './request-signature.ts';
import { CertificatePinError, PINNED_CONNECT_OPTIONS, checkPin } from './pinned-tls.ts';
import { AddressPolicy, AddressRefusedError, guardedConnect, type ConnectedTo, type Vouch } from './address-policy.ts';
import { EndpointFailover, type FailoverStore } from './endpoint-failover.ts';
import { LRUCache } from 'lru-cache';
import { normalizeEndpoint } from '../../../shared/endpoint.ts';
import { MAX_RESPONSE_BYTES } from './page-budget.ts';
import { FEDERATION_KEEP_ALIVE_MS } from '../http/connection-limits.ts';

/** undici is loaded on first use: a node with nothing to send does not pay for it (idle RSS). */
let undici: Promise<typeof import('../http/undici-request.ts')> | undefined;
const loadUndici = () => (undici ??= import('../http/undici-request.ts'));

/** Every page a node serves fits in it (page-budget.ts, the one definition of both). */
export { MAX_RESPONSE_BYTES };
/** Response header: "my deliveries to you fail for network reasons" (issue #15). */
export const DELIVERY_FAILING_HEADER = 'x-paracord-delivery-failing';

export interface FederationResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Parsed JSON body, or undefined when the body was not JSON. */
  json: unknown;
}

export class FederationRequestError extends Error {
  readonly url: string;
  /**
   * The server answered, but not what a Paracord server answers (an HTTP error, a document that is
   * not valid, an answer over the cap): not a failure of the network (unreachable.ts `bad_answer`).
   */
  readonly answered: boolean;
  constructor(message: string, url: string, options?: { cause?: unknown; answered?: boolean }) {
    super(message, options);
    this.name = 'FederationRequestError';
    this.url = url;
    this.answered = options?.answered ?? false;
  }
}

/**
 * The refusal inside a failed request that is not the network's: another certificate than the
 * pinned one, or our own address policy (the error or its cause, as undici wraps the connector's).
 */
export function pinOrPolicyRefusal(error: unknown): Error | null {
  const known = (e: unknown): e is Error => e instanceof CertificatePinError || e instanceof AddressRefusedError;
  if (known(error)) return error;
  const cause = (error as { cause?: unknown } | null)?.cause;
  return known(cause) ? cause : null;
}

export interface HttpClientOptions {
  /** Whether http:// endpoints may be used (`--insecure-http`, loopback/LAN testing). */
  allowInsecureHttp: boolean;
  timeoutMs?: number;
  /**
   * The certificate pinned for an https URL: the one `server` (the server the request is for)
   * stored with that endpoint, if any (TrustStore.pinnedFingerprintFor).
   */
  pinFor?: (url: URL, server: string | undefined) => string | null | undefined;
  /** Where connections may go (address-policy.ts); by default no non-public address is vouched for. */
  policy?: AddressPolicy;
  /**
   * Whether a destination server binds signed requests to their destination (it advertises the
   * `destination_binding` capability in discovery); the node gives a function bound late to its Discovery.
   */
  bindsDestination?: (serverName: string) => Promise<boolean>;
  /**
   * Whether the server's discovery advertised binding when it was last read (destination-binding.ts):
   * a request to it is bound although its discovery cannot be read now (a slow or failed look-up
   * must not send the four-line form to a server known to bind: it refuses it, or reads our
   * discovery to find out, which for a friend behind a router is an address that never answers).
   */
  remembersBinding?: (serverName: string) => boolean;
  /** Drops what is known of a server's discovery (binding), so the next question asks it again. */
  forgetDestination?: (serverName: string) => void;
  /**
   * Which generation of the Paracord reference a server runs, if it is one (peer-dialects.ts): a
   * 3.x one gets every request bound (it refuses the four-line form with 401), a v0.8.5 one the
   * four-line form; neither is asked for discovery (a 3.x one answers 404 by default).
   */
  referenceVersion?: (serverName: string) => '0.8' | '3' | null;
  /** A reference peer refused the four-line form with 401 and did not refuse the bound one: remember it. */
  onReferenceBinds?: (serverName: string) => void;
  /** A server we sent a signed request to says its deliveries to us fail (timeouts, refused). */
  onDeliveryFailing?: (serverName: string) => void;
  /** Where peers' other endpoints are kept across restarts (endpoint-failover.ts); memory only without. */
  failoverStore?: FailoverStore;
  /**
   * The longest an idle connection to a peer is kept (ms; default FEDERATION_KEEP_ALIVE_MS, the
   * node's keepAliveTimeoutMs): the persistent link (docs/PROTOCOL.md §Persistent link).
   */
  keepAliveMaxMs?: number;
}

/**
 * An idle connection is closed this long before the time its server said it keeps it (its
 * `Keep-Alive: timeout=` answer header), so that a request is never written to a connection the
 * server is closing (undici's own default, said here).
 */
export const KEEP_ALIVE_MARGIN_MS = 2_000;
/** A server that says nothing of its keep-alive: kept this long (undici's default), as its own timeout is unknown. */
const KEEP_ALIVE_UNSAID_MS = 4_000;

export interface SendOptions {
  signal?: AbortSignal;
  /** Pin this certificate for this request (redeeming an invite, before the peer is stored). */
  pin?: string;
  /**
   * On a new connection of its own, closed after (a reachability probe tests the network as it is
   * now); `direct`: to this origin's own addresses only (no other endpoint of its server).
   */
  fresh?: boolean | 'direct';
  /** Who named this endpoint (address-policy.ts): the owner, a token-holding friend, or nobody we trust. */
  vouch?: Vouch;
  /** For signed requests: the server the request is for (bound when it advertises binding; its pin applies). */
  destination?: string;
  /**
   * For unsigned requests: the server the request is for. Only its own row's certificate pin
   * applies to the request; without a server, only a pin the owner typed for that endpoint.
   */
  server?: string;
  /** Override: bind (true) or not (false) regardless of what discovery says. */
  bind?: boolean;
  /**
   * Headers/body timeout of this request (a long-poll waits longer than the default 15 s): how long
   * its answer may take to begin, and to go quiet between two chunks. The whole request ends, answer
   * read or not, by requestDeadlineMs (286 s for the default 15 s and 4 MiB).
   */
  timeoutMs?: number;
  /** The largest answer read (MAX_RESPONSE_BYTES unless a call needs more: page-budget.ts). */
  maxResponseBytes?: number;
  /** More headers for a signed request (a mailbox deposit's carried signature). */
  headers?: Record<string, string>;
}

/**
 * The body timeout is idle time between chunks: a peer answering a byte every 14 s kept a request
 * (and whatever loop awaited it: the mailbox held check, a deposit's mailbox question, a key fetch)
 * going for the hours 4 MiB take at that pace (red team, 2026-11-28). Every request ends by its
 * deadline: its timeout for the headers, then as long again, or the time the largest answer it
 * reads takes at MIN_ANSWER_BYTES_PER_SECOND if that is longer (a 4 MiB page from a host on a slow
 * home upload: a review found a flat 60 s cut those for good), for the answer.
 */
export const MIN_ANSWER_BYTES_PER_SECOND = 16 * 1024;
export const requestDeadlineMs = (timeoutMs: number, maxResponseBytes: number): number =>
  2 * timeoutMs + Math.max(2 * timeoutMs, Math.ceil((maxResponseBytes / MIN_ANSWER_BYTES_PER_SECOND) * 1000));

/** Kept dispatchers (HttpClient.agents): far more than the pinned peers a node has. */
export const MAX_AGENTS = 512;

export class HttpClient {
  readonly options: HttpClientOptions;
  private readonly policy: AddressPolicy;
  /**
   * One dispatcher per (vouch, pin), at most MAX_AGENTS (the least used closed once its requests
   * end): a pin can come from a peer (a peering request's `tls_fingerprint`), and a plain Map grew
   * by one agent per fingerprint a holder of one invite link tried (a helper's review).
   */
  private readonly agents = new LRUCache<string, Agent>({ max: MAX_AGENTS, dispose: (agent) => void agent.close().catch(() => undefined) });
  /** Other endpoints of the servers we talk to, from their discovery (issue #32 item 4). */
  readonly failover: EndpointFailover;
  /** Where the last connection to each origin went, and what failed before it (the self-test's families). */
  private readonly connections = new LRUCache<string, { to: ConnectedTo | null; failed: ConnectedTo[]; at: number }>({ max: 2_000 });
  /**
   * Servers remembered as binding (`remembersBinding`) that refused our bound request as a bad
   * signature and took the unbound one (a server gone back to a version without binding, whose
   * discovery cannot be read now): the memory is not used for them for an hour, else each request
   * would try the bound form first, and look the discovery up again, before the unbound one.
   */
  private readonly bindingOverruled = new LRUCache<string, true>({ max: 1_000, ttl: 3_600_000 });

  constructor(options: HttpClientOptions) {
    this.options = options;
    this.failover = new EndpointFailover(options.failoverStore);
    this.policy = options.policy ?? new AddressPolicy({ insecureHttp: options.allowInsecureHttp, allowPrivateAddresses: false });
  }

  /**
   * A peer endpoint as the protocol allows it (endpoint.ts): http(s) origin only, no userinfo,
   * path, query or fragment, host canonical; plain http only with --insecure-http.
   */
  checkEndpoint(endpoint: string): string {
    const checked = normalizeEndpoint(endpoint);
    if (!checked.ok) throw new FederationRequestError(`endpoint ${JSON.stringify(endpoint.slice(0, 100))} refused: ${checked.reason}`, endpoint);
    this.checkUrl(checked.endpoint);
    return checked.endpoint;
  }

  /**
   * The non-public addresses an endpoint's host resolves to now: what the owner vouches for when
   * adding a peer by this endpoint (address-policy.ts).
   */
  async vouchableAddresses(endpoint: string): Promise<string[]> {
    return this.policy.vouchableAddresses(new URL(endpoint).hostname);
  }

  /** One dispatcher per (vouch, pin): every connection goes through the address policy. */
  private async agentFor(vouch: Vouch, pin: string | undefined): Promise<Agent> {
    const key = `${vouch} ${pin ?? ''}`;
    const kept = this.agents.get(key);
    if (kept) return kept;
    const agent = await this.newAgent(vouch, pin);
    // Another request made one meanwhile: use that one (setting ours would close it under its request: dispose).
    const raced = this.agents.get(key);
    if (raced) {
      void agent.close().catch(() => undefined);
      return raced;
    }
    this.agents.set(key, agent);
    return agent;
  }

  /** `failover` false: this origin's own addresses only, never the other endpoints its server listed. */
  private async newAgent(vouch: Vouch, pin: string | undefined, failover = true): Promise<Agent> {
    const { Agent, buildConnector } = await loadUndici();
    const base = buildConnector(pin ? { ...PINNED_CONNECT_OPTIONS } : {}) as unknown as Parameters<typeof guardedConnect>[1];
    const connect = guardedConnect(this.policy, base, { vouch, pinned: pin !== undefined }, pin ? (socket, host) => checkPin(socket, host, pin) : undefined, {
      alternates: failover ? this.failover : new EndpointFailover(),
      observer: { connected: (origin, to, failed) => this.connections.set(origin, { to, failed: [...failed], at: Date.now() }) },
    });
    // The persistent link: kept as long as the peer says it keeps it (less the margin), at most
    // keepAliveMaxMs. undici's keep-alive timer is a native unref'd timer: an idle link wakes nobody.
    return new Agent({
      connect: connect as unknown as ReturnType<typeof buildConnector>,
      keepAliveTimeout: KEEP_ALIVE_UNSAID_MS,
      keepAliveMaxTimeout: this.options.keepAliveMaxMs ?? FEDERATION_KEEP_ALIVE_MS,
      keepAliveTimeoutThreshold: KEEP_ALIVE_MARGIN_MS,
    });
  }

  /**
   * Closes every kept connection (those in use once their requests end): a new network (the
   * machine's addresses changed) leaves the kept ones dead, and a request written to one would
   * wait out its timeout before the retry opens a new one.
   */
  dropConnections(): void {
    this.agents.clear(); // each one closed (dispose)
  }

  /** Where the last new connection to `origin` went (an address of which family, through which endpoint) and what failed before it. */
  lastConnection(origin: string): { to: ConnectedTo | null; failed: ConnectedTo[]; at: number } | undefined {
    return this.connections.get(origin);
  }

  checkUrl(url: string): URL {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new FederationRequestError(`not a URL: ${url}`, url);
    }
    if (parsed.protocol === 'http:' && !this.options.allowInsecureHttp) {
      throw new FederationRequestError(`refusing plain http to ${parsed.host}: start the node with --insecure-http for loopback/LAN testing`, url);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new FederationRequestError(`unsupported scheme ${parsed.protocol}`, url);
    }
    if (parsed.username || parsed.password) throw new FederationRequestError('refusing a URL with a user name or password', url);
    return parsed;
  }

  async send(method: string, url: string, headers: Record<string, string>, body?: string | Buffer, options: SendOptions = {}): Promise<FederationResponse> {
    const parsed = this.checkUrl(url);
    const timeout = options.timeoutMs ?? this.options.timeoutMs ?? 15_000;
    const pin = parsed.protocol === 'https:' ? (options.pin ?? this.options.pinFor?.(parsed, options.server ?? options.destination) ?? undefined) : undefined;
    const { request } = await loadUndici();
    // A fresh connection (a reachability probe): a kept-alive one proves nothing about the network now.
    const dispatcher = options.fresh ? await this.newAgent(options.vouch ?? 'none', pin, options.fresh !== 'direct') : await this.agentFor(options.vouch ?? 'none', pin);
    const deadlineMs = requestDeadlineMs(timeout, options.maxResponseBytes ?? MAX_RESPONSE_BYTES);
    const deadline = AbortSignal.timeout(deadlineMs);
    const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
    const late = (error: unknown) => (deadline.aborted && !options.signal?.aborted ? new Error(`no whole answer within ${Math.round(deadlineMs / 1000)} s`) : (error as Error));
    let response: Dispatcher.ResponseData;
    try {
      response = await request(parsed, {
        method: method as Dispatcher.HttpMethod,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        body,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        signal,
        dispatcher,
      });
    } catch (error) {
      if (options.fresh) void dispatcher.close().catch(() => undefined);
      const reason = (pinOrPolicyRefusal(error) ?? late(error)).message;
      throw new FederationRequestError(`${method} ${parsed.origin}${parsed.pathname} failed: ${reason}`, url, { cause: error });
    }
    const text = await readCapped(response.body, url, options.maxResponseBytes ?? MAX_RESPONSE_BYTES)
      .catch((error: unknown) => {
        if (error instanceof FederationRequestError) throw error;
        throw new FederationRequestError(`${method} ${parsed.origin}${parsed.pathname} failed: ${late(error).message}`, url, { cause: error });
      })
      .finally(() => {
        if (options.fresh) void dispatcher.close().catch(() => undefined);
      });
    let json: unknown;
    try {
      json = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.statusCode, headers: response.headers, text, json };
  }

  /**
   * A request signed with our identity (docs/PROTOCOL.md §Request signatures). `pathAndQuery` is signed as sent. With
   * `options.destination`, the request is bound to that server (X-Paracord-Destination, the
   * five-line signed string) when it advertises binding, or did when its discovery was last read;
   * otherwise the four-line form is used.
   */
  async signed(signer: RequestSigner, method: string, endpoint: string, pathAndQuery: string, body?: string, options: SendOptions = {}): Promise<FederationResponse> {
    let destination: string | undefined;
    const reference = options.destination !== undefined ? (this.options.referenceVersion?.(options.destination) ?? null) : null;
    if (options.destination !== undefined) {
      const bind =
        options.bind ??
        (reference !== null
          ? reference === '3'
          : ((await this.options.bindsDestination?.(options.destination).catch(() => false)) ?? false) ||
            (!this.bindingOverruled.has(options.destination) && (this.options.remembersBinding?.(options.destination) ?? false)));
      if (bind) destination = options.destination;
    }
    // Encoded once: hashed for the signature and sent as these bytes (a batch is ~1 KB an event).
    const bytes = body === undefined ? undefined : Buffer.from(body, 'utf8');
    const sign = (to: string | undefined) => ({ ...options.headers, ...signRequestHeaders(signer, method, pathAndQuery, bytes ?? '', Date.now(), to) });
    let response = await this.send(method, joinUrl(endpoint, pathAndQuery), sign(destination), bytes, options);
    // A reference that refuses the four-line form with 401 is a 3.x one (docs/PROTOCOL.md): sign
    // bound, once; remembered unless the bound form is refused alike (a clock skew, not the form).
    if (options.destination !== undefined && options.bind === undefined && reference === '0.8' && response.status === 401) {
      const bound = await this.send(method, joinUrl(endpoint, pathAndQuery), sign(options.destination), bytes, options);
      if (bound.status !== 401) {
        this.options.onReferenceBinds?.(options.destination);
        response = bound;
      }
    }
    // What we knew of the receiver's binding was out of date (its discovery could not be read when
    // we asked, e.g. it was restarting; or it changed): learn it afresh and sign again, once,
    // rather than turning a message into a permanent failure.
    if (options.destination !== undefined && options.bind === undefined && reference === null && response.status === 403) {
      const error = (response.json as { error?: unknown } | undefined)?.error;
      const stale = destination === undefined ? error === 'destination_binding_required' : error === 'bad_signature';
      if (stale) {
        this.options.forgetDestination?.(options.destination);
        const bindNow = destination === undefined ? true : ((await this.options.bindsDestination?.(options.destination).catch(() => false)) ?? false);
        if (bindNow !== (destination !== undefined)) {
          response = await this.send(method, joinUrl(endpoint, pathAndQuery), sign(bindNow ? options.destination : undefined), bytes, options);
          if (!bindNow && response.status !== 403) this.bindingOverruled.set(options.destination, true);
        }
      }
    }
    if (options.destination !== undefined && response.headers[DELIVERY_FAILING_HEADER] !== undefined) this.options.onDeliveryFailing?.(options.destination);
    return response;
  }
}

export function joinUrl(endpoint: string, pathAndQuery: string): string {
  return endpoint.replace(/\/+$/, '') + pathAndQuery;
}

async function readCapped(body: Dispatcher.ResponseData['body'], url: string, cap: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += (chunk as Buffer).length;
    if (total > cap) {
      body.destroy();
      throw new FederationRequestError(`response from ${url} is larger than ${cap} bytes`, url, { answered: true });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
