// A scenario's report as data: counts, per-VM end-to-end and per-step latency quantiles, creations
// per second over time, failures with reasons, ping results. Rendered by table.ts and html.ts.
// Built in one pass over the stored results, with typed arrays: a million VMs cost a few
// hundred milliseconds and tens of megabytes, once.

import type { VmResultRow } from '../store/store.js';
import type { RunSummary } from './run-summary.js';
import type { FaultOutcome } from './fault-outcome.js';

/** One VM's stored result, as the report reads it. */
export type ResultRow = VmResultRow;

export interface PingOutcome {
  readonly src: string;
  readonly dst: string;
  readonly srcHost: string;
  readonly dstHost: string;
  readonly dstIp: string;
  readonly expect: 'reach' | 'isolated';
  readonly sent: number;
  readonly received: number;
  readonly rttAvgMs: number;
  /** From the first echo sent to the first reply (a cold path: ARP and any lost echo included); 0 = none. */
  readonly firstReplyMs: number;
  readonly error: string;
}

/** One ping pair in the report's JSON: time to first reply apart from the steady RTT. */
export interface PairFigures {
  readonly src: string;
  readonly dst: string;
  readonly expect: 'reach' | 'isolated';
  readonly firstReplyMs: number;
  readonly rttAvgMs: number;
  readonly received: number;
  readonly sent: number;
}

/** Latency of calls to one control-plane endpoint (Alcor mode). */
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
}

export interface Quantiles {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface Report {
  readonly scenario: { readonly id: string; readonly name: string; readonly hosts: number; readonly provider: string; readonly acceptedAt: string };
  readonly generatedAt: string;
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
  /** Histogram of end-to-end latency: equal-width buckets over the observed range, upper bounds (ms) and counts. */
  readonly histogram: readonly { readonly leMs: number; readonly count: number }[];
  /** VMs that became ready in each second since the scenario was accepted. */
  readonly creationsPerSecond: readonly number[];
  /** The same at a resolution that suits the run's length (for the chart of a short run). */
  readonly creationTimeline: { readonly bucketMs: number; readonly counts: readonly number[] };
  readonly creationRate: { readonly mean: number; readonly peak: number };
  readonly failures: { readonly byCode: Readonly<Record<string, number>>; readonly first: readonly { vm: string; host: string; code: string; step: string; message: string }[] };
  readonly controlPlane?: { readonly endpoints: readonly EndpointLatency[] };
  /** Alcor scenarios: each ready VM's bind split into Alcor's REST work and its GoalState push and programming. */
  readonly alcor?: AlcorBindSplit;
  /** OVN scenarios: each ready VM's port from the northbound write to installed on its chassis. */
  readonly ovn?: OvnPortSplit;
  readonly ping?: {
    readonly pairsPassed: number;
    readonly pairsFailed: number;
    readonly isolationPassed: number;
    readonly isolationFailed: number;
    /** pairs whose two VMs are on different vhosts (through the overlay) */
    readonly crossHostPairs: number;
    readonly rttMs: Quantiles;
    /** Time to the first reply, per pair that got one. */
    readonly firstReplyMs: Quantiles;
    readonly failedPairs: readonly PingOutcome[];
    /** src -> dst -> received/sent, for small scenarios only. */
    readonly matrix?: Readonly<Record<string, Readonly<Record<string, string>>>>;
    /** Every pair's own figures (the first MAX_LISTED_PAIRS), for JSON readers: slow apart from broken. */
    readonly pairs: readonly PairFigures[];
    /** How many pairs `pairs` leaves out. */
    readonly pairsNotListed: number;
  };
  /** How the run went: outcome, the failed step (with the control plane's answer), timeline, what was made and is left. */
  readonly run?: RunSummary;
  /** The scenario's injected faults and what each did; absent when it has none. */
  readonly faults?: readonly FaultOutcome[];
}

/**
 * An Alcor bind, per ready VM whose agent waited for its GoalState (ms). Alcor answers the bind PUT
 * only after pushing the port's GoalState, so the PUT is: REST work and push until the GoalState
 * reaches the host, its programming there, then the answer.
 */
export interface AlcorBindSplit {
  /** Ready VMs that waited for their port's GoalState (0: the agents serve none, Alcor's data plane went unchecked). */
  readonly goalStateVms: number;
  /** The bind PUT, whole (step bind). */
  readonly bindMs: Quantiles;
  /** Bind sent -> port programmed on its host (step goalstate). */
  readonly goalStateMs: Quantiles;
  /** Bind sent -> GoalState received on the host: Alcor's REST work and its push (goalstate - goalstate-apply). */
  readonly restAndPushMs: Quantiles;
  /** GoalState received -> port programmed, on the host (step goalstate-apply). */
  readonly programmingMs: Quantiles;
  /** Port programmed -> bind answered (bind - goalstate, at least 0). */
  readonly answerMs: Quantiles;
}

/**
 * An OVN port's way, per ready VM (ms): the northbound write of its chunk, then (on the
 * coordinator's clock, from the southbound monitor) its Port_Binding bound to a chassis and up,
 * and (on its vhost) ovn-controller's flows installed for it. The ping test's first reply follows.
 */
export interface OvnPortSplit {
  /** Ready VMs whose port this coordinator wrote (VMs of a run resumed after a restart may lack it). */
  readonly vms: number;
  /** Chunk write sent -> committed (step nb-write). */
  readonly nbWriteMs: Quantiles;
  /** NB commit -> Port_Binding bound to a chassis (step bound; needs the southbound). */
  readonly boundMs: Quantiles;
  /** NB commit -> Port_Binding up (step up; needs the southbound). */
  readonly upMs: Quantiles;
  /** On the vhost: port in OVSDB -> ovn-installed (the agent's step installed). */
  readonly installedMs: Quantiles;
}

/** Steps the OVN split reads: the coordinator's (provider-ovn) and the agent's. */
export const OVN_STEPS = { nbWrite: 'nb-write', bound: 'bound', up: 'up', installed: 'installed' } as const;

/** Accumulates the OVN split from each ready VM's steps. */
class OvnSplitter {
  private readonly series = { nbWrite: new Samples(), bound: new Samples(), up: new Samples(), installed: new Samples() };

