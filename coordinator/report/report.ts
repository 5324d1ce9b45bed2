// A scenario's report as data (v2): counts, per-VM end-to-end and per-step latency quantiles and
// CDFs, the steps over time, the creation rate over the run's real span, per-vhost figures,
// failures grouped by reason, ping results, the scenario and the software that ran it. Rendered by
// table.ts and html.ts. Built in one pass over the stored results, with typed arrays: a million
// VMs cost a few hundred milliseconds and tens of megabytes, once.

import type { VmResultRow } from '../store/store.js';
import type { RunSummary } from './run-summary.js';
import type { FaultOutcome } from './fault-outcome.js';
import { type CreationRate, type FailureReason, MAX_LISTED_VHOSTS, FailureReasons, PerVhost, type StepTimeline, StepTimelineAcc, type VhostFigures, creationRate } from './figures.js';
import { type PingFigures, type PingOutcome, pingSummary } from './ping-figures.js';
import { type Quantiles, CDF_PERCENTILES, Samples, cdfOfSorted, niceWidth, quantilesOf, quantilesOfSorted, round3, sortFirst } from './quantiles.js';
import { type AlcorBindSplit, AlcorSplitter, BIND, GOALSTATE, GOALSTATE_APPLY, type OvnPortSplit, OvnSplitter } from './splits.js';
import type { SoftwareVersions } from './versions.js';

export type { Quantiles } from './quantiles.js';
export { maxOf, quantiles, quantilesOf, Samples } from './quantiles.js';
export type { PairFigures, PingFigures, PingOutcome } from './ping-figures.js';
export { pingPassed } from './ping-figures.js';
export type { AlcorBindSplit, OvnPortSplit } from './splits.js';
export { OVN_STEPS } from './splits.js';

/** One VM's stored result. */
export type ResultRow = VmResultRow;

/** A VM's steps in the order they ran: the first `count` names and their microseconds. */
export interface StepTimes {
  readonly names: readonly string[];
  readonly micros: readonly number[];
  readonly count: number;
}

/** One VM's result as the report reads it: its steps as stored ("name=micros;…") or as they came. */
export interface ReportRow extends Omit<VmResultRow, 'steps' | 'ip'> {
  readonly steps: string | StepTimes;
}

/** Calls to a control-plane endpoint that failed for one reason (status and message, what varies per call masked). */
export interface ErrorReason {
  readonly reason: string;
  readonly count: number;
}

/** Latency of calls to one control-plane endpoint (Alcor and OVN modes). */
export interface EndpointLatency {
  readonly endpoint: string;
  readonly count: number;
  readonly errors: number;
  /** Calls that repeated a failed attempt (counted in `count` too); absent where not tracked. */
  readonly retries?: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  /** The errors grouped by reason, the most frequent first; absent where not tracked. */
  readonly errorReasons?: readonly ErrorReason[];
}

/** The report format's version: 2 adds rates over the real span, vhosts, step timeline and CDFs, reasons, versions. */
export const REPORT_VERSION = 2;

export interface Report {
  /** Absent in reports before v2. */
  readonly reportVersion?: number;
  readonly scenario: {
    readonly id: string; readonly name: string; readonly hosts: number; readonly provider: string; readonly acceptedAt: string;
    /** The scenario as it ran (parsed, defaults filled in); absent before v2. */
    readonly spec?: unknown;
  };
  readonly generatedAt: string;
  /** The software that produced it; absent before v2 or when not known. */
  readonly versions?: SoftwareVersions;
  readonly vms: { readonly requested: number; readonly ready: number; readonly failed: number; readonly pending: number };
  readonly latencyMs: {
    /** scenario accepted -> VM ready */
    readonly endToEnd: Quantiles;
    /** the VM's scheduled start -> VM ready (what the schedule's pacing does not explain) */
    readonly sinceScheduled: Quantiles;
    /** the agent's own time for the VM */
    readonly agent: Quantiles;
    readonly steps: Readonly<Record<string, Quantiles>>;
  };
  /** Each step's and end to end's values at CDF_PERCENTILES (absent before v2). */
  readonly cdf?: { readonly percentiles: readonly number[]; readonly endToEnd: readonly number[]; readonly steps: Readonly<Record<string, readonly number[]>> };
  /** Each step's mean per bucket of ready time (absent before v2). */
  readonly stepTimeline?: StepTimeline;
  /** Histogram of end-to-end latency: equal-width buckets over the observed range, upper bounds (ms) and counts. */
  readonly histogram: readonly { readonly leMs: number; readonly count: number }[];
  /** VMs that became ready in each second since the scenario was accepted. */
  readonly creationsPerSecond: readonly number[];
  /** The same at a resolution that suits the run's length (for the chart of a short run). */
  readonly creationTimeline: { readonly bucketMs: number; readonly counts: readonly number[] };
  /** v2: over the real span (spanMs, peakWindowMs present); before, per whole second since acceptance. */
  readonly creationRate: { readonly mean: number; readonly peak: number } & Partial<Pick<CreationRate, 'spanMs' | 'peakWindowMs'>>;
  /** Per vhost, the slowest first (the first MAX_LISTED_VHOSTS); absent before v2. */
  readonly vhosts?: readonly VhostFigures[];
  readonly vhostsNotListed?: number;
  readonly failures: {
    readonly byCode: Readonly<Record<string, number>>;
    /** Grouped by code, step and reason (absent before v2). */
    readonly byReason?: readonly FailureReason[];
    readonly first: readonly { vm: string; host: string; code: string; step: string; message: string }[];
  };
  readonly controlPlane?: { readonly endpoints: readonly EndpointLatency[] };
  /** Alcor scenarios: each ready VM's bind split into Alcor's REST work and its GoalState push and programming. */
  readonly alcor?: AlcorBindSplit;
  /** OVN scenarios: each ready VM's port from the northbound write to installed on its chassis. */
  readonly ovn?: OvnPortSplit;
  readonly ping?: PingFigures;
  /** How the run went: outcome, the failed step (with the control plane's answer), timeline, what was made and is left. */
  readonly run?: RunSummary;
  /** The scenario's injected faults and what each did; absent when it has none. */
  readonly faults?: readonly FaultOutcome[];
}

