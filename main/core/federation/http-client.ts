/**
 * Outbound federation HTTP: signed requests to peers, and the unsigned fetches of discovery
 * and keys documents. Responses are read with a size cap so a hostile peer cannot make us
 * buffer without end.
 */
import type { Dispatcher } from 'undici';
import { signRequestHeaders, type RequestSigner } from './request-signature.ts';
import { CertificatePinError, pinnedAgent } from './pinned-tls.ts';

/** undici is loaded on first use: a node with nothing to send does not pay for it (idle RSS). */
let undici: Promise<typeof import('undici')> | undefined;
const loadUndici = () => (undici ??= import('undici'));

export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export interface FederationResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Parsed JSON body, or undefined when the body was not JSON. */
  json: unknown;
}

export class FederationRequestError extends Error {
  readonly url: string;
  constructor(message: string, url: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FederationRequestError';
    this.url = url;
  }
}

export interface HttpClientOptions {
  /** Whether http:// endpoints may be used (`--insecure-http`, loopback/LAN testing). */
  allowInsecureHttp: boolean;
  timeoutMs?: number;
  /** The pinned certificate fingerprint for an https URL, if its peer was added with one. */
  pinFor?: (url: URL) => string | null | undefined;
}

export interface SendOptions {
  signal?: AbortSignal;
  /** Pin this certificate for this request (redeeming an invite, before the peer is stored). */
  pin?: string;
}

export class HttpClient {
  private readonly options: HttpClientOptions;

  constructor(options: HttpClientOptions) {
    this.options = options;
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
    return parsed;
  }

  async send(method: string, url: string, headers: Record<string, string>, body?: string, options: SendOptions = {}): Promise<FederationResponse> {
    const parsed = this.checkUrl(url);
    const timeout = this.options.timeoutMs ?? 15_000;
    const pin = parsed.protocol === 'https:' ? (options.pin ?? this.options.pinFor?.(parsed) ?? undefined) : undefined;
    const { request } = await loadUndici();
    const dispatcher = pin ? await pinnedAgent(pin) : undefined;
    const signal = options.signal;
    let response: Dispatcher.ResponseData;
    try {
      response = await request(parsed, {
        method: method as Dispatcher.HttpMethod,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        body,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        ...(signal ? { signal } : {}),
        ...(dispatcher ? { dispatcher } : {}),
      });
    } catch (error) {
      const cause = error as Error & { cause?: Error };
      const reason = cause instanceof CertificatePinError ? cause.message : (cause.cause instanceof CertificatePinError ? cause.cause.message : cause.message);
      throw new FederationRequestError(`${method} ${parsed.origin}${parsed.pathname} failed: ${reason}`, url, { cause: error });
    }
    const text = await readCapped(response.body, url);
    let json: unknown;
    try {
      json = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.statusCode, headers: response.headers, text, json };
  }

  /** A request signed with our identity (DESIGN.md §3). `pathAndQuery` is signed as sent. */
  signed(signer: RequestSigner, method: string, endpoint: string, pathAndQuery: string, body?: string, options: SendOptions = {}): Promise<FederationResponse> {
    const headers = signRequestHeaders(signer, method, pathAndQuery, body ?? '');
    return this.send(method, joinUrl(endpoint, pathAndQuery), headers, body, options);
  }
}

export function joinUrl(endpoint: string, pathAndQuery: string): string {
  return endpoint.replace(/\/+$/, '') + pathAndQuery;
}

async function readCapped(body: Dispatcher.ResponseData['body'], url: string): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += (chunk as Buffer).length;
    if (total > MAX_RESPONSE_BYTES) {
      body.destroy();
      throw new FederationRequestError(`response from ${url} is larger than ${MAX_RESPONSE_BYTES} bytes`, url);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
