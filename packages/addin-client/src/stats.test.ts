import { percentile, summarizeLatencies } from './stats';

describe('latency percentiles', () => {
  it('take the nearest rank', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([50, 95, 99, 100].map((p) => percentile(sorted, p))).toEqual([50, 95, 99, 100]);
    expect(percentile([7], 99)).toBe(7);
  });

  it('summarise unsorted samples and say null when there are none', () => {
    expect(summarizeLatencies([30, 10, 20])).toEqual({ count: 3, p50: 20, p95: 30, p99: 30, max: 30 });
    expect(summarizeLatencies([])).toEqual({ count: 0, p50: null, p95: null, p99: null, max: null });
  });
});
