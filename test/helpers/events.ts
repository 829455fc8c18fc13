import { randomBytes } from 'node:crypto';
import { envelopeWireJson, signEnvelope, type Envelope, type UnsignedEnvelope } from '../../main/core/federation/envelope.ts';
import type { RequestSigner } from '../../main/core/federation/request-signature.ts';

/** A signed m.message from `signer`'s server for a room it hosts, with overrides applied before signing. */
export function makeEvent(signer: RequestSigner, overrides: Partial<UnsignedEnvelope> = {}): Envelope {
  const now = Date.now();
  const server = signer.serverName;
  const unsigned: UnsignedEnvelope = {
    event_id: `$${randomBytes(9).toString('base64url')}:${server}`,
    room_id: `!lobby:${server}`,
    event_type: 'm.message',
    sender: `@owner:${server}`,
    origin_server: server,
    origin_ts: now,
    depth: now,
    state_key: null,
    content: { body: 'hello', format: 'plain' },
    ...overrides,
  };
  return signEnvelope(unsigned, signer);
}

export const wire = (event: Envelope) => envelopeWireJson(event);