  add(steps: ReadonlyMap<string, number>): void {
    for (const [key, step] of Object.entries(OVN_STEPS) as Array<[keyof typeof OVN_STEPS, string]>) {
      const ms = steps.get(step);
      if (ms !== undefined) this.series[key].push(ms);
    }
  }

  summary(): OvnPortSplit {
    const s = this.series;
    return { vms: s.nbWrite.n, nbWriteMs: s.nbWrite.quantiles(), boundMs: s.bound.quantiles(), upMs: s.up.quantiles(), installedMs: s.installed.quantiles() };
  }
}

/** Steps the Alcor split reads (agent/vm/alcor-stages.ts names them). */
const BIND = 'bind';
const GOALSTATE = 'goalstate';
const GOALSTATE_APPLY = 'goalstate-apply';

/** Accumulates the Alcor split from each ready VM's steps. */
class AlcorSplitter {
  private readonly bind = new Samples();
  private readonly goalState = new Samples();
  private readonly restAndPush = new Samples();
  private readonly programming = new Samples();
  private readonly answer = new Samples();

  add(bindMs: number | undefined, goalStateMs: number | undefined, applyMs: number | undefined): void {
    if (bindMs === undefined || goalStateMs === undefined || applyMs === undefined) return;
    this.bind.push(bindMs);
    this.goalState.push(goalStateMs);
    this.restAndPush.push(Math.max(0, goalStateMs - applyMs));
    this.programming.push(applyMs);
    this.answer.push(Math.max(0, bindMs - goalStateMs));
  }

