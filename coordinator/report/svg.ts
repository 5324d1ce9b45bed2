// The report's charts as inline SVG (no scripts, no fonts or styles from elsewhere): bars (with
// marked spans, the faults), stacked bars (steps over time) and CDF lines. Each chart is a
// <figure> with a <figcaption>, its <svg> carrying class="chart" so a test finds every one.
import { maxOf } from './quantiles.js';

export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Distinguishable colours, in order, for a chart's series. */
export const PALETTE = ['#3b7dd8', '#e8772e', '#3aa655', '#c8463d', '#8a5ec4', '#8c6d3f', '#d462b0', '#6f7782', '#b5b82e', '#2fb3c4'];
const colour = (i: number): string => PALETTE[i % PALETTE.length]!;

const W = 760;
const H = 240;
const PAD = 44;

const figure = (title: string, body: string, h = H): string =>
  `<figure><figcaption>${esc(title)}</figcaption><svg class="chart" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" role="img" aria-label="${esc(title)}">${body}</svg></figure>`;

const axis = (max: number, unit: string): string =>
  `<line x1="${PAD}" y1="${H - PAD}" x2="${W - PAD}" y2="${H - PAD}" stroke="#888"/><line x1="${PAD}" y1="${PAD}" x2="${PAD}" y2="${H - PAD}" stroke="#888"/><text x="4" y="${PAD - 10}" font-size="10">${esc(fmt(max))} ${esc(unit)}</text>`;

/** A number short enough for an axis label. */
export function fmt(x: number): string {
  if (x === 0) return '0';
  if (Math.abs(x) >= 100) return String(Math.round(x));
  if (Math.abs(x) >= 1) return x.toFixed(1).replace(/\.0$/, '');
  return x.toPrecision(2);
}

/** A span to mark on a time axis (ms, same origin as the bars), labelled. */
export interface Mark {
  readonly fromMs: number;
  readonly toMs: number;
  readonly label: string;
}

/** A bar chart; with `time`, bar i covers [i, i+1) x bucketMs and `marks` are drawn over it. */
export function bars(values: readonly number[], labels: readonly string[], title: string, unit: string, time?: { bucketMs: number; marks: readonly Mark[] }): string {
  const max = Math.max(1, maxOf(values));
  const bw = values.length > 0 ? (W - PAD * 2) / values.length : 0;
  const rects = values
    .map((v, i) => {
      const bh = ((H - PAD * 2) * v) / max;
      return `<rect x="${(PAD + i * bw).toFixed(1)}" y="${(H - PAD - bh).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${bh.toFixed(1)}" fill="#3b7dd8"><title>${esc(labels[i] ?? '')}: ${v}</title></rect>`;
    })
    .join('');
  const step = Math.max(1, Math.ceil(values.length / 12));
  const ticks = labels
    .map((l, i) => (i % step === 0 ? `<text x="${(PAD + i * bw + bw / 2).toFixed(1)}" y="${H - PAD + 14}" font-size="10" text-anchor="middle">${esc(l)}</text>` : ''))
    .join('');
  let marks = '';
  if (time && values.length > 0) {
    const end = values.length * time.bucketMs;
    const x = (ms: number): number => PAD + (Math.min(Math.max(ms, 0), end) / end) * (W - PAD * 2);
    marks = time.marks
      .map((m, i) => {
        const x0 = x(m.fromMs);
        const x1 = Math.max(x0 + 2, x(m.toMs));
        return `<g class="mark"><rect x="${x0.toFixed(1)}" y="${PAD}" width="${(x1 - x0).toFixed(1)}" height="${H - PAD * 2}" fill="#c8463d" fill-opacity="0.18" stroke="#c8463d"/><text x="${(x0 + 2).toFixed(1)}" y="${PAD + 12 + (i % 4) * 12}" font-size="10" fill="#a0302a">${esc(m.label)}</text><title>${esc(m.label)}</title></g>`;
      })
      .join('');
  }
  return figure(title, `${axis(max, unit)}${rects}${marks}${ticks}`);
}

