// Quantiles and the growable sample arrays the report is built from (typed arrays: a million VMs
// cost tens of megabytes, once).

export interface Quantiles {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Largest value; unlike Math.max(...v) it does not overflow the stack on large arrays. */
export function maxOf(values: Iterable<number>, empty = 0): number {
  let m = -Infinity;
  for (const v of values) if (v > m) m = v;
  return m === -Infinity ? empty : m;
}

export const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Nearest-rank value at `p` (0..1) of `n` sorted values. */
const rank = (v: Float64Array, n: number, p: number): number => v[Math.max(0, Math.min(n - 1, Math.ceil(p * n) - 1))]!;

/** The first `n` values, sorted in place. */
export function sortFirst(values: Float64Array, n = values.length): Float64Array {
  return values.subarray(0, n).sort();
}

/** Quantiles of values already sorted. */
export function quantilesOfSorted(v: Float64Array): Quantiles {
  const n = v.length;
  if (n === 0) return { count: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  return { count: n, p50: round3(rank(v, n, 0.5)), p90: round3(rank(v, n, 0.9)), p99: round3(rank(v, n, 0.99)), max: round3(v[n - 1]!) };
}

/** Quantiles of the first `n` values (sorted in place). */
export function quantilesOf(values: Float64Array, n = values.length): Quantiles {
  return quantilesOfSorted(sortFirst(values, n));
}

export function quantiles(values: readonly number[]): Quantiles {
  return quantilesOf(Float64Array.from(values));
}

/**
 * The percentiles a CDF is drawn at: dense at the top, where the tail is. A few dozen numbers per
 * step keep report.json small at any scale.
 */
export const CDF_PERCENTILES: readonly number[] = [0, 1, 2, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 92.5, 95, 97.5, 99, 99.5, 99.9, 100];

/** The value at each of CDF_PERCENTILES of values already sorted; [] when none. */
export function cdfOfSorted(v: Float64Array): number[] {
  const n = v.length;
  if (n === 0) return [];
  return CDF_PERCENTILES.map((p) => round3(p === 0 ? v[0]! : rank(v, n, p / 100)));
}

/** The value at each of CDF_PERCENTILES of the first `n` values (sorted in place); [] when none. */
export function cdfOf(values: Float64Array, n = values.length): number[] {
  return cdfOfSorted(sortFirst(values, n));
}

/** A growable Float64Array (per-step samples: their count is not known up front). */
export class Samples {
  private data: Float64Array;
  n = 0;
  /** `n` when the values were last sorted: a million-value series is sorted once for its quantiles and its CDF. */
  private sortedN = 0;
  /** `initial`: a small start for the many small series (per vhost). */
  constructor(initial = 1024) {
    this.data = new Float64Array(initial);
  }
  push(x: number): void {
    if (this.n === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.n++] = x;
  }
  private sorted(): Float64Array {
    if (this.sortedN !== this.n) {
      sortFirst(this.data, this.n);
      this.sortedN = this.n;
    }
    return this.data.subarray(0, this.n);
  }
  quantiles(): Quantiles {
    return quantilesOfSorted(this.sorted());
  }
  cdf(): number[] {
    return cdfOfSorted(this.sorted());
  }
}

/** The smallest of 1, 2, 5 x 10^n at least `x` (a bucket width people read at a glance). */
export function niceWidth(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  return [1, 2, 5, 10].map((m) => m * p).find((w) => w >= x)!;
}