  summary(): AlcorBindSplit {
    return {
      goalStateVms: this.goalState.n, bindMs: this.bind.quantiles(), goalStateMs: this.goalState.quantiles(),
      restAndPushMs: this.restAndPush.quantiles(), programmingMs: this.programming.quantiles(), answerMs: this.answer.quantiles(),
    };
  }
}

/** Largest value; unlike Math.max(...v) it does not overflow the stack on large arrays. */
export function maxOf(values: Iterable<number>, empty = 0): number {
  let m = -Infinity;
  for (const v of values) if (v > m) m = v;
  return m === -Infinity ? empty : m;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Quantiles of the first `n` values (sorted in place). */
export function quantilesOf(values: Float64Array, n = values.length): Quantiles {
  if (n === 0) return { count: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const v = values.subarray(0, n).sort();
  const q = (p: number): number => v[Math.min(n - 1, Math.ceil(p * n) - 1)]!;
  return { count: n, p50: round3(q(0.5)), p90: round3(q(0.9)), p99: round3(q(0.99)), max: round3(v[n - 1]!) };
}

export function quantiles(values: readonly number[]): Quantiles {
  return quantilesOf(Float64Array.from(values));
}

/** A growable Float64Array (per-step samples: their count is not known up front). */
export class Samples {
  private data = new Float64Array(1024);
  n = 0;
  push(x: number): void {
    if (this.n === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.n++] = x;
  }
  quantiles(): Quantiles {
    return quantilesOf(this.data, this.n);
  }
}

const MAX_LISTED_FAILURES = 200;
/** Pairs listed one by one in the JSON (~100 bytes each). */
const MAX_LISTED_PAIRS = 10_000;
const HISTOGRAM_BUCKETS = 24;
const TIMELINE_BUCKETS = 40;

/** The smallest of 1, 2, 5 x 10^n at least `x` (a bucket width people read at a glance). */
function niceWidth(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  return [1, 2, 5, 10].map((m) => m * p).find((w) => w >= x)!;
}

/** VMs ready per time bucket, the bucket a nice width that gives about TIMELINE_BUCKETS of them. */
function creationTimeline(sortedReadyAt: Float64Array, n: number): { bucketMs: number; counts: number[] } {
  if (n === 0) return { bucketMs: 1000, counts: [] };
  const bucketMs = Math.max(10, niceWidth(sortedReadyAt[n - 1]! / TIMELINE_BUCKETS));
  const counts = new Array<number>(Math.floor(sortedReadyAt[n - 1]! / bucketMs) + 1).fill(0);
  for (let i = 0; i < n; i++) counts[Math.floor(sortedReadyAt[i]! / bucketMs)]!++;
  return { bucketMs, counts };
}
const MATRIX_MAX_VMS = 20;

export interface ReportInput {
  readonly scenario: Omit<Report['scenario'], 'acceptedAt'> & { readonly acceptedAtMs: number };
  /** VMs in the plan. */
  readonly total: number;
  readonly rows: Iterable<ResultRow>;
  readonly idOf: (vmIndex: number) => string;
  readonly hostOf: (vmIndex: number) => string;
  /** the VM's scheduled start, ms after acceptance */
  readonly offsetOf: (vmIndex: number) => number;
  readonly ping?: readonly PingOutcome[];
  readonly controlPlane?: readonly EndpointLatency[];
  readonly run?: RunSummary;
  readonly now?: Date;
}

export function buildReport(input: ReportInput): Report {
  const e2e = new Float64Array(input.total);
  const scheduled = new Float64Array(input.total);
  const agent = new Float64Array(input.total);
  const steps = new Map<string, Samples>();
  const byCode: Record<string, number> = {};
  const first: Report['failures']['first'][number][] = [];
  let ready = 0;
  let failed = 0;
  let lastSecond = -1;
  const perSecond: number[] = [];
  const alcor = input.scenario.provider === 'alcor' ? new AlcorSplitter() : undefined;
  const ovn = input.scenario.provider === 'ovn' ? new OvnSplitter() : undefined;
  const vmSteps = new Map<string, number>();
  for (const r of input.rows) {
    vmSteps.clear();
    let bindMs: number | undefined;
    let goalStateMs: number | undefined;
    let applyMs: number | undefined;
    if (r.steps !== '') {
      for (const item of r.steps.split(';')) {
        const eq = item.indexOf('=');
        const name = item.slice(0, eq);
        const ms = Number(item.slice(eq + 1)) / 1000;
        (steps.get(name) ?? steps.set(name, new Samples()).get(name)!).push(ms);
        if (ovn) vmSteps.set(name, ms);
        if (name === BIND) bindMs = ms;
        else if (name === GOALSTATE) goalStateMs = ms;
        else if (name === GOALSTATE_APPLY) applyMs = ms;
      }
    }
    if (r.phase === 'ready') {
      alcor?.add(bindMs, goalStateMs, applyMs);
      ovn?.add(vmSteps);
      e2e[ready] = r.atMs;
      scheduled[ready] = Math.max(0, r.atMs - input.offsetOf(r.vmIndex));
      agent[ready] = r.totalMicros / 1000;
      ready++;
      const second = Math.floor(r.atMs / 1000);
      while (lastSecond < second) perSecond[++lastSecond] = 0;
      perSecond[second]!++;
    } else {
      failed++;
      byCode[r.errorCode || 'UNKNOWN'] = (byCode[r.errorCode || 'UNKNOWN'] ?? 0) + 1;
      if (first.length < MAX_LISTED_FAILURES) {
        first.push({ vm: input.idOf(r.vmIndex), host: input.hostOf(r.vmIndex), code: r.errorCode || 'UNKNOWN', step: r.errorStep, message: r.errorMessage });
      }
    }
  }
  const stepQuantiles: Record<string, Quantiles> = {};
  for (const [name, s] of steps) stepQuantiles[name] = s.quantiles();
  const endToEnd = quantilesOf(e2e, ready);
  // e2e's first `ready` entries are sorted now (quantilesOf sorted them in place): one sweep.
  const histogram: Array<{ leMs: number; count: number }> = [];
  if (ready > 0) {
    const width = niceWidth((e2e[ready - 1]! - e2e[0]!) / HISTOGRAM_BUCKETS);
    const start = Math.floor(e2e[0]! / width) * width;
    for (let i = 0; i < ready; i++) {
      const k = Math.max(0, Math.ceil((e2e[i]! - start) / width) - 1);
      while (histogram.length <= k) histogram.push({ leMs: round3(start + (histogram.length + 1) * width), count: 0 });
      histogram[k]!.count++;
    }
  }
  const timeline = creationTimeline(e2e, ready);
  const ping = input.ping ? pingSummary(input.ping) : undefined;
  return {
    scenario: { id: input.scenario.id, name: input.scenario.name, hosts: input.scenario.hosts, provider: input.scenario.provider, acceptedAt: new Date(input.scenario.acceptedAtMs).toISOString() },
    generatedAt: (input.now ?? new Date()).toISOString(),
    vms: { requested: input.total, ready, failed, pending: input.total - ready - failed },
    latencyMs: { endToEnd, sinceScheduled: quantilesOf(scheduled, ready), agent: quantilesOf(agent, ready), steps: stepQuantiles },
    histogram,
    creationsPerSecond: perSecond,
    creationTimeline: timeline,
    creationRate: { mean: perSecond.length > 0 ? Math.round((ready / perSecond.length) * 10) / 10 : 0, peak: maxOf(perSecond) },
    failures: { byCode, first },
    ...(input.controlPlane ? { controlPlane: { endpoints: input.controlPlane } } : {}),
    ...(alcor ? { alcor: alcor.summary() } : {}),
    ...(ovn ? { ovn: ovn.summary() } : {}),
    ...(ping ? { ping } : {}),
    ...(input.run ? { run: input.run } : {}),
  };
}

/** A pair passed: a reach pair got a reply; an isolated pair got none, and no error. */
export const pingPassed = (p: PingOutcome): boolean => (p.expect === 'reach' ? p.received > 0 : p.received === 0 && p.error === '');

function pingSummary(outcomes: readonly PingOutcome[]): NonNullable<Report['ping']> {
  const passed = pingPassed;
  const reach = outcomes.filter((p) => p.expect === 'reach');
  const isolated = outcomes.filter((p) => p.expect === 'isolated');
  let matrix: Record<string, Record<string, string>> | undefined;
  if (new Set(outcomes.map((p) => p.src)).size <= MATRIX_MAX_VMS) {
    matrix = {};
    for (const p of outcomes) (matrix[p.src] ??= {})[p.dst] = `${p.received}/${p.sent}`;
  }
  return {
    pairsPassed: reach.filter(passed).length,
    pairsFailed: reach.filter((p) => !passed(p)).length,
    isolationPassed: isolated.filter(passed).length,
    isolationFailed: isolated.filter((p) => !passed(p)).length,
    crossHostPairs: reach.filter((p) => p.srcHost !== p.dstHost).length,
    rttMs: quantiles(reach.filter((p) => p.received > 0).map((p) => p.rttAvgMs)),
    firstReplyMs: quantiles(reach.filter((p) => p.received > 0).map((p) => p.firstReplyMs)),
    failedPairs: outcomes.filter((p) => !passed(p)).slice(0, MAX_LISTED_FAILURES),
    ...(matrix ? { matrix } : {}),
    pairs: outcomes.slice(0, MAX_LISTED_PAIRS).map((p) => ({
      src: p.src, dst: p.dst, expect: p.expect, firstReplyMs: round3(p.firstReplyMs), rttAvgMs: round3(p.rttAvgMs), received: p.received, sent: p.sent,
    })),
    pairsNotListed: Math.max(0, outcomes.length - MAX_LISTED_PAIRS),
  };
}
