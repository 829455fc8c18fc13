/**
 * Where a server's federation API lives. An explicit endpoint given for a peer wins (LAN
 * hosts, tests); otherwise `https://<server_name>/.well-known/paracord/server` is asked and
 * the answer cached 24 h (failures 1 h), (docs/PROTOCOL.md §Endpoints). The server name is canonical
 * (shared/identifiers.ts) and the advertised `federation_endpoint` goes through the endpoint
 * normaliser (endpoint.ts): a peer's discovery never supplies a path, query or userinfo.
 */
import { LRUCache } from 'lru-cache';
import { isServerName } from '../../../shared/identifiers.ts';
import { cleanText } from '../util/untrusted-text.ts';
import type { TrustStore } from '../trust/trust-store.ts';
import type { Vouch } from './address-policy.ts';
import { REFERENCE_V2, readDiscovery, type ReadDiscovery } from './reference/dialect.ts';
import { FederationRequestError, type HttpClient } from './http-client.ts';
import type { DestinationBindingMemory } from './destination-binding.ts';
import { DESTINATION_BINDING_CAPABILITY, WELL_KNOWN_PATH } from './paths.ts';

export const PROTOCOL_VERSION = 'federation-v1';

/**
 * A discovery document as read here, of either dialect (reference/dialect.ts): the reference's
 * relative `federation_endpoint` is resolved against the discovery URL, its `domain` kept,
 * unknown fields ignored, and `dialect` says which kind of server it is.
 */
export type DiscoveryDocument = ReadDiscovery;

/** How Discovery.fetchDocument asks (each as HttpClient's SendOptions says). */
export interface FetchDocumentOptions {
  pin?: string;
  signal?: AbortSignal;
  vouch?: Vouch;
  fresh?: boolean;
  maxResponseBytes?: number;
  /** The server expected at that URL: its own row's pinned certificate applies. */
  server?: string;
}

/** The document we serve: the reference's ServerInfo (protocol.rs:53-60) plus our extras. */
export interface ServedDiscoveryDocument {
  server_name: string;
  domain: string;
  federation_endpoint: string;
  enabled: boolean;
  version: string;
  capabilities: string[];
  /** Every endpoint the server can be reached at, best first (issue #32 item 4; absent from older servers). */
  federation_endpoints?: string[];
  /** While nobody can reach it: the friends whose nodes keep its mail (issue #32); absent otherwise. */
  mailboxes?: string[];
}

/**
 * The most a server's discovery document may be when it is read to reach the server: its name,
 * endpoints and capabilities are a few hundred bytes (the ordinary 4 MiB, at the slowest rate
 * allowed, let the server we asked hold the read for minutes).
 */
export const DISCOVERY_MAX_BYTES = 64 * 1024;
const SUCCESS_TTL_MS = 24 * 60 * 60 * 1000;
/**
 * A failed discovery is asked again after a minute, doubling with each failure in a row up to an
 * hour: one network blip must not leave a server's keys unreadable (503 keys_unavailable, its
 * events held) for an hour, while a server that is gone is asked about a few times an hour.
 */
const FIRST_FAILURE_TTL_MS = 60 * 1000;
const FAILURE_TTL_MS = 60 * 60 * 1000;
const EXPLICIT_FAILURE_TTL_MS = 60 * 1000;
/** A receiver asks whether an origin binds with this deadline (the answer is cached like any discovery). */
const BINDING_LOOKUP_DEADLINE_MS = 3_000;

type CacheEntry = { expires: number; document?: DiscoveryDocument; error?: string; cause?: unknown; failures?: number; seenRetryAt?: number };
/**
 * A failure is tried again because its server was seen at most this often (its requests must not
 * buy a lookup each), doubling with each failure in a row up to SEEN_RETRY_MAX_GAP_MS: a peer
 * that keeps talking to us with a broken discovery (or one that points its name at someone else's
 * address) gets one lookup per 5 minutes from us, not one per 10 s.
 */