const MAX_LISTED_FAILURES = 200;
const HISTOGRAM_BUCKETS = 24;
const TIMELINE_BUCKETS = 40;

/** VMs ready per time bucket, the bucket a nice width that gives about TIMELINE_BUCKETS of them. */
function creationTimeline(sortedReadyAt: Float64Array, n: number): { bucketMs: number; counts: number[] } {
  if (n === 0) return { bucketMs: 1000, counts: [] };
  const bucketMs = Math.max(10, niceWidth(sortedReadyAt[n - 1]! / TIMELINE_BUCKETS));
  const counts = new Array<number>(Math.floor(sortedReadyAt[n - 1]! / bucketMs) + 1).fill(0);
  for (let i = 0; i < n; i++) counts[Math.floor(sortedReadyAt[i]! / bucketMs)]!++;
  return { bucketMs, counts };
}

/** Equal-width buckets over the observed range of `sorted` (its first n values). */
function histogramOf(sorted: Float64Array, n: number): Array<{ leMs: number; count: number }> {
  const histogram: Array<{ leMs: number; count: number }> = [];
  if (n === 0) return histogram;
  const width = niceWidth((sorted[n - 1]! - sorted[0]!) / HISTOGRAM_BUCKETS);
  const start = Math.floor(sorted[0]! / width) * width;
  for (let i = 0; i < n; i++) {
    const k = Math.max(0, Math.ceil((sorted[i]! - start) / width) - 1);
    while (histogram.length <= k) histogram.push({ leMs: round3(start + (histogram.length + 1) * width), count: 0 });
    histogram[k]!.count++;
  }
  return histogram;
}

export interface ReportInput {
  readonly scenario: Omit<Report['scenario'], 'acceptedAt'> & { readonly acceptedAtMs: number };
  /** VMs in the plan. */
  readonly total: number;
  /** Each VM's latest result, in VM index order. */
  readonly rows: Iterable<ReportRow>;
  readonly idOf: (vmIndex: number) => string;
  readonly hostOf: (vmIndex: number) => string;
  /** the VM's scheduled start, ms after acceptance */
  readonly offsetOf: (vmIndex: number) => number;
  readonly ping?: readonly PingOutcome[];
  readonly controlPlane?: readonly EndpointLatency[];
  readonly run?: RunSummary;
  readonly versions?: SoftwareVersions;
  readonly now?: Date;
}

