// Report v2's figures beside the quantiles: the creation rate over the run's real span, per-vhost
// figures, per-step latency over time and as CDFs, failures grouped by reason. Each accumulator
// takes the results in one pass, in any order, in bounded memory.
import { Samples, maxOf, niceWidth, round3 } from './quantiles.js';

/** VMs ready per second over the run's real span (see creationRate). */
export interface CreationRate {
  /** Ready VMs / span: the first VM's start (on its agent) to the last VM ready. */
  readonly mean: number;
  /** The most VMs ready within any window of peakWindowMs, per second. */
  readonly peak: number;
  readonly spanMs: number;
  readonly peakWindowMs: number;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/**
 * The rate over the span the VMs were really being made, not over whole seconds since acceptance:
 * 50 VMs made in 0.2 s are 250/s, not "50/s" as a count per started second said. The peak is
 * over a window a tenth of the span (10 ms to 1 s, never wider than the span), sliding.
 */
export function creationRate(sortedReadyAt: Float64Array, n: number, firstStartMs: number): CreationRate {
  if (n === 0) return { mean: 0, peak: 0, spanMs: 0, peakWindowMs: 0 };
  const spanMs = Math.max(1, sortedReadyAt[n - 1]! - Math.min(firstStartMs, sortedReadyAt[0]!));
  const windowMs = Math.max(1, Math.min(spanMs, Math.min(1000, Math.max(10, niceWidth(spanMs / 10)))));
  let most = 0;
  for (let lo = 0, hi = 0; hi < n; hi++) {
    while (sortedReadyAt[hi]! - sortedReadyAt[lo]! >= windowMs) lo++;
    most = Math.max(most, hi - lo + 1);
  }
  return { mean: round1((n * 1000) / spanMs), peak: round1((most * 1000) / windowMs), spanMs: round3(spanMs), peakWindowMs: windowMs };
}

/** One vhost's VMs: how many, how they ended, their latency and their slowest step. */
export interface VhostFigures {
  readonly host: string;
  /** VMs the plan put there. */
  readonly vms: number;
  readonly ready: number;
  readonly failed: number;
  /** Ready VMs' latency since their scheduled start (ms). */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The step with the highest mean on this vhost ('' when none), and that mean (ms). */
  readonly slowestStep: string;
  readonly slowestStepMeanMs: number;
}

/** Vhosts listed one by one in the JSON (the slowest first). */
export const MAX_LISTED_VHOSTS = 1000;

interface VhostAcc {
  vms: number;
  ready: number;
  failed: number;
  readonly latency: Samples;
  readonly steps: Map<string, { sum: number; n: number }>;
}

export class PerVhost {
  private readonly hosts = new Map<string, VhostAcc>();

  private acc(host: string): VhostAcc {
    let a = this.hosts.get(host);
    if (!a) this.hosts.set(host, (a = { vms: 0, ready: 0, failed: 0, latency: new Samples(8), steps: new Map() }));
    return a;
  }

  planned(host: string): void {
    this.acc(host).vms++;
  }

  step(host: string, step: string, ms: number): void {
    const steps = this.acc(host).steps;
    const s = steps.get(step);
    if (s) {
      s.sum += ms;
      s.n++;
    } else steps.set(step, { sum: ms, n: 1 });
  }

  ready(host: string, sinceScheduledMs: number): void {
    const a = this.acc(host);
    a.ready++;
    a.latency.push(sinceScheduledMs);
  }

  failed(host: string): void {
    this.acc(host).failed++;
  }

  /** Every vhost, the slowest (p99, then p50) first. */
  summary(): VhostFigures[] {
    const out: VhostFigures[] = [];
    for (const [host, a] of this.hosts) {
      const q = a.latency.quantiles();
      let slowestStep = '';
      let slowestStepMeanMs = 0;
      for (const [step, s] of a.steps) {
        const mean = s.sum / s.n;
        if (mean > slowestStepMeanMs) [slowestStep, slowestStepMeanMs] = [step, mean];
      }
      out.push({ host, vms: a.vms, ready: a.ready, failed: a.failed, p50Ms: q.p50, p99Ms: q.p99, slowestStep, slowestStepMeanMs: round3(slowestStepMeanMs) });
    }
    return out.sort((x, y) => y.p99Ms - x.p99Ms || y.p50Ms - x.p50Ms || x.host.localeCompare(y.host));
  }
}

/** Each step's mean (ms) among the VMs that became ready in each time bucket. */
export interface StepTimeline {
  readonly bucketMs: number;
  readonly steps: readonly string[];
  /** meanMs[s][b]: step steps[s], bucket b (0 where no VM of the bucket had the step). */
  readonly meanMs: readonly (readonly number[])[];
}

const TIMELINE_CAP = 4096;
const TIMELINE_TARGET = 60;

/**
 * Per step, the sum and count of its times per bucket of ready time. Buckets start at 10 ms and
 * double (pairs merged) whenever a VM lands past the last one, so memory stays bounded over any
 * run length; at the end they are merged down to about TIMELINE_TARGET buckets.
 */
export class StepTimelineAcc {
  private width = 10;
  private readonly series = new Map<string, { sum: Float64Array; n: Float64Array }>();
  private last = -1;

