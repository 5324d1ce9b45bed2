// One scenario as the engine runs it: its stored row and spec, its phase, and each VM's state
// with the counts kept in step. The plan and the per-VM states are loaded only while it runs.
import { setMaxListeners } from 'node:events';
import { Plan } from '../plan/index.js';
import type { Report } from '../report/report.js';
import type { LiveResults } from './live-results.js';
import type { ControlPlaneObject } from '../report/run-summary.js';
import type { Scenario } from '../scenario/index.js';
import type { Store, StoredScenario } from '../store/store.js';

export type Phase = 'pending' | 'network' | 'creating' | 'testing' | 'ready' | 'failed' | 'deleting' | 'deleted';

export const FINAL: ReadonlySet<Phase> = new Set(['ready', 'failed', 'deleted']);

export interface VmCounts {
  requested: number;
  ready: number;
  failed: number;
  pending: number;
  deleted: number;
  waiting: number;
}

/** What the store keeps of a scenario: enough to plan it again, exactly. */
export interface StoredSpec {
  readonly scenario: Scenario;
  readonly hosts: readonly string[];
  readonly acceptedAt: number;
  readonly tag: string;
  readonly counts?: VmCounts;
}

// A VM's state in memory, one byte each.
export const PENDING = 0;
export const READY = 1;
export const FAILED = 2;
export const WAITING = 3;
export const DELETED = 4;

export const totalOf = (s: Scenario): number => s.vpcs.reduce((n, v) => n + v.subnets.reduce((m, x) => m + x.vms, 0), 0);
export const emptyCounts = (requested: number): VmCounts => ({ requested, ready: 0, failed: 0, pending: requested, deleted: 0, waiting: 0 });

/** Adds `d` (1 or -1) to the count of VMs in `state`: the one place the states map to counts. */
function tally(c: VmCounts, state: number, d: 1 | -1): void {
  if (state === READY) c.ready += d;
  else if (state === FAILED) c.failed += d;
  else if (state === DELETED) c.deleted += d;
  else {
    c.pending += d;
    if (state === WAITING) c.waiting += d;
  }
}

function countStates(states: Uint8Array): VmCounts {
  const c = emptyCounts(states.length);
  c.pending = 0;
  for (const s of states) tally(c, s, 1);
  return c;
}

export class Run {
  phase: Phase;
  error: string;
  updatedAt: number;
  report: Report | undefined;
  /** What a failed network set-up had made and then removed (its report lists it). */
  rolledBack: ControlPlaneObject[] | undefined;
  counts: VmCounts;
  abort = new AbortController();
  task: Promise<void> = Promise.resolve();
  readonly lostHosts = new Set<string>();
  /** Started by a coordinator other than this one (resumed): what it sent may exist already. */
  resumed = false;
  /**
   * Each VM's latest result as it arrived, for the report (made by fanOutCreates, which says when
   * the store's rows must be read instead).
   */
  live: LiveResults | undefined;
  /** Timeline entries written by this process (bounded: a flapping agent must not fill the store). */
  events = 0;
  private loaded: { plan: Plan; states: Uint8Array } | undefined;
  /** Kept after the plan is released: the overlay needs it while the VMs exist. */
  private vnis: Map<string, Set<number>> | undefined;

  constructor(readonly row: StoredScenario, readonly spec: StoredSpec, private readonly store: Store) {
    this.phase = row.phase as Phase;
    this.error = row.error;
    this.updatedAt = row.updatedAt;
    this.report = row.reportJson ? (JSON.parse(row.reportJson) as Report) : undefined;
    this.counts = spec.counts ?? emptyCounts(totalOf(spec.scenario));
    setMaxListeners(0, this.abort.signal);
  }

  get id(): string {
    return this.row.id;
  }

  get plan(): Plan {
    return this.load().plan;
  }

  get states(): Uint8Array {
    return this.load().states;
  }

  /** The plan again, and every VM's state from its stored result. */
  private load(): { plan: Plan; states: Uint8Array } {
    if (this.loaded) return this.loaded;
    const plan = new Plan(this.spec.scenario, this.spec.hosts, this.spec.tag);
    const states = new Uint8Array(plan.total);
    for (const [i, code] of this.store.resultPhases(this.row.seq)) states[i] = code === 1 ? READY : FAILED;
    if (this.phase === 'deleted') states.fill(DELETED);
    this.loaded = { plan, states };
    this.counts = countStates(states);
    return this.loaded;
  }

  /** A plan made before the run started (to validate the scenario): no result exists yet. */
  adopt(plan: Plan): void {
    this.loaded = { plan, states: new Uint8Array(plan.total) };
  }

  /** Moves VM `i` to `to`, keeping the counts right. */
  move(i: number, to: number): void {
    const states = this.states;
    const from = states[i]!;
    if (from === to) return;
    tally(this.counts, from, -1);
    tally(this.counts, to, 1);
    states[i] = to;
  }

  /** A fresh controller for the next task (a delete after an aborted create). */
  renewAbort(): void {
    this.abort = new AbortController();
    setMaxListeners(0, this.abort.signal);
  }

  vnisByHost(): Map<string, Set<number>> {
    if (!this.vnis) {
      const wasLoaded = this.loaded !== undefined;
      const plan = this.plan;
      this.vnis = new Map([...plan.vnisByHost()].map(([h, set]) => [plan.hosts[h]!, set]));
      if (!wasLoaded) this.loaded = undefined;
    }
    return this.vnis;
  }

  /** `fn` with the plan, loaded for the call only if it was not (a settled run keeps none). */
  withPlan<T>(fn: (plan: Plan) => T): T {
    const wasLoaded = this.loaded !== undefined;
    try {
      return fn(this.plan);
    } finally {
      if (!wasLoaded) this.loaded = undefined;
    }
  }

  /** Frees the plan and states of a settled run (a million VMs are ~25 MB). */
  release(): void {
    if (this.loaded) this.vnisByHost();
    this.loaded = undefined;
    this.live = undefined;
  }
}