export function buildReport(input: ReportInput): Report {
  const e2e = new Float64Array(input.total);
  const scheduled = new Float64Array(input.total);
  const agent = new Float64Array(input.total);
  const steps = new Map<string, Samples>();
  const byCode: Record<string, number> = {};
  const reasons = new FailureReasons();
  const first: Report['failures']['first'][number][] = [];
  const vhosts = new PerVhost();
  const stepTimeline = new StepTimelineAcc();
  for (let i = 0; i < input.total; i++) vhosts.planned(input.hostOf(i));
  let ready = 0;
  let failed = 0;
  let lastSecond = -1;
  let firstStartMs = Infinity;
  const perSecond: number[] = [];
  const alcor = input.scenario.provider === 'alcor' ? new AlcorSplitter() : undefined;
  const ovn = input.scenario.provider === 'ovn' ? new OvnSplitter() : undefined;
  const vmSteps = new Map<string, number>();
  // The row being read (one step function for all rows, not a closure per row).
  let host = '';
  let isReady = false;
  let atMs = 0;
  let bindMs: number | undefined;
  let goalStateMs: number | undefined;
  let applyMs: number | undefined;
  const step = (name: string, ms: number): void => {
    (steps.get(name) ?? steps.set(name, new Samples()).get(name)!).push(ms);
    vhosts.step(host, name, ms);
    if (isReady) stepTimeline.add(atMs, name, ms);
    if (ovn) vmSteps.set(name, ms);
    if (name === BIND) bindMs = ms;
    else if (name === GOALSTATE) goalStateMs = ms;
    else if (name === GOALSTATE_APPLY) applyMs = ms;
  };
  for (const r of input.rows) {
    vmSteps.clear();
    host = input.hostOf(r.vmIndex);
    isReady = r.phase === 'ready';
    atMs = r.atMs;
    bindMs = undefined;
    goalStateMs = undefined;
    applyMs = undefined;
    if (typeof r.steps !== 'string') {
      for (let k = 0; k < r.steps.count; k++) step(r.steps.names[k]!, r.steps.micros[k]! / 1000);
    } else if (r.steps !== '') {
      for (const item of r.steps.split(';')) {
        const eq = item.indexOf('=');
        step(item.slice(0, eq), Number(item.slice(eq + 1)) / 1000);
      }
    }
    // When its agent started on it, on the coordinator's clock (the agent's own time before the result).
    firstStartMs = Math.min(firstStartMs, Math.max(0, r.atMs - r.totalMicros / 1000));
    if (isReady) {
      alcor?.add(bindMs, goalStateMs, applyMs);
      ovn?.add(vmSteps);
      e2e[ready] = r.atMs;
      scheduled[ready] = Math.max(0, r.atMs - input.offsetOf(r.vmIndex));
      agent[ready] = r.totalMicros / 1000;
      vhosts.ready(host, scheduled[ready]!);
      ready++;
      const second = Math.floor(r.atMs / 1000);
      while (lastSecond < second) perSecond[++lastSecond] = 0;
      perSecond[second]!++;
    } else {
      failed++;
      const code = r.errorCode || 'UNKNOWN';
      byCode[code] = (byCode[code] ?? 0) + 1;
      reasons.add(code, r.errorStep, r.errorMessage);
      vhosts.failed(host);
      if (first.length < MAX_LISTED_FAILURES) first.push({ vm: input.idOf(r.vmIndex), host, code, step: r.errorStep, message: r.errorMessage });
    }
  }
  const stepQuantiles: Record<string, Quantiles> = {};
  const stepCdf: Record<string, number[]> = {};
  for (const [name, s] of steps) {
    stepQuantiles[name] = s.quantiles();
    stepCdf[name] = s.cdf();
  }
  // Sorted once, in place: the quantiles, CDF, histogram and rates below read it sorted.
  const e2eSorted = sortFirst(e2e, ready);
  const perVhost = vhosts.summary();
  const ping = input.ping ? pingSummary(input.ping) : undefined;
  return {
    reportVersion: REPORT_VERSION,
    scenario: {
      id: input.scenario.id, name: input.scenario.name, hosts: input.scenario.hosts, provider: input.scenario.provider, acceptedAt: new Date(input.scenario.acceptedAtMs).toISOString(),
      ...(input.scenario.spec !== undefined ? { spec: input.scenario.spec } : {}),
    },
    generatedAt: (input.now ?? new Date()).toISOString(),
    ...(input.versions ? { versions: input.versions } : {}),
    vms: { requested: input.total, ready, failed, pending: input.total - ready - failed },
    latencyMs: { endToEnd: quantilesOfSorted(e2eSorted), sinceScheduled: quantilesOf(scheduled, ready), agent: quantilesOf(agent, ready), steps: stepQuantiles },
    cdf: { percentiles: CDF_PERCENTILES, endToEnd: cdfOfSorted(e2eSorted), steps: stepCdf },
    stepTimeline: stepTimeline.summary(),
    histogram: histogramOf(e2e, ready),
    creationsPerSecond: perSecond,
    creationTimeline: creationTimeline(e2e, ready),
    creationRate: creationRate(e2e, ready, firstStartMs),
    vhosts: perVhost.slice(0, MAX_LISTED_VHOSTS),
    vhostsNotListed: Math.max(0, perVhost.length - MAX_LISTED_VHOSTS),
    failures: { byCode, byReason: reasons.summary(), first },
    ...(input.controlPlane ? { controlPlane: { endpoints: input.controlPlane } } : {}),
    ...(alcor ? { alcor: alcor.summary() } : {}),
    ...(ovn ? { ovn: ovn.summary() } : {}),
    ...(ping ? { ping } : {}),
    ...(input.run ? { run: input.run } : {}),
  };
}