  add(readyAtMs: number, step: string, ms: number): void {
    let b = Math.floor(Math.max(0, readyAtMs) / this.width);
    while (b >= TIMELINE_CAP) {
      this.coarsen();
      b = Math.floor(Math.max(0, readyAtMs) / this.width);
    }
    let s = this.series.get(step);
    if (!s) this.series.set(step, (s = { sum: new Float64Array(TIMELINE_CAP), n: new Float64Array(TIMELINE_CAP) }));
    s.sum[b]! += ms;
    s.n[b]!++;
    if (b > this.last) this.last = b;
  }

  private coarsen(): void {
    for (const s of this.series.values()) {
      for (const a of [s.sum, s.n]) {
        for (let i = 0; i < TIMELINE_CAP / 2; i++) a[i] = a[2 * i]! + a[2 * i + 1]!;
        a.fill(0, TIMELINE_CAP / 2);
      }
    }
    this.width *= 2;
    this.last = Math.floor(this.last / 2);
  }

  summary(): StepTimeline {
    while (this.last + 1 > TIMELINE_TARGET) this.coarsen();
    const steps = [...this.series.keys()];
    const buckets = this.last + 1;
    const meanMs = steps.map((step) => {
      const s = this.series.get(step)!;
      return Array.from({ length: buckets }, (_, b) => (s.n[b]! > 0 ? round3(s.sum[b]! / s.n[b]!) : 0));
    });
    return { bucketMs: this.width, steps, meanMs };
  }
}

/** The largest stacked total of a timeline's buckets (the chart's scale). */
export const stackedMax = (t: StepTimeline): number =>
  maxOf(Array.from({ length: t.meanMs[0]?.length ?? 0 }, (_, b) => t.meanMs.reduce((sum, s) => sum + s[b]!, 0)));

/**
 * A message with what varies per occurrence (addresses, ids, numbers) replaced, so failures that
 * differ only in the VM or the port they hit group as one reason.
 */
export function reasonOf(message: string): string {
  return message
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<id>')
    .replace(/\b\d{1,3}(\.\d{1,3}){3}(\/\d+)?(:\d+)?\b/g, '<ip>')
    .replace(/\b([0-9a-f]{2}:){5}[0-9a-f]{2}\b/gi, '<mac>')
    .replace(/\d+(\.\d+)?/g, '#')
    .slice(0, 200);
}

/** VM failures sharing a code, a step and a reason. */
export interface FailureReason {
  readonly code: string;
  readonly step: string;
  readonly reason: string;
  readonly count: number;
  /** One whole message of the group. */
  readonly example: string;
}

/** Reasons kept apart; past this many, further ones count as one "other reasons" group. */
const MAX_REASONS = 100;
const OTHER = '\u0000other';

export class FailureReasons {
  private readonly groups = new Map<string, { code: string; step: string; reason: string; count: number; example: string }>();

  add(code: string, step: string, message: string): void {
    const reason = reasonOf(message);
    const key = `${code}\u0000${step}\u0000${reason}`;
    const g = this.groups.get(key) ?? (this.groups.size >= MAX_REASONS ? this.groups.get(OTHER) : undefined);
    if (g) g.count++;
    else if (this.groups.size < MAX_REASONS) this.groups.set(key, { code, step, reason, count: 1, example: message.slice(0, 500) });
    else this.groups.set(OTHER, { code: '', step: '', reason: 'other reasons', count: 1, example: message.slice(0, 500) });
  }

  /** The most frequent first. */
  summary(): FailureReason[] {
    return [...this.groups.values()].sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
  }
}