const SEEN_RETRY_GAP_MS = 10_000;
const SEEN_RETRY_MAX_GAP_MS = 5 * 60_000;
/** Names are chosen by whoever sends a request (open policy): the cache is bounded (LRU). */
const MAX_CACHED_SERVERS = 2_000;

/**
 * Whether we can talk to a server by its discovery: it speaks federation-v1, lists it among its
 * `supported_versions`, or is a reference 3.x (`federation-v2`: the same routes, bound requests).
 */
function speaksWithUs(document: DiscoveryDocument): boolean {
  if (document.version === PROTOCOL_VERSION || document.supported_versions?.includes(PROTOCOL_VERSION) === true) return true;
  return document.dialect === 'reference' && document.version === REFERENCE_V2;
}

export class Discovery {
  private readonly cache = new LRUCache<string, CacheEntry>({ max: MAX_CACHED_SERVERS });
  private readonly http: HttpClient;
  private readonly trust: TrustStore;
  private readonly binding: DestinationBindingMemory | undefined;

  constructor(http: HttpClient, trust: TrustStore, binding?: DestinationBindingMemory) {
    this.http = http;
    this.trust = trust;
    this.binding = binding;
    // A server seen (a request from it, an answer to ours) is there: a failure remembered for it
    // (up to an hour) would fail the retry its request wakes at once.
    trust.onSeen((server) => this.seen(server));
  }

  /**
   * `serverName` was seen: a failure remembered for it is tried again at the next lookup, at most
   * once per SEEN_RETRY_GAP_MS after the first failure, twice that after the second, … up to
   * SEEN_RETRY_MAX_GAP_MS (its count stays: the next failure is also remembered twice as long).
   */
  private seen(serverName: string, now = Date.now()): void {
    const entry = this.cache.peek(serverName);
    if (!entry || entry.document !== undefined || entry.expires <= now) return;
    const gap = Math.min(SEEN_RETRY_MAX_GAP_MS, SEEN_RETRY_GAP_MS * 2 ** Math.min(Math.max((entry.failures ?? 1) - 1, 0), 10));
    if (now - (entry.seenRetryAt ?? 0) < gap) return;
    entry.seenRetryAt = now;
    entry.expires = now;
  }

  /**
   * Fetches and validates a discovery document from a base URL (no cache). `server`: the server
   * expected there (its own pinned certificate applies: HttpClient's SendOptions); `fresh`: on a
   * new connection; `maxResponseBytes`: a smaller cap on the answer.
   */
  async fetchDocument(baseUrl: string, options: FetchDocumentOptions = {}): Promise<DiscoveryDocument> {
    const url = this.http.checkEndpoint(baseUrl) + WELL_KNOWN_PATH;
    const { pin, signal, vouch, fresh, maxResponseBytes, server } = options;
    const response = await this.http.send('GET', url, { accept: 'application/json' }, undefined, {
      ...(pin ? { pin } : {}), ...(signal ? { signal } : {}), ...(vouch ? { vouch } : {}), ...(fresh ? { fresh } : {}), ...(maxResponseBytes ? { maxResponseBytes } : {}), ...(server !== undefined ? { server } : {}),
    });
    if (response.status !== 200) throw new FederationRequestError(`discovery at ${url} answered HTTP ${response.status}`, url, { answered: true });
    const read = readDiscovery(response.json, url);
    if (!read.ok) throw new FederationRequestError(`discovery at ${url} is not valid: ${read.reason}`, url, { answered: true });
    if (!speaksWithUs(read.document)) throw new FederationRequestError(`discovery at ${url} speaks ${cleanText(read.document.version, 64)}, not ${PROTOCOL_VERSION}`, url, { answered: true });
    // Where else the server at this origin says it lives: tried when this origin cannot be reached (issue #32 item 4).
    this.http.failover.learn(url.slice(0, -WELL_KNOWN_PATH.length), read.document.federation_endpoints);
    return read.document;
  }

  /** The base URL to which `/_paracord/federation/v1/...` paths are appended. */
  async endpointOf(serverName: string, now = Date.now(), signal?: AbortSignal): Promise<string> {
    const explicit = this.trust.get(serverName)?.endpoint;
    if (explicit) return explicit;
    return (await this.documentOf(serverName, now, signal)).federation_endpoint;
  }

