import { describe, expect, it } from 'vitest';
import { mergeChanges } from './merge-changes.ts';

type M = { event_id: string; depth: number; origin_server: string; body: string };
const m = (id: string, depth: number, body = id, origin = 'a.test'): M => ({ event_id: `$${id}:${origin}`, depth, origin_server: origin, body });

describe('mergeChanges', () => {
  const shown = [m('a', 10), m('b', 20), m('c', 30)];

  it('appends a new message and keeps every unchanged object', () => {
    const merged = mergeChanges(shown, [m('d', 40)], false);
    expect(merged.map((x) => x.event_id)).toEqual(['$a:a.test', '$b:a.test', '$c:a.test', '$d:a.test']);
    expect(merged.slice(0, 3).every((x, i) => x === shown[i])).toBe(true);
  });

  it("places a friend's concurrent message by display order, above the newest one shown", () => {
    const merged = mergeChanges(shown, [m('x', 30, 'x', 'b.test')], false);
    expect(merged.map((x) => x.event_id)).toEqual(['$a:a.test', '$b:a.test', '$c:a.test', '$x:b.test']);
    const earlier = mergeChanges(shown, [m('y', 25, 'y', 'b.test')], false);
    expect(earlier.map((x) => x.event_id)).toEqual(['$a:a.test', '$b:a.test', '$y:b.test', '$c:a.test']);
  });

  it('replaces an edited message in place; an unchanged copy keeps the shown object (no redraw)', () => {
    const edited = mergeChanges(shown, [m('b', 20, 'b, edited')], false);
    expect(edited.map((x) => x.body)).toEqual(['a', 'b, edited', 'c']);
    expect(edited[0]).toBe(shown[0]);
    expect(mergeChanges(shown, [{ ...shown[1]! }], false)).toBe(shown);
    expect(mergeChanges(shown, [], false)).toBe(shown);
  });

  it('leaves a message older than every one shown to the page above, unless nothing is above', () => {
    expect(mergeChanges(shown, [m('old', 5)], false)).toBe(shown);
    expect(mergeChanges(shown, [m('old', 5)], true).map((x) => x.event_id)[0]).toBe('$old:a.test');
    // The oldest shown message itself still changes in place.
    expect(mergeChanges(shown, [m('a', 10, 'a, edited')], false)[0]!.body).toBe('a, edited');
  });

  it('an empty timeline takes whatever changed, in display order', () => {
    expect(mergeChanges([], [m('z', 9), m('y', 3)], false).map((x) => x.event_id)).toEqual(['$y:a.test', '$z:a.test']);
  });
});
