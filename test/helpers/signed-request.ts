/**
 * Sends federation requests signed with a real identity, and lets a test build the broken
 * variants (stale timestamp, tampered signature, missing headers) on purpose.
 */
import { Agent, request } from 'undici';
import { signRequestHeaders, type RequestSigner } from '../../main/core/federation/request-signature.ts';
import { DESTINATION_BINDING_CAPABILITY } from '../../main/core/federation/paths.ts';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

/**
 * Test nodes serve self-signed certificates; the tests check pinning elsewhere, not here.
 * At most 32 connections per node, like a real client: a node closes connections beyond 64
 * from one address (issue #14, item 6), and a test flooding with requests means to test the
 * requests, not the connection limit (test/hostile-network.test.ts does that).
 */
const acceptAnyCertificate = new Agent({ connect: { rejectUnauthorized: false }, connections: 32 });

export async function sendRaw(url: string, method: string, headers: Record<string, string>, body?: string | Buffer): Promise<RawResponse> {
  const response = await request(url, {
    dispatcher: acceptAnyCertificate,
    method: method as 'GET',
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await response.body.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.statusCode, headers: response.headers, body: parsed, text };
}

/**
 * The receiver's server name when its discovery advertises destination binding (as a binding
 * sender learns it), by base URL. Forgotten before each test (test/helpers/each-file.ts): a port
 * one test's node listened on may be another node's in the next (a worker runs file after file:
 * vitest.config.ts).
 */
const bindingTargets = new Map<string, Promise<string | undefined>>();
export function forgetBindingTargets(): void {
  bindingTargets.clear();
}
export function bindingDestinationOf(baseUrl: string): Promise<string | undefined> {
  let known = bindingTargets.get(baseUrl);
  if (!known) {
    known = sendRaw(`${baseUrl}/.well-known/paracord/server`, 'GET', {})
      .then((r) => (r.status === 200 && Array.isArray(r.body?.capabilities) && r.body.capabilities.includes(DESTINATION_BINDING_CAPABILITY) ? String(r.body.server_name) : undefined))
      .catch(() => undefined);
    bindingTargets.set(baseUrl, known);
  }
  return known;
}

let lastTimestamp = 0;

/**
 * Now, but after the last one given: the same request signed twice in one millisecond has the same
 * signature, which a node refuses as a replay (409), as it should; a test sending the same request
 * twice on a fast machine meant two requests. A replay is made on purpose with `timestamp`.
 */
function nextTimestamp(): number {
  lastTimestamp = Math.max(Date.now(), lastTimestamp + 1);
  return lastTimestamp;
}

/**
 * A signed request as a current node sends it: bound to the receiver (X-Paracord-Destination,
 * five-line form) when the receiver advertises binding, unless `destination` says otherwise
 * (`null`: the old four-line form; a name: bound to that server).
 */
export async function sendSigned(
  signer: RequestSigner,
  baseUrl: string,
  method: string,
  path: string,
  body?: string | Buffer,
  options: { timestamp?: number; mutateHeaders?: (h: Record<string, string>) => void; destination?: string | null } = {},
): Promise<RawResponse> {
  const destination = options.destination === undefined ? await bindingDestinationOf(baseUrl) : (options.destination ?? undefined);
  const headers = signRequestHeaders(signer, method, path, body ?? '', options.timestamp ?? nextTimestamp(), destination);
  options.mutateHeaders?.(headers);
  return sendRaw(baseUrl + path, method, headers, body);
}