  /** The discovery document of a server: cached, or fetched from its endpoint/well-known. */
  async documentOf(serverName: string, now = Date.now(), signal?: AbortSignal): Promise<DiscoveryDocument> {
    const cached = this.cache.get(serverName);
    if (cached && cached.expires > now) {
      if (cached.document) return cached.document;
      // With its cause, so a caller can tell a refusal by our address policy from a failure that may pass (server-keys.ts).
      throw new FederationRequestError(cached.error ?? 'discovery failed recently', serverName, { cause: cached.cause });
    }
    const base = this.trust.get(serverName)?.endpoint ?? `https://${serverName}`;
    try {
      if (!isServerName(serverName)) throw new FederationRequestError(`${JSON.stringify(serverName.slice(0, 100))} is not a canonical server name`, serverName);
      const document = await this.fetchDocument(base, { ...(signal ? { signal } : {}), maxResponseBytes: DISCOVERY_MAX_BYTES, server: serverName });
      if (document.server_name !== serverName) {
        throw new FederationRequestError(`discovery for ${serverName} names another server (${document.server_name})`, base, { answered: true });
      }
      this.cache.set(serverName, { expires: now + SUCCESS_TTL_MS, document });
      this.noteBinding(serverName, document);
      return document;
    } catch (error) {
      // A peer with an explicit endpoint (LAN) is asked again sooner: it is likely just restarting.
      const failures = (cached?.document ? 0 : (cached?.failures ?? 0)) + 1;
      const ttl = this.trust.get(serverName)?.endpoint ? EXPLICIT_FAILURE_TTL_MS : Math.min(FAILURE_TTL_MS, FIRST_FAILURE_TTL_MS * 2 ** Math.min(failures - 1, 10));
      this.cache.set(serverName, { expires: now + ttl, error: (error as Error).message, cause: error, failures, ...(cached?.seenRetryAt ? { seenRetryAt: cached.seenRetryAt } : {}) });
      throw error;
    }
  }

  /**
   * Whether a server advertises destination binding (`destination_binding` in its discovery
   * capabilities). Cached with the document; unreachable or unknown counts as "no" (what a sender
   * needs: the receiver's 403 makes it sign again). A receiver asks requiresBinding instead.
   */
  async bindsDestination(serverName: string, now = Date.now()): Promise<boolean> {
    // Asked for every signed request: a cached answer costs no timer (issue #17: each call made
    // a deadline timer that later fired and built an error object).
    const cached = this.cache.get(serverName);
    if (cached && cached.expires > now) return cached.document?.capabilities.includes(DESTINATION_BINDING_CAPABILITY) ?? false;
    try {
      const document = await this.documentOf(serverName, now, AbortSignal.timeout(BINDING_LOOKUP_DEADLINE_MS));
      return document.capabilities.includes(DESTINATION_BINDING_CAPABILITY);
    } catch {
      return false;
    }
  }

  /**
   * Whether an unbound request from `origin` must be refused (receiver side): it advertises binding
   * now, or it did once and its discovery cannot be read now (DestinationBindingMemory). Only a
   * server never seen to bind, or one whose discovery, read, no longer advertises it, may send the
   * four-line form.
   */
  async requiresBinding(origin: string, now = Date.now()): Promise<boolean> {
    if (await this.bindsDestination(origin, now)) return true;
    return this.boundWhenLastRead(origin);
  }

  /** Whether `serverName`'s discovery advertised binding when it was last read (no look-up). */
  boundWhenLastRead(serverName: string): boolean {
    return this.binding?.has(serverName) ?? false;
  }

  /** What a discovery document read from `serverName` itself (checked by the caller) says about binding. */
  noteBinding(serverName: string, document: DiscoveryDocument): void {
    this.binding?.observe(serverName, document.capabilities.includes(DESTINATION_BINDING_CAPABILITY));
  }

  forget(serverName: string): void {
    this.cache.delete(serverName);
  }
}
