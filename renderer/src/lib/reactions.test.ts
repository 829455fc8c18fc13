import { describe, expect, it } from 'vitest';
import { mayReactWith, reactionSummary } from './reactions.ts';

describe('reactionSummary', () => {
  it('counts everyone who reacted, names those the page names, and says how many more', () => {
    expect(reactionSummary(['@a:x', '@b:x'], 2)).toEqual({ count: 2, title: '@a:x, @b:x' });
    expect(reactionSummary(['@a:x', '@b:x'], 412)).toEqual({ count: 412, title: '@a:x, @b:x and 410 others' });
    expect(reactionSummary(['@a:x'], 2)).toEqual({ count: 2, title: '@a:x and 1 other' });
  });

  it('an answer without counts (an older node) counts the names; hidden characters are written out', () => {
    expect(reactionSummary(['@a:x', '@\u202Eb:x'], undefined)).toEqual({ count: 2, title: '@a:x, @⟨U+202E⟩b:x' });
  });
});

describe('mayReactWith', () => {
  it('offers "react too" for a key ours may hold (32 characters, an emoji counting one); not for a reference server\'s longer custom emoji, which the node would refuse', () => {
    expect(mayReactWith('👍')).toBe(true);
    expect(mayReactWith('👍'.repeat(32))).toBe(true);
    expect(mayReactWith('x'.repeat(32))).toBe(true);
    expect(mayReactWith('party_parrot_dancing:123456789012345678')).toBe(false);
    expect(mayReactWith('x'.repeat(33))).toBe(false);
  });
});
