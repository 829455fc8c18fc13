/**
 * The receiving side of `POST /reach-probe` (issue #15): a peer asks us to call it back. We
 * call it ONLY at the endpoint we already know for it — its trust row's explicit endpoint, or
 * else `https://<its server name>` and the federation endpoint its discovery there names — never
 * at anything taken from the request, so the probe cannot be pointed at anyone else. Every
 * connection goes through the node's HttpClient, hence the outbound address policy
 * (address-policy.ts) and any certificate pin of that peer. The answer says in plain words what
 * happened: reachable, timeout, refused, TLS mismatch, wrong server answered, ...
 * A probe that sent a nonce is answered reachable only once the nonce was fetched there too
 * (`GET /reach-probe/echo/<nonce>`): the caller believes a "reachable" only when its own listener
 * served that nonce (reach-proof.ts), so the callback must really reach that listener.
 */
import type { Discovery } from '../federation/discovery.ts';
import { joinUrl, type HttpClient } from '../federation/http-client.ts';
import { checkKeysDocument } from '../federation/keys-document.ts';
import type { TrustStore } from '../trust/trust-store.ts';
import { isIP } from 'node:net';
import { KEYS_PATH, REACH_ECHO_PATH } from '../federation/paths.ts';

/** How long the callback may take before it counts as a timeout. */
export const PROBE_TIMEOUT_MS = 10_000;

export type ProbeStatus = 'reachable' | 'timeout' | 'refused' | 'tls_mismatch' | 'wrong_server' | 'name_not_found' | 'address_refused' | 'http_error' | 'unreachable';

export interface ProbeAnswer {
  reachable: boolean;
  status: ProbeStatus;
  latency_ms: number;
  /** Plain words; null when reachable. */
  error: string | null;
  /** Which address families reached the caller (true), were tried and did not (false), or were not tried (null): issue #32 item 4. */
  families: Families;
}

export type Families = { ipv4: boolean | null; ipv6: boolean | null };

export interface ProbeDeps {
  trust: TrustStore;
  discovery: Discovery;
  http: HttpClient;
  /** The public key we know for `server`'s key `keyId` (the one its probe request was signed with). */
  knownKey: (server: string, keyId: string) => string | null;
}

/** Calls `caller` back where we know it lives (and fetches `nonce` there, when given); never throws. */
export async function probeCaller(deps: ProbeDeps, caller: string, keyId: string, nonce?: string): Promise<ProbeAnswer> {
  const started = performance.now();
  const startedAt = Date.now();
  const families: Families = { ipv4: null, ipv6: null };
  const answer = (status: ProbeStatus, error: string | null): ProbeAnswer => ({
    reachable: status === 'reachable',
    status,
    latency_ms: Math.round(performance.now() - started),
    error,
    families,
  });
  const explicit = deps.trust.get(caller)?.endpoint ?? null;
  const base = explicit ?? `https://${caller}`;
  const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  // Where the (new) connections of this probe went.
  const noteConnections = (endpoint: string) => {
    let origin: string;
    try {
      origin = new URL(endpoint).origin;
    } catch {
      return;
    }
    const seen = deps.http.lastConnection(origin);
    if (!seen || seen.at < startedAt) return;
    for (const f of seen.failed) note(families, f.family, false);
    if (seen.to) note(families, seen.to.family, true);
  };
  try {
    let document: Awaited<ReturnType<Discovery['fetchDocument']>>;
    try {
      // New connections: a kept-alive one says nothing about whether the caller can be reached now.
      document = await deps.discovery.fetchDocument(base, { signal, fresh: true, server: caller });
    } finally {
      noteConnections(base);
    }
    if (document.server_name !== caller) {
      return answer('wrong_server', `another server answered at ${base}: it calls itself ${document.server_name}, not ${caller}`);
    }
    // Keys from the same place: the endpoint we know (or, without one, the endpoint its discovery names).
    const endpoint = explicit ?? document.federation_endpoint;
    const response = await deps.http.send('GET', joinUrl(endpoint, KEYS_PATH), { accept: 'application/json' }, undefined, { signal, timeoutMs: PROBE_TIMEOUT_MS, fresh: true, server: caller });
    if (response.status !== 200) return answer('http_error', `${endpoint} answered HTTP ${response.status} for its keys`);
    const keys = checkKeysDocument(response.json, caller);
    if (!keys.ok) return answer('wrong_server', `the keys at ${endpoint} are not ${caller}'s: ${keys.reason}`);
    const known = deps.knownKey(caller, keyId);
    const published = [keys.document.active_key, ...keys.document.next_keys, ...keys.document.old_keys].find((k) => k.key_id === keyId);
    if (known && published?.public_key !== known) return answer('wrong_server', `the server at ${endpoint} does not hold ${caller}'s signing key ${keyId}`);
    if (nonce !== undefined) {
      // The caller's proof that we reached its own listener: the nonce it sent, echoed there. The
      // caller judges the proof (its listener served the nonce or not); here only another server
      // echoing something else is an answer. An echo that failed after its keys were read (a slow
      // keys fetch spent the probe's time, the nonce was no longer awaited) is no "not reachable":
      // the caller, which saw no echo, takes our "reachable" as unproven (a review, 2026-11-28).
      const echo = await deps.http
        .send('GET', joinUrl(endpoint, `${REACH_ECHO_PATH}/${nonce}`), { accept: 'application/json' }, undefined, { signal, timeoutMs: PROBE_TIMEOUT_MS, fresh: true, server: caller })
        .catch(() => null);
      if (echo?.status === 200 && (echo.json as { nonce?: unknown } | undefined)?.nonce !== nonce) return answer('wrong_server', `${endpoint} did not echo this probe's nonce: another server answers there`);
    }
    noteConnections(endpoint);
    await tryOtherFamily(deps, caller, base, document.federation_endpoints, families, (k) => published !== undefined && k === published.public_key, signal);
    return answer('reachable', null);
  } catch (error) {
    return answer(...classify(error, base));
  }
}

