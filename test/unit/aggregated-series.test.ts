/**
 * The counters and histograms counted in place (src/metrics/aggregated-series.ts) expose exactly what
 * prom-client's Counter and Histogram expose for the same observations: the same text, line for line
 * (series in the order first used, cumulative buckets, +Inf, sum and count), and the same JSON.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AggregatedCounter, AggregatedHistogram } from '../../src/metrics/aggregated-series.js';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function both() {
  const theirs = new Registry();
  const ours = new Registry();
  const options = (registry: Registry) => ({
    counter: { name: 'test_requests_total', help: 'Requests "counted"\nby interaction', labelNames: ['interaction', 'resource_type', 'status_class'] as const, registers: [registry] },
    histogram: { name: 'test_duration_seconds', help: 'Durations', labelNames: ['interaction', 'status_class'] as const, buckets: BUCKETS, registers: [registry] },
  });
  return {
    theirs,
    ours,
    promCounter: new Counter(options(theirs).counter),
    promHistogram: new Histogram(options(theirs).histogram),
    counter: new AggregatedCounter(options(ours).counter),
    histogram: new AggregatedHistogram(options(ours).histogram),
  };
}

describe('metrics counted in place', () => {
  it('expose the same text and JSON as prom-client for the same observations', async () => {
    const { theirs, ours, promCounter, promHistogram, counter, histogram } = both();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    const random = seeded(17);
    const interactions = ['read', 'search-type', 'create', '$validate', '/healthz', 'unrouted', 'a "quoted" \\ value'];
    const types = ['Patient', '', 'Observation'];
    const classes = ['2xx', '4xx', '5xx'];
    for (let i = 0; i < 5000; i++) {
      const interaction = interactions[Math.floor(random() ** 2 * interactions.length)];
      const type = types[Math.floor(random() * types.length)];
      const statusClass = classes[Math.floor(random() ** 3 * classes.length)];
      // Values on bucket bounds, between them, below the first and above the last.
      const seconds = random() < 0.1 ? BUCKETS[Math.floor(random() * BUCKETS.length)] : random() < 0.05 ? 31 + random() * 100 : random() ** 4 * 3;
      promCounter.inc({ interaction, resource_type: type, status_class: statusClass });
      counter.series(interaction, type, statusClass).value += 1;
      promHistogram.observe({ interaction, status_class: statusClass }, seconds);
      histogram.series(interaction, statusClass).observe(seconds);
    }
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('test_duration_seconds_bucket{le="+Inf",interaction="read",status_class="2xx"}');
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());

    theirs.resetMetrics();
    ours.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    counter.series('read', 'Patient', '2xx').value += 1;
    promCounter.inc({ interaction: 'read', resource_type: 'Patient', status_class: '2xx' });
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('refuse what prom-client refuses: a value that is not a number, a label named le, a name taken', () => {
    const { ours, histogram } = both();
    expect(() => histogram.series('read', '2xx').observe(Number.NaN)).toThrow(TypeError);
    expect(() => new AggregatedHistogram({ name: 'x_seconds', help: 'x', labelNames: ['le'], buckets: [1], registers: [] })).toThrow(/le is a reserved/);
    expect(() => new AggregatedCounter({ name: 'test_requests_total', help: 'again', labelNames: ['a'], registers: [ours] })).toThrow(/already been registered/);
    // The refused observation counted nothing.
    expect(histogram.series('read', '2xx').count).toBe(0);
  });
});
