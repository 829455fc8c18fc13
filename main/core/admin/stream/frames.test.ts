/** The frame check without zod (isWellFormedFrame) accepts nothing the frame schema refuses. */
import { describe, expect, it } from 'vitest';
import { isWellFormedFrame, parseFrame, requestFrame } from './frames.ts';

const frames: unknown[] = [
  { id: 1, op: 'sendMessage', input: { room_id: '!r:a.test', body: 'hi' } },
  { id: 'a', op: 'getStatus' },
  { id: 'x'.repeat(64), op: 'o'.repeat(64), input: {} },
  { id: 'x'.repeat(65), op: 'getStatus' },
  { id: '', op: 'getStatus' },
  { id: 1.5, op: 'getStatus' },
  { id: 2 ** 53, op: 'getStatus' },
  { id: -7, op: 'getStatus' },
  { id: null, op: 'getStatus' },
  { id: true, op: 'getStatus' },
  { id: 1, op: '' },
  { id: 1, op: 'o'.repeat(65) },
  { id: 1, op: 7 },
  { id: 1, op: 'getStatus', input: null },
  { id: 1, op: 'getStatus', input: [] },
  { id: 1, op: 'getStatus', input: 'x' },
  { id: 1, op: 'getStatus', extra: 1 },
  { id: 1 },
  { op: 'getStatus' },
  [1, 'getStatus'],
  null,
  'frame',
  JSON.parse('{"id":1,"op":"getStatus","input":{"__proto__":{"x":1}}}'),
  JSON.parse('{"id":1,"op":"getStatus","__proto__":{"x":1}}'),
  JSON.parse('{"id":1,"op":"getStatus","input":{"constructor":1}}'),
  Object.assign(Object.create({ inherited: 1 }), { id: 1, op: 'getStatus' }),
];

describe('isWellFormedFrame', () => {
  it('accepts only what the frame schema accepts, and the common frames', () => {
    for (const frame of frames) {
      if (isWellFormedFrame(frame)) expect(requestFrame.safeParse(frame).success, JSON.stringify(frame)).toBe(true);
    }
    expect(isWellFormedFrame(frames[0])).toBe(true);
    expect(isWellFormedFrame(frames[1])).toBe(true);
    expect(isWellFormedFrame(frames[2])).toBe(true);
  });

  it('gives parseFrame the same answers with or without the fast check', () => {
    for (const frame of frames) {
      const text = JSON.stringify(frame);
      if (text === undefined) continue;
      const parsed = parseFrame(text);
      const schema = requestFrame.safeParse(JSON.parse(text));
      if (!schema.success) expect(parsed).toMatchObject({ ok: false, answer: { error: 'malformed_frame' } });
      else expect(parsed.ok || (parsed.answer as { error: string }).error !== 'malformed_frame').toBe(true);
    }
  });
});