function note(families: Families, family: 4 | 6, reached: boolean): void {
  const key = family === 4 ? 'ipv4' : 'ipv6';
  if (reached) families[key] = true;
  else if (families[key] === null) families[key] = false;
}

/**
 * The caller was reached over one family; when its discovery lists an endpoint of the other
 * (an IPv6 or IPv4 address), its keys are fetched there too, with the certificate pinned for the
 * caller (it can only reach the holder of that certificate), so the answer says whether both
 * families work. That endpoint is its discovery's word, read without the owner asking: dialled
 * as another endpoint a discovery lists (vouch `listed`: a public address only, address-policy.ts),
 * never as a link's literal address (red team 2026-11-26: a friend listing `https://[::1]:<port>`
 * made every probe of its open a connection there).
 */
async function tryOtherFamily(deps: ProbeDeps, caller: string, base: string, endpoints: readonly string[], families: Families, holdsKey: (publicKey: string) => boolean, signal: AbortSignal): Promise<void> {
  const pin = deps.trust.pinnedFingerprintFor(new URL(base), caller) ?? undefined;
  for (const family of [4, 6] as const) {
    if (families[family === 4 ? 'ipv4' : 'ipv6'] !== null) continue;
    const other = endpoints.find((e) => isIP(new URL(e).hostname.replace(/^\[|\]$/g, '')) === family);
    if (!other || (other.startsWith('https:') && !pin)) continue;
    try {
      const response = await deps.http.send('GET', joinUrl(other, KEYS_PATH), { accept: 'application/json' }, undefined, { signal, timeoutMs: PROBE_TIMEOUT_MS, vouch: 'listed', fresh: 'direct', ...(pin ? { pin } : {}) });
      const keys = response.status === 200 ? checkKeysDocument(response.json, caller) : null;
      const reached = keys?.ok === true && [keys.document.active_key, ...keys.document.next_keys, ...keys.document.old_keys].some((k) => holdsKey(k.public_key));
      note(families, family, reached);
    } catch {
      note(families, family, false);
    }
  }
}

/** A failed callback in plain words. */
export function classify(error: unknown, where: string): [ProbeStatus, string] {
  const codes: string[] = [];
  const messages: string[] = [];
  for (let e = error as (Error & { code?: string; cause?: unknown }) | undefined, depth = 0; e && depth < 6; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string') codes.push(e.code);
    if (typeof e.message === 'string') messages.push(e.message);
    if (e.name) codes.push(e.name);
  }
  const text = messages.join(' | ');
  const has = (...names: string[]) => names.some((n) => codes.includes(n) || text.includes(n));
  // Not what the name resolved to here: the words go back to whoever asked (a reach-probe's peer,
  // a link's redeemer), and would make a name an oracle of our network (a helper's review, 2026-11-30).
  if (has('AddressRefusedError')) return ['address_refused', `this node will not connect to ${where}: its address is one this node does not connect to on a peer's word`];
  if (has('ECONNREFUSED')) return ['refused', `connection refused at ${where}: nothing accepts connections there (the router does not forward the port, or the node is not running)`];
  if (has('TimeoutError', 'AbortError', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'ETIMEDOUT', 'aborted', 'timed out', 'timeout')) {
    return ['timeout', `no answer from ${where} within ${PROBE_TIMEOUT_MS / 1000} s: the connection is probably dropped by a router or firewall on the way`];
  }
  if (has('ENOTFOUND', 'EAI_AGAIN')) return ['name_not_found', `the name in ${where} does not resolve to an address`];
  if (has('CertificatePinError', 'CERT_', 'ERR_TLS', 'self-signed', 'self signed', 'SSL', 'certificate', 'EPROTO')) {
    return ['tls_mismatch', `TLS failed at ${where}: the certificate served there is not the one expected (${messages.at(-1) ?? text})`];
  }
  if (has('EHOSTUNREACH', 'ENETUNREACH')) return ['unreachable', `no route to ${where}`];
  if (has('ECONNRESET', 'UND_ERR_SOCKET')) return ['unreachable', `the connection to ${where} was cut: ${messages.at(-1) ?? text}`];
  if (has('answered', 'not valid', 'speaks')) return ['wrong_server', `something else answered at ${where}: ${messages[0] ?? text}`];
  return ['unreachable', `could not reach ${where}: ${messages.at(-1) ?? text}`];
}
