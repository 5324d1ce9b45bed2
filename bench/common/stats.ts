// Rounding and quantiles for the benches' figures.

export const round = (x: number, digits = 1): number => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : x);

export interface Quantiles {
  p50: number;
  p99: number;
  max: number;
  count: number;
}

/** Nearest-rank quantiles. */
export function quantiles(values: readonly number[]): Quantiles {
  if (values.length === 0) return { p50: 0, p99: 0, max: 0, count: 0 };
  const v = Float64Array.from(values).sort();
  const at = (q: number): number => v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))]!;
  return { p50: round(at(0.5)), p99: round(at(0.99)), max: round(v[v.length - 1]!), count: v.length };
}
