import { describe, expect, it } from 'vitest';
import { fittedHeight } from './fit-height.ts';

describe('the timeline fitted to the window', () => {
  it('ends the message box 8 px above the window\'s bottom, the page at its top', () => {
    // A 390×844 phone: the timeline begins at 265 px, 589 px high; the box ends 70 px under it.
    expect(fittedHeight({ innerHeight: 844, scrollY: 0 }, { top: 265, bottom: 854 }, 924)).toBe(844 - 265 - 70 - 8);
  });
  it('measures from the page\'s top when the page is scrolled', () => {
    expect(fittedHeight({ innerHeight: 844, scrollY: 100 }, { top: 165, bottom: 754 }, 824)).toBe(844 - 265 - 70 - 8);
  });
});
