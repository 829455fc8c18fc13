/**
 * Hands a request a mailbox carried to this node's own federation listener, byte for byte as its
 * origin signed it (issue #32): the same middleware checks it as a direct request — the origin is
 * a peer we allow, the signature verifies with its key, the request is bound to us, rate limits,
 * the route's own checks. Only one thing differs, and only for requests this process hands over
 * (a per-process secret header): the request may be as old as a mailbox keeps things (7 days)
 * instead of the usual clock skew; it must then be bound to us (verify-signed-request.ts).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Agent } from 'undici';

export const DISPATCH_HEADER = 'x-paracord-mailbox-dispatch';

export interface CarriedRequest {
  from: string;
  path: string;
  keyId: string;
  timestamp: string;
  signature: string;
  body: string;
}

export interface DispatchAnswer {
  status: number;
  error: string | null;
}

export class SelfDispatch {
  /** Never leaves this process: a request carrying it came from dispatch() below. */
  private readonly secret = randomBytes(32).toString('hex');
  /** Made at the first hand-over: a node that never holds mail for itself loads no HTTP client for it (idle RSS). */
  private agent: Agent | null = null;
  private readonly base: () => string | null;
  private readonly self: () => string;

  /** `base`: our own listener (`https://127.0.0.1:7447`), null while it is not listening. */
  constructor(base: () => string | null, self: () => string) {
    this.base = base;
    this.self = self;
  }

  /** Whether a request carries this process's secret (it was handed over by dispatch()). */
  isDispatched(value: string): boolean {
    // Compared as bytes: a header of as many characters may hold more bytes (not ASCII).
    const given = Buffer.from(value, 'utf8');
    const secret = Buffer.from(this.secret, 'utf8');
    return given.length === secret.length && timingSafeEqual(given, secret);
  }

  async dispatch(carried: CarriedRequest): Promise<DispatchAnswer> {
    const base = this.base();
    if (!base) return { status: 503, error: 'not listening' };
    const { Agent: AgentClass, request } = await import('../http/undici-request.ts');
    this.agent ??= new AgentClass({ connect: { rejectUnauthorized: false }, keepAliveTimeout: 10_000, connections: 4 });
    const response = await request(`${base}${carried.path}`, {
      method: 'POST',
      dispatcher: this.agent,
      headers: {
        'content-type': 'application/json',
        'x-paracord-origin': carried.from,
        'x-paracord-key-id': carried.keyId,
        'x-paracord-timestamp': carried.timestamp,
        'x-paracord-signature': carried.signature,
        'x-paracord-destination': this.self().toLowerCase(),
        [DISPATCH_HEADER]: this.secret,
      },
      body: Buffer.from(carried.body, 'utf8'),
    });
    const text = await response.body.text();
    let error: string | null = null;
    try {
      error = (JSON.parse(text) as { error?: string }).error ?? null;
    } catch {
      // not JSON
    }
    return { status: response.statusCode, error };
  }

  async close(): Promise<void> {
    const agent = this.agent;
    this.agent = null;
    await agent?.close();
  }
}
