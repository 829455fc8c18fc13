/**
 * Sends federation requests signed with a real identity, and lets a test build the broken
 * variants (stale timestamp, tampered signature, missing headers) on purpose.
 */
import { Agent, request } from 'undici';
import { signRequestHeaders, type RequestSigner } from '../../main/core/federation/request-signature.ts';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

/** Test nodes serve self-signed certificates; the tests check pinning elsewhere, not here. */
const acceptAnyCertificate = new Agent({ connect: { rejectUnauthorized: false } });

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

export function sendSigned(
  signer: RequestSigner,
  baseUrl: string,
  method: string,
  path: string,
  body?: string | Buffer,
  options: { timestamp?: number; mutateHeaders?: (h: Record<string, string>) => void } = {},
): Promise<RawResponse> {
  const headers = signRequestHeaders(signer, method, path, body ?? '', options.timestamp ?? Date.now());
  options.mutateHeaders?.(headers);
  return sendRaw(baseUrl + path, method, headers, body);
}
