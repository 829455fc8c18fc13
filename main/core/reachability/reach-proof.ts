/**
 * The self-test's question and the proof of its answer (issue #15; docs/SECURITY.md
 * §Reachability 1c). We ask a peer (`POST /reach-probe`, signed, with a fresh nonce) to call us
 * back where it knows us. A "reachable" is believed on one peer's word only when our listener
 * served that probe's nonce to it while the probe ran (`GET /reach-probe/echo/<nonce>`, answered
 * through `echo()`); otherwise (an older node, or a peer that says so without having reached us)
 * a second, different peer must agree. A "not reachable" is the answer as it comes (the
 * hysteresis, pull-switch.ts, confirms it). probe-caller.ts is the answering side.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Identity } from '../identity/identity.ts';
import type { HttpClient } from '../federation/http-client.ts';
import type { Discovery } from '../federation/discovery.ts';
import type { ProbeStatus } from './probe-caller.ts';
import type { CheckResult, ReachabilityState } from './reachability-status.ts';
import { cleanText } from '../util/untrusted-text.ts';
import { PEER_TEXT_MAX } from '../federation/peer-refusal.ts';
import { NOBODY_COULD_ASK } from '../../../shared/reachability-words.ts';
import { REACH_PROBE_PATH } from '../federation/paths.ts';
import { DEFAULT_REACH_PROBE_INTERVAL_SECONDS } from '../federation/routes/reach-probe/index.ts';

/**
 * A peer answers one probe of ours per 30 s by default (its `--reach-probe-interval`), counted
 * from when its answer came here (never before the probe reached it), and a second more: asked
 * sooner, it answers 429 and the test gets no verdict from it.
 */
export const PEER_PROBE_GAP_MS = (DEFAULT_REACH_PROBE_INTERVAL_SECONDS + 1) * 1000;

const PROBE_STATUSES = new Set<ProbeStatus>(['reachable', 'timeout', 'refused', 'tls_mismatch', 'wrong_server', 'name_not_found', 'address_refused', 'http_error', 'unreachable']);

/** The fields of a result that the probe does not decide: where we say we live, and what we hold. */
export type ProbeContext = Pick<CheckResult, 'endpoint' | 'mode' | 'mapping' | 'pinhole'>;

export interface ReachProofDeps {
  http: HttpClient;
  discovery: Discovery;
  identity: () => Identity | null;
  log: Logger;
  /** The peers that may be asked, the most recently seen first. */
  candidates: () => string[];
  /** Why nobody can be asked, as things stand now (no peer yet, or none that may be asked). */
  nobodyToAsk: () => string;
  /** The fields of a result that the probe does not decide, as they are when it starts. */
  context: () => ProbeContext;
}

type Base = Pick<CheckResult, 'checked_at'> & ProbeContext;

export class ReachProof {
  private readonly deps: ReachProofDeps;
  /** The nonces of our probes waiting for their answer, and whether our listener served each (echo()). */
  private readonly nonces = new Map<string, { served: boolean }>();
  private onlyRateLimited = false;
  /** When each peer's answer to our last probe came (or the probe failed), for `askableAt()`; older than the gap, forgotten. */
  private readonly lastAsked = new Map<string, number>();

  constructor(deps: ReachProofDeps) {
    this.deps = deps;
  }

  /** The last probe asked at least one peer, and every one refused with 429 (its probe limit). */
  get lastProbeOnlyRateLimited(): boolean {
    return this.onlyRateLimited;
  }

  /** When `peer` may be probed again without its default probe limit refusing: now or earlier, or that time. */
  askableAt(peer: string): number {
    return (this.lastAsked.get(peer) ?? -Infinity) + PEER_PROBE_GAP_MS;
  }

  /**
   * `GET /reach-probe/echo/<nonce>` reached our listener: whether a probe of ours waits for that
   * nonce (it then counts as served: the peer that answers that probe reached us).
   */
  echo(nonce: string): boolean {
    const waiting = this.nonces.get(nonce);
    if (!waiting) return false;
    waiting.served = true;
    return true;
  }

