import { describe, expect, it } from 'vitest';
import { CDF_PERCENTILES, Samples, cdfOf, quantilesOf } from './quantiles.js';

describe('Samples', () => {
  it('gives the same quantiles and CDF as sorting a copy, before and after more values arrive', () => {
    const s = new Samples(4);
    const all: number[] = [];
    const push = (x: number): void => {
      s.push(x);
      all.push(x);
    };
    for (let i = 0; i < 1000; i++) push((i * 7919) % 1000);
    expect(s.quantiles()).toEqual(quantilesOf(Float64Array.from(all)));
    expect(s.cdf()).toEqual(cdfOf(Float64Array.from(all)));
    expect(s.quantiles()).toMatchObject({ count: 1000, p50: 499, p90: 899, p99: 989, max: 999 });
    // Values pushed after a sort (smaller than any before) are counted in the next figures.
    for (let i = 0; i < 1000; i++) push(-1 - i);
    expect(s.quantiles()).toEqual(quantilesOf(Float64Array.from(all)));
    expect(s.quantiles()).toMatchObject({ count: 2000, p50: -1, max: 999 });
    expect(s.cdf()).toHaveLength(CDF_PERCENTILES.length);
    expect(s.cdf()[0]).toBe(-1000);
  });
});
