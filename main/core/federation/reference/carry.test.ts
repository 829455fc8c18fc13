import { describe, expect, it } from 'vitest';
import type { Envelope } from '../envelope.ts';
import { reference3Refusal } from './carry.ts';

const NOW = 1_800_000_000_000;
const event = (over: Partial<Envelope> = {}): Envelope => ({
  event_id: '$1:us.example', room_id: '!1:us.example', event_type: 'm.message', sender: '@a:us.example', origin_server: 'us.example',
  origin_ts: NOW, depth: NOW, state_key: null, content: { body: 'hi' }, signatures: {}, ...over,
});

describe('what a reference 3.x would refuse or drop (reference3Refusal)', () => {
  it('carries a fresh message of 1 to 2,000 UTF-8 bytes, and other events whatever their content', () => {
    expect(reference3Refusal(event(), 'ref.example', NOW)).toBeNull();
    expect(reference3Refusal(event({ content: { body: 'x'.repeat(2_000) } }), 'ref.example', NOW)).toBeNull();
    expect(reference3Refusal(event({ event_type: 'm.reaction.add', content: { key: '👍' } }), 'ref.example', NOW)).toBeNull();
    expect(reference3Refusal(event({ origin_ts: NOW - 6 * 86_400_000 }), 'ref.example', NOW)).toBeNull();
  });

  it('refuses, in words, a body over 2,000 bytes (counted in UTF-8), an empty one, and an event over 7 days old', () => {
    expect(reference3Refusal(event({ content: { body: 'é'.repeat(1_001) } }), 'ref.example', NOW)).toMatch(/2002 bytes/);
    expect(reference3Refusal(event({ event_type: 'm.message.edit', content: { body: 'x'.repeat(2_001) } }), 'ref.example', NOW)).toMatch(/2001 bytes/);
    expect(reference3Refusal(event({ content: { body: '', attachments: [{}] } }), 'ref.example', NOW)).toMatch(/without text/);
    expect(reference3Refusal(event({ event_type: 'm.member.join', content: { membership: 'join' }, origin_ts: NOW - 7 * 86_400_000 }), 'ref.example', NOW)).toMatch(/more than 7 days old/);
  });
});
