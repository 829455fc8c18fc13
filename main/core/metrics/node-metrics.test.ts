import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { parsePrometheusText } from '../../../test/helpers/prom-text.ts';
import { DestinationLabels, EVENT_LOOP_SAMPLE_MS, NodeMetrics, OTHER, topWithOther } from './node-metrics.ts';

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

describe('event-loop delay figures (issue #36: no 10 ms sampler)', () => {
  it('are valid Prometheus text at every scrape, also when no sample came since the last one, and follow the 1 s sampler', async ({ tempDb }) => {
    const metrics = new NodeMetrics({ db: tempDb.db, databaseFile: tempDb.file, lastBackupAt: () => null, isPaused: () => false });
    const names = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'].map((n) => `nodejs_eventloop_lag_${n}_seconds`);
    // Two scrapes in a row: the second finds no new sample (prom-client printed that as "Nan").
    for (const body of [(await metrics.scrape()).body, (await metrics.scrape()).body]) {
      expect(body).not.toMatch(/\bNa[Nn]\b/);
      const parsed = parsePrometheusText(body);
      for (const name of names) expect(parsed.get(name)?.type, name).toBe('gauge');
    }
    await new Promise((resolve) => setTimeout(resolve, EVENT_LOOP_SAMPLE_MS * 2.5));
    const later = parsePrometheusText((await metrics.scrape()).body);
    const p99 = later.get('nodejs_eventloop_lag_p99_seconds')!.samples[0]!.value;
    expect(p99).toBeGreaterThan(0);
    expect(p99).toBeLessThan(60);
  });
});
