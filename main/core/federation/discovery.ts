/**
 * Where a server's federation API lives. An explicit endpoint given for a peer wins (LAN
 * hosts, tests); otherwise `https://<server_name>/.well-known/paracord/server` is asked and
 * the answer cached 24 h (failures 1 h), as DESIGN.md §3 says.
 */
import { z } from 'zod';
import { isServerName } from '../../../shared/identifiers.ts';
import type { TrustStore } from '../trust/trust-store.ts';
import { FederationRequestError, type HttpClient } from './http-client.ts';

export const WELL_KNOWN_PATH = '/.well-known/paracord/server';
export const PROTOCOL_VERSION = 'federation-v1';

export const discoveryDocumentSchema = z.object({
  server_name: z.string().refine(isServerName, 'not a valid server name'),
  federation_endpoint: z.url({ protocol: /^https?$/ }),
  enabled: z.boolean(),
  version: z.string(),
  capabilities: z.array(z.string()).default([]),
});
export type DiscoveryDocument = z.infer<typeof discoveryDocumentSchema>;

const SUCCESS_TTL_MS = 24 * 60 * 60 * 1000;
const FAILURE_TTL_MS = 60 * 60 * 1000;
const EXPLICIT_FAILURE_TTL_MS = 60 * 1000;

type CacheEntry = { expires: number; document?: DiscoveryDocument; error?: string };

export class Discovery {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly http: HttpClient;
  private readonly trust: TrustStore;

  constructor(http: HttpClient, trust: TrustStore) {
    this.http = http;
    this.trust = trust;
  }

  /** Fetches and validates a discovery document from a base URL (no cache). */
  async fetchDocument(baseUrl: string, pin?: string, signal?: AbortSignal): Promise<DiscoveryDocument> {
    const url = baseUrl.replace(/\/+$/, '') + WELL_KNOWN_PATH;
    const response = await this.http.send('GET', url, { accept: 'application/json' }, undefined, { ...(pin ? { pin } : {}), ...(signal ? { signal } : {}) });
    if (response.status !== 200) throw new FederationRequestError(`discovery at ${url} answered ${response.status}`, url);
    const parsed = discoveryDocumentSchema.safeParse(response.json);
    if (!parsed.success) throw new FederationRequestError(`discovery at ${url} is not valid: ${parsed.error.issues[0]?.message}`, url);
    if (parsed.data.version !== PROTOCOL_VERSION) throw new FederationRequestError(`discovery at ${url} speaks ${parsed.data.version}, not ${PROTOCOL_VERSION}`, url);
    return parsed.data;
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
      throw new FederationRequestError(cached.error ?? 'discovery failed recently', serverName);
    }
    const base = this.trust.get(serverName)?.endpoint ?? `https://${serverName}`;
    try {
      const document = await this.fetchDocument(base, undefined, signal);
      if (document.server_name !== serverName) {
        throw new FederationRequestError(`discovery for ${serverName} names another server (${document.server_name})`, base);
      }
      this.cache.set(serverName, { expires: now + SUCCESS_TTL_MS, document });
      return document;
    } catch (error) {
      // A peer with an explicit endpoint (LAN) is asked again sooner: it is likely just restarting.
      const ttl = this.trust.get(serverName)?.endpoint ? EXPLICIT_FAILURE_TTL_MS : FAILURE_TTL_MS;
      this.cache.set(serverName, { expires: now + ttl, error: (error as Error).message });
      throw error;
    }
  }

  forget(serverName: string): void {
    this.cache.delete(serverName);
  }
}
