// Two reports side by side (`merak compare A B`): every figure of A beside B's, the difference,
// and a verdict. B is the candidate: "worse" means B regressed against A. Rendered by
// compare-render.ts; the CLI exits non-zero when any row is worse, so it gates a CI pipeline.
//
// Noise (docs/reports.md has the figures it was set from): a latency is worse only when B exceeds
// A by more than the relative threshold AND by more than an absolute floor (ms), so
// sub-millisecond steps (a 0.3 -> 0.5 ms namespace step is +67%) do not flap. A quantile is judged
// only when both runs have at least MIN_BEYOND samples beyond it (p50: 20 samples, p90: 100, p99:
// 1,000): the p99 of 30 VMs is their slowest one, a single sample; max never is. The time to the
// first ping reply moves in steps of the echo retry (100 ms at first): its floor is at least that.
// Counts that mean broken (failed VMs, failed pairs, errors) are exact: one more is worse. Rates
// are judged by the relative threshold alone.
import type { Quantiles, Report } from './report.js';

export type Verdict = 'better' | 'worse' | 'same' | 'info' | 'few-samples' | 'only-a' | 'only-b';

/** Samples each run must have beyond a quantile for it to be judged. */
export const MIN_BEYOND = 10;
/** The ping test's first echo retry: a first reply differs by that when one echo more is lost. */
export const FIRST_REPLY_FLOOR_MS = 100;

/** How a figure is judged. */
type Kind =
  | 'latency' // ms, lower is better, threshold and floor
  | 'rate' // higher is better, relative threshold
  | 'good-count' // higher is better, exact
  | 'bad-count' // lower is better, exact
  | 'info'; // shown, never judged

export interface CompareRow {
  readonly section: string;
  readonly figure: string;
  readonly unit: string;
  readonly a: number | null;
  readonly b: number | null;
  /** b - a (null when either is missing). */
  readonly diff: number | null;
  /** The difference as % of a (null when a is 0 or missing). */
  readonly diffPct: number | null;
  readonly verdict: Verdict;
}

export interface Thresholds {
  /** Relative change (%) within which a latency or rate is the same. */
  readonly pct: number;
  /** Absolute change (ms) a latency must also exceed to count. */
  readonly floorMs: number;
}

/** The defaults, chosen from identical-seed runs on the local emulation (docs/reports.md). */
export const DEFAULT_THRESHOLDS: Thresholds = { pct: 60, floorMs: 10 };

export interface RunLabel {
  /** What the user named: a scenario id or a file. */
  readonly source: string;
  readonly id: string;
  readonly name: string;
  readonly provider: string;
  readonly generatedAt: string;
  readonly versions?: Report['versions'];
}

export interface Comparison {
  readonly a: RunLabel;
  readonly b: RunLabel;
  readonly thresholds: Thresholds;
  /** Why the two may not be comparable (different VM counts, providers); [] when none. */
  readonly caveats: readonly string[];
  readonly rows: readonly CompareRow[];
  readonly worse: number;
  readonly better: number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

function judge(kind: Kind, a: number, b: number, t: Thresholds): Verdict {
  const d = b - a;
  switch (kind) {
    case 'info':
      return 'info';
    case 'good-count':
      return d > 0 ? 'better' : d < 0 ? 'worse' : 'same';
    case 'bad-count':
      return d < 0 ? 'better' : d > 0 ? 'worse' : 'same';
    case 'rate': {
      const limit = (Math.abs(a) * t.pct) / 100;
      return d > limit ? 'better' : d < -limit ? 'worse' : 'same';
    }
    case 'latency': {
      const limit = Math.max((Math.abs(a) * t.pct) / 100, t.floorMs);
      return d > limit ? 'worse' : d < -limit ? 'better' : 'same';
    }
  }
}

class Rows {
  readonly rows: CompareRow[] = [];
  constructor(private readonly t: Thresholds) {}

  add(section: string, figure: string, unit: string, kind: Kind, a: number | undefined, b: number | undefined, t = this.t, judged = true): void {
    if (a === undefined && b === undefined) return;
    const both = a !== undefined && b !== undefined;
    const verdict: Verdict = !both ? (a === undefined ? 'only-b' : 'only-a') : judged ? judge(kind, a, b, t) : 'few-samples';
    const diff = both ? round3(b - a) : null;
    this.rows.push({ section, figure, unit, a: a ?? null, b: b ?? null, diff, diffPct: both && a !== 0 ? round3(((b - a) / Math.abs(a)) * 100) : null, verdict });
  }

  /** p50, p90, p99 judged as latencies, count and max shown. */
  quantiles(section: string, figure: string, a: Quantiles | undefined, b: Quantiles | undefined, minFloorMs = 0): void {
    // A figure neither run measured (no samples) is not worth a row.
    if ((a?.count ?? 0) === 0 && (b?.count ?? 0) === 0) return;
    const get = (q: Quantiles | undefined, k: keyof Quantiles): number | undefined => (q && q.count > 0 ? q[k] : undefined);
    this.add(section, `${figure} count`, '', 'info', a?.count, b?.count);
    const t = { ...this.t, floorMs: Math.max(this.t.floorMs, minFloorMs) };
    const fewest = Math.min(a?.count ?? 0, b?.count ?? 0);
    for (const [k, p] of [['p50', 0.5], ['p90', 0.9], ['p99', 0.99]] as const) {
      this.add(section, `${figure} ${k}`, 'ms', 'latency', get(a, k), get(b, k), t, fewest * (1 - p) >= MIN_BEYOND - 1e-9);
    }
    this.add(section, `${figure} max`, 'ms', 'info', get(a, 'max'), get(b, 'max'));
  }
}

/** Keys of both records, in A's order, then B's new ones. */
const keysOf = <T>(a: Readonly<Record<string, T>> | undefined, b: Readonly<Record<string, T>> | undefined): string[] => [...new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])];