  /**
   * Asks one peer (the given one, or the first of `order` — by default our allowed peers — that
   * answers). A "reachable" is believed on one peer's word only with proof: our listener served
   * the nonce of that probe while it ran. Without it (an older node, or one that says so without
   * having reached us) a second, different peer must agree; a named peer's unproven "reachable"
   * asks up to two others. A "not reachable" is the answer as before (the hysteresis confirms it).
   */
  async probe(via?: string, order?: string[]): Promise<CheckResult> {
    const base: Base = { checked_at: Date.now(), ...this.deps.context() };
    const identity = this.deps.identity();
    const candidates = via ? [via] : (order ?? this.deps.candidates()).slice(0, 3);
    if (!identity || candidates.length === 0) {
      const error = via ? `${via} is not a peer` : this.deps.nobodyToAsk();
      return { ...base, reachable: null, via: null, error, status: 'no_peer', latency_ms: null };
    }
    // A named peer's unproven "reachable" is put to others (never more than 3 asked in all).
    const others = via ? this.deps.candidates().filter((p) => p !== via).slice(0, 2) : [];
    const problems: string[] = [];
    let rateLimited = 0;
    let asked = 0;
    const unproven: CheckResult[] = [];
    this.onlyRateLimited = false;
    for (const peer of [...candidates, ...others]) {
      if (asked >= candidates.length && unproven.length === 0) break;
      asked += 1;
      const answer = await this.ask(identity, peer, base);
      if ('problem' in answer) {
        if (answer.rateLimited) rateLimited += 1;
        problems.push(answer.problem);
        continue;
      }
      if (answer.result.reachable === false || answer.proven) return answer.result;
      unproven.push(answer.result);
      this.deps.log.info({ event: 'reach_answer_unproven', peer }, `${peer} says this node is reachable, but this node's listener did not serve that probe's nonce: another peer must agree`);
      if (unproven.length >= 2) {
        const agreeing = unproven.map((r) => r.via).join(' and ');
        this.deps.log.info({ event: 'reachable_by_agreement', peers: unproven.map((r) => r.via) }, `${agreeing} both say this node is reachable`);
        return unproven[0]!;
      }
    }
    this.onlyRateLimited = asked > 0 && rateLimited === asked;
    const lone = unproven[0];
    if (lone) problems.unshift(`${lone.via} says this node is reachable, but without proof (it did not fetch this test's nonce from this node) and no other peer agreed`);
    return { ...base, reachable: null, via: null, error: `${NOBODY_COULD_ASK}: ${problems.join('; ')}`, status: lone ? null : 'no_peer', latency_ms: null };
  }

  /** One probe of `peer`, with a fresh nonce (sent again without it to an older node that refuses the field): its verdict, and whether our listener served the nonce. */
  private async ask(identity: Identity, peer: string, base: Base): Promise<{ result: CheckResult; proven: boolean } | { problem: string; rateLimited: boolean }> {
    const nonce = randomBytes(32).toString('base64url');
    const waiting = { served: false };
    this.nonces.set(nonce, waiting);
    try {
      const endpoint = await this.deps.discovery.endpointOf(peer);
      const send = (body: string) => this.deps.http.signed(identity, 'POST', endpoint, REACH_PROBE_PATH, body, { destination: peer, timeoutMs: 30_000 });
      let response = await send(JSON.stringify({ nonce }));
      // An older node refuses any field of the probe (400 before its rate limit): asked the old way.
      if (response.status === 400 && (response.json as { error?: unknown } | undefined)?.error === 'invalid_request') response = await send('{}');
      const body = response.json as { reachable?: unknown; status?: unknown; latency_ms?: unknown; error?: unknown; message?: unknown; families?: unknown } | undefined;
      if (response.status === 200 && typeof body?.reachable === 'boolean') {
        // The peer's words are shown and logged: cleaned and cut (util/untrusted-text.ts), its status one of ours.
        const status: ProbeStatus = PROBE_STATUSES.has(body.status as ProbeStatus) ? (body.status as ProbeStatus) : 'http_error';
        const error = body.reachable ? null : `${peer} could not reach this node: ${typeof body.error === 'string' ? cleanText(body.error, PEER_TEXT_MAX) : status}`;
        const families = readFamilies(body.families);
        const result: CheckResult = { ...base, reachable: body.reachable, via: peer, error, status, latency_ms: typeof body.latency_ms === 'number' ? body.latency_ms : null, ...(families ? { families } : {}) };
        return { result, proven: waiting.served };
      }
      return { problem: `${peer} answered HTTP ${response.status}${typeof body?.message === 'string' ? `: ${cleanText(body.message, PEER_TEXT_MAX)}` : ''}`, rateLimited: response.status === 429 };
    } catch (error) {
      return { problem: `${peer}: ${(error as Error).message}`, rateLimited: false };
    } finally {
      this.nonces.delete(nonce);
      this.noteAsked(peer);
    }
  }

  private noteAsked(peer: string): void {
    const now = Date.now();
    for (const [p, at] of this.lastAsked) if (now - at >= PEER_PROBE_GAP_MS) this.lastAsked.delete(p);
    this.lastAsked.set(peer, now);
  }
}

/** A peer's `families` (older peers send none): two booleans-or-null, or nothing. */
function readFamilies(raw: unknown): ReachabilityState['families'] | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { ipv4, ipv6 } = raw as { ipv4?: unknown; ipv6?: unknown };
  const ok = (v: unknown): v is boolean | null => v === true || v === false || v === null;
  return ok(ipv4) && ok(ipv6) ? { ipv4, ipv6 } : undefined;
}