/** Stacked bars: series[s][b] for bucket b, one colour per series, with a legend. */
export function stacked(series: readonly (readonly number[])[], names: readonly string[], labels: readonly string[], title: string, unit: string): string {
  const n = series[0]?.length ?? 0;
  const totals = Array.from({ length: n }, (_, b) => series.reduce((sum, s) => sum + (s[b] ?? 0), 0));
  const max = Math.max(1e-9, maxOf(totals));
  const bw = n > 0 ? (W - PAD * 2) / n : 0;
  let rects = '';
  for (let b = 0; b < n; b++) {
    let y = H - PAD;
    series.forEach((s, k) => {
      const v = s[b] ?? 0;
      if (v <= 0) return;
      const bh = ((H - PAD * 2) * v) / max;
      y -= bh;
      rects += `<rect x="${(PAD + b * bw).toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${bh.toFixed(1)}" fill="${colour(k)}"><title>${esc(labels[b] ?? '')} ${esc(names[k] ?? '')}: ${fmt(v)} ${esc(unit)}</title></rect>`;
    });
  }
  const step = Math.max(1, Math.ceil(n / 12));
  const ticks = labels.map((l, i) => (i % step === 0 ? `<text x="${(PAD + i * bw + bw / 2).toFixed(1)}" y="${H - PAD + 14}" font-size="10" text-anchor="middle">${esc(l)}</text>` : '')).join('');
  return figure(title, `${axis(max, unit)}${rects}${ticks}${legend(names, H - 8)}`);
}

function legend(names: readonly string[], y: number): string {
  let x = PAD;
  return names
    .map((name, k) => {
      const g = `<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${colour(k)}"/><text x="${x + 13}" y="${y}" font-size="10">${esc(name)}</text>`;
      x += 20 + name.length * 6;
      return g;
    })
    .join('');
}

/**
 * CDF lines: for each series, values[i] at percentiles[i]. The latency axis is logarithmic when the
 * values span more than two decades (steps of microseconds beside steps of seconds).
 */
export function cdf(series: ReadonlyArray<{ readonly name: string; readonly values: readonly number[] }>, percentiles: readonly number[], title: string, unit: string): string {
  const all = series.flatMap((s) => s.values);
  const positive = all.filter((v) => v > 0);
  const hi = Math.max(1e-6, maxOf(all));
  const lo = positive.length > 0 ? Math.min(...positive.slice(0, 10_000)) : hi / 10;
  const log = hi / lo > 100;
  const x = (v: number): number => {
    const f = log ? (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / Math.max(1e-9, Math.log10(hi) - Math.log10(lo)) : v / hi;
    return PAD + f * (W - PAD * 2);
  };
  const y = (p: number): number => H - PAD - (p / 100) * (H - PAD * 2);
  const lines = series
    .map((s, k) => {
      const pts = s.values.map((v, i) => `${x(v).toFixed(1)},${y(percentiles[i] ?? 0).toFixed(1)}`).join(' ');
      return `<polyline points="${pts}" fill="none" stroke="${colour(k)}" stroke-width="1.6"><title>${esc(s.name)}</title></polyline>`;
    })
    .join('');
  const yTicks = [0, 25, 50, 75, 90, 100].map((p) => `<text x="${PAD - 4}" y="${(y(p) + 3).toFixed(1)}" font-size="9" text-anchor="end">${p}%</text>`).join('');
  const xTicks = (log ? [lo, Math.sqrt(lo * hi), hi] : [0, hi / 2, hi]).map((v) => `<text x="${x(v).toFixed(1)}" y="${H - PAD + 14}" font-size="10" text-anchor="middle">${esc(fmt(v))}</text>`).join('');
  const axes = `<line x1="${PAD}" y1="${H - PAD}" x2="${W - PAD}" y2="${H - PAD}" stroke="#888"/><line x1="${PAD}" y1="${PAD}" x2="${PAD}" y2="${H - PAD}" stroke="#888"/><text x="${W - PAD}" y="${H - PAD + 26}" font-size="10" text-anchor="end">${esc(unit)}${log ? ' (log scale)' : ''}</text>`;
  return figure(title, `${axes}${lines}${yTicks}${xTicks}${legend(series.map((s) => s.name), H - 4)}`);
}
