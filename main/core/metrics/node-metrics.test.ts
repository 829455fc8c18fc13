import { describe, expect, it } from 'vitest';
import { DestinationLabels, OTHER, topWithOther } from './node-metrics.ts';

describe('bounded destination labels', () => {
  it('keeps the first N destinations and counts the rest as other', () => {
    const labels = new DestinationLabels(2);
    expect(['a', 'b', 'c', 'a', 'd', 'b'].map((d) => labels.label(d))).toEqual(['a', 'b', OTHER, 'a', OTHER, 'b']);
  });

  it('keeps the N largest gauge rows and sums the rest into other', () => {
    const rows = [{ key: 'a', value: 1 }, { key: 'b', value: 9 }, { key: 'c', value: 5 }, { key: 'd', value: 2 }];
    expect(topWithOther(rows, 2)).toEqual([{ key: 'b', value: 9 }, { key: 'c', value: 5 }, { key: OTHER, value: 3 }]);
    expect(topWithOther(rows.slice(0, 2), 2)).toEqual([{ key: 'b', value: 9 }, { key: 'a', value: 1 }]);
  });
});