export function compareReports(a: Report, b: Report, labels: { a: string; b: string }, t: Thresholds = DEFAULT_THRESHOLDS): Comparison {
  const r = new Rows(t);
  r.add('VMs', 'requested', '', 'info', a.vms.requested, b.vms.requested);
  r.add('VMs', 'ready', '', 'good-count', a.vms.ready, b.vms.ready);
  r.add('VMs', 'failed', '', 'bad-count', a.vms.failed, b.vms.failed);
  r.add('VMs', 'without a result', '', 'bad-count', a.vms.pending, b.vms.pending);
  for (const code of keysOf(a.failures.byCode, b.failures.byCode)) r.add('VMs', `failed ${code}`, '', 'bad-count', a.failures.byCode[code] ?? 0, b.failures.byCode[code] ?? 0);

  r.add('rates', 'creations per second, mean', '/s', 'rate', a.creationRate.mean, b.creationRate.mean);
  r.add('rates', 'creations per second, peak', '/s', 'rate', a.creationRate.peak, b.creationRate.peak);
  r.add('rates', 'span (first start -> last ready)', 'ms', 'info', a.creationRate.spanMs, b.creationRate.spanMs);

  const la = a.latencyMs;
  const lb = b.latencyMs;
  r.quantiles('latency', 'end to end', la.endToEnd, lb.endToEnd);
  r.quantiles('latency', 'since scheduled start', la.sinceScheduled, lb.sinceScheduled);
  r.quantiles('latency', 'agent, whole VM', la.agent, lb.agent);
  for (const step of keysOf(la.steps, lb.steps)) r.quantiles('steps', step, la.steps[step], lb.steps[step]);

  if (a.alcor || b.alcor) {
    for (const k of ['bindMs', 'goalStateMs', 'restAndPushMs', 'programmingMs', 'answerMs'] as const) r.quantiles('Alcor bind', k.replace(/Ms$/, ''), a.alcor?.[k], b.alcor?.[k]);
  }
  if (a.ovn || b.ovn) {
    for (const k of ['nbWriteMs', 'boundMs', 'upMs', 'installedMs'] as const) r.quantiles('OVN port', k.replace(/Ms$/, ''), a.ovn?.[k], b.ovn?.[k]);
  }

  const ea = new Map((a.controlPlane?.endpoints ?? []).map((e) => [e.endpoint, e]));
  const eb = new Map((b.controlPlane?.endpoints ?? []).map((e) => [e.endpoint, e]));
  for (const name of new Set([...ea.keys(), ...eb.keys()])) {
    const x = ea.get(name);
    const y = eb.get(name);
    r.add('control plane', `${name} errors`, '', 'bad-count', x?.errors, y?.errors);
    r.add('control plane', `${name} retries`, '', 'bad-count', x?.retries, y?.retries);
    r.quantiles('control plane', name, x, y);
  }

  if (a.ping || b.ping) {
    const pa = a.ping;
    const pb = b.ping;
    r.add('ping', 'pairs passed', '', 'good-count', pa?.pairsPassed, pb?.pairsPassed);
    r.add('ping', 'pairs failed', '', 'bad-count', pa?.pairsFailed, pb?.pairsFailed);
    r.add('ping', 'isolation held', '', 'good-count', pa?.isolationPassed, pb?.isolationPassed);
    r.add('ping', 'isolation broken', '', 'bad-count', pa?.isolationFailed, pb?.isolationFailed);
    r.quantiles('ping', 'first reply', pa?.firstReplyMs, pb?.firstReplyMs, FIRST_REPLY_FLOOR_MS);
    r.quantiles('ping', 'rtt', pa?.rttMs, pb?.rttMs);
  }

  const caveats: string[] = [];
  if (a.vms.requested !== b.vms.requested) caveats.push(`the runs asked for different numbers of VMs (${a.vms.requested} and ${b.vms.requested})`);
  if (a.scenario.provider !== b.scenario.provider) caveats.push(`the runs have different control planes (${a.scenario.provider} and ${b.scenario.provider})`);
  if (a.scenario.hosts !== b.scenario.hosts) caveats.push(`the runs used different numbers of vhosts (${a.scenario.hosts} and ${b.scenario.hosts})`);
  const label = (x: Report, source: string): RunLabel => ({
    source, id: x.scenario.id, name: x.scenario.name, provider: x.scenario.provider, generatedAt: x.generatedAt, ...(x.versions ? { versions: x.versions } : {}),
  });
  return {
    a: label(a, labels.a), b: label(b, labels.b), thresholds: t, caveats, rows: r.rows,
    worse: r.rows.filter((x) => x.verdict === 'worse').length, better: r.rows.filter((x) => x.verdict === 'better').length,
  };
}
