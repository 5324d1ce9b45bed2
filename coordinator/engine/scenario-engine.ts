// Runs scenarios: validate -> plan against the registered agents -> store -> control plane ->
// fan out -> test -> report. A scenario's plan is derived (same scenario, hosts and tag: same
// plan), so the store keeps only the scenario and one row per VM result. A restarted coordinator
// resumes a scenario where it stopped: VMs without a result are sent again (an agent answers a
// repeated create of the same VM with the VM it has), none is made twice.
import { EventEmitter, setMaxListeners } from 'node:events';
import { randomUUID } from 'node:crypto';
import { agentV1 } from '@merak/proto';
import type { Logger } from 'pino';
import { type AgentPort, DEFAULT_FANOUT, type FanoutConfig, fanOut } from '../fanout/fanout.js';
import type { CoordinatorMetrics } from '../metrics/coordinator-metrics.js';
import type { NeighborVm, TunnelPort } from '../overlay/overlay.js';
import { Plan, type PlannedVm, selectPingPairs } from '../plan/index.js';
import type { ControlPlane, ControlPlaneFactory, LiveScenarios, ScenarioContext } from '../providers/provider.js';
import type { AgentRegistry } from '../registry/agent-registry.js';
import { type PingOutcome, type Report, buildReport } from '../report/report.js';
import { type Scenario, ScenarioValidationError, parseScenario } from '../scenario/index.js';
import type { Store, StoredScenario, VmResultRow } from '../store/store.js';

export type Phase = 'pending' | 'network' | 'creating' | 'testing' | 'ready' | 'failed' | 'deleting' | 'deleted';

export interface VmCounts {
  requested: number;
  ready: number;
  failed: number;
  pending: number;
  deleted: number;
  waiting: number;
}

export interface ScenarioStatus {
  readonly id: string;
  readonly name: string;
  readonly provider: string;
  readonly phase: Phase;
  readonly error: string;
  readonly hosts: number;
  readonly lostHosts: readonly string[];
  readonly counts: VmCounts;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly report: Report | undefined;
}

/** What the engine needs of an agent: the plan fan-out, the ping test, the overlay. */
export type AgentHandle = AgentPort & TunnelPort & { ping(req: agentV1.PingRequest): Promise<agentV1.PingResponse> };

export interface EngineDeps {
  readonly store: Store;
  readonly registry: AgentRegistry;
  readonly agents: { clientFor(host: string): AgentHandle | undefined };
  /** The control plane of each provider a scenario may name. */
  readonly controlPlanes: Readonly<Partial<Record<Scenario['provider'], ControlPlaneFactory>>>;
  readonly logger: Logger;
  readonly fanout?: FanoutConfig;
  readonly metrics?: CoordinatorMetrics;
  /** Hosts pinged at once by the test. */
  readonly pingParallelism?: number;
}

/** What the store keeps of a scenario: enough to plan it again, exactly. */
interface StoredSpec {
  readonly scenario: Scenario;
  readonly hosts: readonly string[];
  readonly acceptedAt: number;
  readonly tag: string;
  readonly counts?: VmCounts;
}

export class ScenarioError extends Error {
  constructor(readonly code: 'NOT_FOUND' | 'FAILED_PRECONDITION' | 'ALREADY_EXISTS', message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

// A VM's state in memory, one byte each.
const PENDING = 0;
const READY = 1;
const FAILED = 2;
const WAITING = 3;
const DELETED = 4;

const FINAL: ReadonlySet<Phase> = new Set(['ready', 'failed', 'deleted']);
const FLUSH_MS = 200;
const FLUSH_ROWS = 5000;
const FIRST_VNI = 1001;

/** One scenario as the engine runs it. The plan and per-VM states are loaded only while it runs. */
class Run {
  phase: Phase;
  error: string;
  updatedAt: number;
  report: Report | undefined;
  counts: VmCounts;
  abort = new AbortController();
  task: Promise<void> = Promise.resolve();
  readonly lostHosts = new Set<string>();
  /** Started by a coordinator other than this one (resumed): what it sent may exist already. */
  resumed = false;
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
  }
}

const totalOf = (s: Scenario): number => s.vpcs.reduce((n, v) => n + v.subnets.reduce((m, x) => m + x.vms, 0), 0);
const emptyCounts = (requested: number): VmCounts => ({ requested, ready: 0, failed: 0, pending: requested, deleted: 0, waiting: 0 });

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

export class ScenarioEngine extends EventEmitter<{ progress: [ScenarioStatus, string] }> implements LiveScenarios {
  private readonly runs = new Map<string, Run>();
  private readonly controlPlanes = new Map<string, ControlPlane>();
  private stopping = false;

  constructor(private readonly deps: EngineDeps) {
    super();
    this.setMaxListeners(0);
    for (const [name, make] of Object.entries(deps.controlPlanes)) if (make) this.controlPlanes.set(name, make(this));
    for (const row of deps.store.listScenarios()) {
      const run = new Run(row, JSON.parse(row.specJson) as StoredSpec, deps.store);
      this.runs.set(row.id, run);
    }
    deps.registry.on('lost', (a) => this.onAgentChange(a.name, false));
    deps.registry.on('connected', (a) => {
      this.onAgentChange(a.name, true);
      for (const cp of this.controlPlanes.values()) cp.agentConnected?.(a.name);
    });
  }

  /** Validates and plans a scenario, stores it, and starts creating it. */
  create(text: string, format?: 'yaml' | 'json'): ScenarioStatus {
    if (this.stopping) throw new ScenarioError('FAILED_PRECONDITION', 'the coordinator is shutting down');
    const parsed = parseScenario(text, format ? { format } : {});
    const live = [...this.runs.values()].filter((r) => r.phase !== 'deleted');
    const clash = live.find((r) => r.spec.scenario.name === parsed.name);
    if (clash) throw new ScenarioError('ALREADY_EXISTS', `name: scenario '${parsed.name}' exists (${clash.id}, ${clash.phase}); delete it first or choose another name`);
    const provider = this.controlPlanes.get(parsed.provider);
    if (!provider) throw new ScenarioError('FAILED_PRECONDITION', `provider: this coordinator has no '${parsed.provider}' control plane configured`);
    const problems = provider.check?.(parsed) ?? [];
    if (problems.length > 0) throw new ScenarioValidationError(problems);
    const scenario = parsed.provider === 'standalone' ? assignVnis(parsed, live.filter((r) => r.spec.scenario.provider === 'standalone')) : parsed;
    const hosts = this.selectHosts(scenario);
    const seq = this.deps.store.nextSeq();
    const tag = seq.toString(36);
    let plan: Plan;
    try {
      plan = new Plan(scenario, hosts, tag);
    } catch (e) {
      throw new ScenarioError('FAILED_PRECONDITION', e instanceof Error ? e.message : String(e));
    }
    const now = Date.now();
    const spec: StoredSpec = { scenario, hosts, acceptedAt: now, tag };
    const row = this.deps.store.insertScenario({ id: randomUUID(), name: scenario.name, specJson: JSON.stringify(spec), phase: 'pending', error: '', createdAt: now, updatedAt: now });
    if (row.seq !== seq) throw new Error(`store: scenario seq ${row.seq}, expected ${seq}`);
    const run = new Run(row, spec, this.deps.store);
    run.adopt(plan);
    this.runs.set(row.id, run);
    this.startCreate(run);
    return this.status(row.id)!;
  }

  private selectHosts(s: Scenario): string[] {
    const agents = this.deps.registry.connected().map((a) => a.name);
    if (s.hosts.kind === 'names') {
      const missing = s.hosts.names.filter((h) => !agents.includes(h));
      if (missing.length > 0) throw new ScenarioError('FAILED_PRECONDITION', `hosts.names: not connected: ${missing.join(', ')}`);
      return [...s.hosts.names];
    }
    if (agents.length === 0) throw new ScenarioError('FAILED_PRECONDITION', 'hosts: no agent is connected');
    if (s.hosts.kind === 'count') {
      if (agents.length < s.hosts.count) throw new ScenarioError('FAILED_PRECONDITION', `hosts.count: ${s.hosts.count} hosts wanted, ${agents.length} agents connected`);
      return agents.slice(0, s.hosts.count);
    }
    return agents;
  }

  /** Picks up scenarios a previous coordinator left unfinished. */
  resume(): void {
    for (const run of this.runs.values()) {
      run.resumed = true;
      if (run.phase === 'pending' || run.phase === 'network' || run.phase === 'creating' || run.phase === 'testing') this.startCreate(run);
      else if (run.phase === 'deleting') this.startDelete(run);
    }
  }

  status(id: string): ScenarioStatus | undefined {
    const run = this.runs.get(id);
    if (!run) return undefined;
    const s = run.spec.scenario;
    return {
      id, name: s.name, provider: s.provider, phase: run.phase, error: run.error, hosts: run.spec.hosts.length, lostHosts: [...run.lostHosts],
      counts: { ...run.counts }, createdAt: run.row.createdAt, updatedAt: run.updatedAt, report: run.report,
    };
  }

  list(): ScenarioStatus[] {
    return [...this.runs.keys()].map((id) => this.status(id)!);
  }

  /**
   * Stops every run where it is (results received so far are stored) and resolves when they have
   * stopped: the next coordinator over the same store resumes them. Nothing is marked failed.
   */
  async shutdown(): Promise<void> {
    this.stopping = true;
    for (const run of this.runs.values()) run.abort.abort();
    await Promise.all([...this.runs.values()].map((r) => r.task));
    for (const cp of this.controlPlanes.values()) cp.close?.();
  }

  /** Resolves when the scenario's current run (create or delete) finishes. */
  async settled(id: string): Promise<void> {
    await this.runs.get(id)?.task;
  }

  delete(id: string): ScenarioStatus {
    const run = this.runs.get(id);
    if (!run) throw new ScenarioError('NOT_FOUND', `no scenario ${id}`);
    if (run.phase === 'deleted' || run.phase === 'deleting') return this.status(id)!;
    run.abort.abort();
    this.setPhase(run, 'deleting');
    this.startDelete(run);
    return this.status(id)!;
  }

  /** Runs (again) the ping test of a created scenario. */
  async runTest(id: string): Promise<Report> {
    const run = this.runs.get(id);
    if (!run) throw new ScenarioError('NOT_FOUND', `no scenario ${id}`);
    await run.task;
    if (run.phase !== 'ready' && run.phase !== 'failed') throw new ScenarioError('FAILED_PRECONDITION', `scenario ${id} is ${run.phase}: nothing to test`);
    const task = (async () => {
      const ping = run.spec.scenario.test.kind === 'ping' ? await this.runPing(run) : undefined;
      this.finishReport(run, ping);
      run.release();
    })();
    run.task = task.catch(() => undefined);
    await task;
    return run.report!;
  }

  /** The VNIs each vhost has VMs in, over every standalone scenario whose VMs may exist. */
  liveVnis(except?: string): Map<string, Set<number>> {
    const out = new Map<string, Set<number>>();
    for (const run of this.runs.values()) {
      if (run.id === except || run.phase === 'deleted' || run.spec.scenario.provider !== 'standalone') continue;
      for (const [host, vnis] of run.vnisByHost()) {
        const set = out.get(host) ?? out.set(host, new Set()).get(host)!;
        for (const v of vnis) set.add(v);
      }
    }
    return out;
  }

  liveNeighbors(hosts: ReadonlySet<string>, opts: { only?: string; except?: string }): Map<string, NeighborVm[]> {
    const out = new Map<string, NeighborVm[]>();
    for (const run of this.runs.values()) {
      if (opts.only !== undefined && run.id !== opts.only) continue;
      if (run.id === opts.except || run.phase === 'deleted' || run.spec.scenario.provider !== 'standalone') continue;
      if (!run.spec.hosts.some((h) => hosts.has(h))) continue;
      run.withPlan((plan) => {
        // Each VM described once (plan.vm formats its addresses), grouped by VNI.
        const byVni = new Map<number, NeighborVm[]>();
        for (let i = 0; i < plan.total; i++) {
          const p = plan.vm(i);
          (byVni.get(p.vni) ?? byVni.set(p.vni, []).get(p.vni)!).push({ vni: p.vni, ip: p.ip, mac: p.mac, host: p.host });
        }
        for (const [h, vnis] of plan.vnisByHost()) {
          const host = plan.hosts[h]!;
          if (!hosts.has(host)) continue;
          const list = out.get(host) ?? out.set(host, []).get(host)!;
          for (const vni of vnis) for (const v of byVni.get(vni) ?? []) list.push(v);
        }
      });
    }
    return out;
  }

  liveHosts(provider: Scenario['provider'], except?: string): Set<string> {
    const out = new Set<string>();
    for (const run of this.runs.values()) {
      if (run.id === except || run.phase === 'deleted' || run.spec.scenario.provider !== provider) continue;
      for (const h of run.spec.hosts) out.add(h);
    }
    return out;
  }

  private context(run: Run): ScenarioContext {
    return { id: run.id, seq: run.row.seq, scenario: run.spec.scenario, plan: run.plan, logger: this.deps.logger, signal: run.abort.signal, resumed: run.resumed };
  }

  private startCreate(run: Run): void {
    run.task = this.runCreate(run).catch((e: unknown) => this.fail(run, e));
  }

  private startDelete(run: Run): void {
    const previous = run.task;
    run.abort = new AbortController();
    setMaxListeners(0, run.abort.signal);
    run.task = previous.then(() => this.runDelete(run)).catch((e: unknown) => this.fail(run, e));
  }

  private setPhase(run: Run, phase: Phase, error = ''): void {
    run.phase = phase;
    run.error = error;
    run.updatedAt = Date.now();
    this.deps.store.setScenarioPhase(run.id, phase, error, JSON.stringify({ ...run.spec, counts: run.counts }));
    this.progress(run, phase === 'failed' && error ? `failed: ${error}` : phase);
  }

  private fail(run: Run, e: unknown): void {
    // A run cut short by shutdown is not a failure: it resumes at the next start.
    if (this.stopping) return;
    const message = e instanceof Error ? e.message : String(e);
    this.deps.logger.error({ scenario: run.id, err: e }, 'scenario failed');
    this.setPhase(run, 'failed', message);
    run.release();
  }

  private progress(run: Run, message: string): void {
    if (this.listenerCount('progress') === 0) return;
    this.emit('progress', this.status(run.id)!, message);
  }

  private onAgentChange(host: string, connected: boolean): void {
    for (const run of this.runs.values()) {
      if (FINAL.has(run.phase) || !run.spec.hosts.includes(host)) continue;
      if (connected && run.lostHosts.delete(host)) this.progress(run, `agent ${host} is back`);
      if (!connected && !run.lostHosts.has(host)) {
        run.lostHosts.add(host);
        this.progress(run, `agent ${host} is lost`);
      }
    }
  }

  private controlPlane(run: Run): ControlPlane {
    const cp = this.controlPlanes.get(run.spec.scenario.provider);
    if (!cp) throw new ScenarioError('FAILED_PRECONDITION', `provider: this coordinator has no '${run.spec.scenario.provider}' control plane configured`);
    return cp;
  }

  private directory(): Parameters<typeof fanOut>[1] {
    return {
      clientFor: (host) => this.deps.agents.clientFor(host),
      waitFor: (host, timeoutMs, signal) => this.deps.registry.waitFor(host, timeoutMs, signal),
    };
  }

  private async runCreate(run: Run): Promise<void> {
    const { plan, states } = run;
    const ctx = this.context(run);
    const cp = this.controlPlane(run);
    if (run.phase !== 'testing') {
      this.setPhase(run, 'network');
      await cp.setUp(ctx);
      if (run.abort.signal.aborted) return;
      this.setPhase(run, 'creating');
      const todo = plan.byHost((i) => states[i] === PENDING || states[i] === WAITING);
      let pending: VmResultRow[] = [];
      const flush = (): void => {
        if (pending.length === 0) return;
        this.deps.store.recordResults(run.row.seq, pending);
        pending = [];
        run.updatedAt = Date.now();
        this.progress(run, 'progress');
      };
      const flusher = setInterval(flush, FLUSH_MS);
      const acceptedAt = run.spec.acceptedAt;
      const metrics = this.deps.metrics;
      try {
        await fanOut(
          [...todo].map(([h, indexes]) => ({
            host: plan.hosts[h]!,
            count: indexes.length,
            operations: (from, to) => {
              const ops: agentV1.VmOperation[] = new Array<agentV1.VmOperation>(to - from);
              for (let k = from; k < to; k++) ops[k - from] = this.createOperation(ctx, cp, plan.vm(indexes[k]!), run.resumed);
              return ops;
            },
            // The control plane's part of a chunk (OVN: its ports in the northbound database) before it goes out.
            ...(cp.prepareChunk ? {
              prepare: (from: number, to: number, attempt: number) => {
                const vms: PlannedVm[] = [];
                for (let k = from; k < to; k++) vms.push(plan.vm(indexes[k]!));
                return cp.prepareChunk!(ctx, vms, attempt);
              },
            } : {}),
          })),
          this.directory(),
          {
            onResult: (_host, r) => {
              const i = plan.indexOf(r.id);
              if (i === undefined) {
                this.deps.logger.warn({ scenario: run.id, vm: r.id }, 'a result for a VM this scenario does not have');
                return;
              }
              cp.observe?.(ctx, r);
              const ok = r.status === agentV1.VmStatus.VM_STATUS_READY;
              const before = states[i]!;
              if (before === READY && ok) return;
              this.move(run, i, ok ? READY : FAILED);
              metrics?.vmResults.inc({ status: ok ? 'ready' : 'failed' });
              let steps = '';
              for (const s of r.steps) steps += `${steps === '' ? '' : ';'}${s.step}=${s.micros}`;
              pending.push({
                vmIndex: i, phase: ok ? 'ready' : 'failed', ip: ok ? r.ip : '', atMs: Date.now() - acceptedAt, totalMicros: r.totalMicros, steps,
                errorCode: r.error?.code ?? '', errorStep: r.error?.step ?? '', errorMessage: r.error?.message ?? '',
              });
              if (pending.length >= FLUSH_ROWS) flush();
            },
            onWaiting: (host, ops) => {
              let n = 0;
              for (const op of ops) {
                const i = plan.indexOf(op.op?.value.id ?? '');
                if (i !== undefined && states[i] === PENDING) {
                  this.move(run, i, WAITING);
                  n++;
                }
              }
              run.lostHosts.add(host);
              this.deps.logger.warn({ scenario: run.id, host, vms: ops.length }, 'agent not connected: its VMs wait for it');
              if (n > 0) this.progress(run, `agent ${host} is lost: ${ops.length} VMs wait for it`);
            },
            onRetry: (host, attempt, missing, reason) => {
              metrics?.fanoutRetries.inc();
              this.deps.logger.warn({ scenario: run.id, host, attempt, missing, reason }, 'retrying an agent');
            },
          },
          acceptedAt,
          this.deps.fanout ?? DEFAULT_FANOUT,
          run.abort.signal,
        );
      } finally {
        clearInterval(flusher);
        flush();
      }
      if (run.abort.signal.aborted) return;
      // Steps timed on the coordinator's side (OVN: NB write, bound, up) join the VMs' own.
      if (cp.vmSteps) this.deps.store.mergeSteps(run.row.seq, await cp.vmSteps(ctx));
      this.setPhase(run, 'testing');
    }
    const ping = run.spec.scenario.test.kind === 'ping' ? await this.runPing(run) : undefined;
    if (run.abort.signal.aborted) return;
    this.finishReport(run, ping);
    const c = run.counts;
    const report = run.report!;
    const ok = c.failed === 0 && c.pending === 0 && (!report.ping || (report.ping.pairsFailed === 0 && report.ping.isolationFailed === 0));
    const problems = [
      c.failed > 0 ? `${c.failed} VMs failed` : '',
      c.pending > 0 ? `${c.pending} VMs have no result` : '',
      report.ping && report.ping.pairsFailed > 0 ? `${report.ping.pairsFailed} ping pairs failed` : '',
      report.ping && report.ping.isolationFailed > 0 ? `${report.ping.isolationFailed} isolation checks failed` : '',
    ].filter(Boolean);
    this.setPhase(run, ok ? 'ready' : 'failed', problems.join(', '));
    run.release();
  }

  /** Moves VM `i` to `to`, keeping the counts right. */
  private move(run: Run, i: number, to: number): void {
    const states = run.states;
    const c = run.counts;
    const from = states[i]!;
    if (from === to) return;
    tally(c, from, -1);
    tally(c, to, 1);
    states[i] = to;
  }

  private createOperation(ctx: ScenarioContext, cp: ControlPlane, vm: PlannedVm, maybeExists: boolean): agentV1.VmOperation {
    const s = ctx.scenario;
    // Every field set: ts-proto's encoder reads them all, and a literal is cheaper than fromPartial.
    const spec: agentV1.VmSpec = {
      id: vm.id, name: vm.name, ip: vm.ip, prefixLength: vm.prefixLength, gateway: vm.gateway, mac: vm.mac, mtu: s.vm.mtu,
      portKind: s.vm.portKind === 'internal' ? agentV1.PortKind.PORT_KIND_INTERNAL : agentV1.PortKind.PORT_KIND_VETH,
      portName: vm.portName, ifaceId: '', externalIds: {}, vni: 0, routes: [], alcor: undefined, ovn: undefined,
    };
    cp.decorate(ctx, vm, spec);
    return { op: { $case: 'create', value: spec }, startOffsetMs: Math.round(vm.startOffsetMs), ...(maybeExists ? { maybeExists } : {}) };
  }

  private async runPing(run: Run): Promise<PingOutcome[]> {
    const { plan, states } = run;
    const test = run.spec.scenario.test;
    if (test.kind !== 'ping') return [];
    const pairs = selectPingPairs(plan, (i) => states[i] === READY, this.realAddresses(run));
    const bySource = new Map<number, typeof pairs>();
    for (const p of pairs) (bySource.get(p.src) ?? bySource.set(p.src, []).get(p.src)!).push(p);
    const byHost = new Map<string, number[]>();
    for (const src of bySource.keys()) {
      const host = plan.hosts[plan.hostOf[src]!]!;
      (byHost.get(host) ?? byHost.set(host, []).get(host)!).push(src);
    }
    this.progress(run, `ping test: ${pairs.length} pairs from ${bySource.size} VMs on ${byHost.size} hosts`);
    const outcomes: PingOutcome[] = [];
    const hostOf = (i: number): string => plan.hosts[plan.hostOf[i]!]!;
    const hosts = [...byHost];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < hosts.length && !run.abort.signal.aborted) {
        const [host, sources] = hosts[next++]!;
        const client = this.deps.agents.clientFor(host);
        const req: agentV1.PingRequest = {
          sources: sources.map((src) => ({ vm: plan.vm(src).name, targets: bySource.get(src)!.map((p) => p.dstIp) })),
          count: test.count, intervalMs: 100, timeoutMs: test.timeoutMs, convergeMs: test.convergeMs,
        };
        const res = client ? await client.ping(req).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))) : new Error(`agent ${host} is not connected`);
        sources.forEach((src, k) => {
          const name = req.sources[k]!.vm;
          for (const p of bySource.get(src)!) {
            const r = res instanceof Error ? undefined : res.results.find((x) => x.vm === name && x.target === p.dstIp);
            outcomes.push({
              src: plan.vm(src).id, dst: plan.vm(p.dst).id, srcHost: host, dstHost: hostOf(p.dst), dstIp: p.dstIp, expect: p.expect,
              sent: r?.sent ?? 0, received: r?.received ?? 0, rttAvgMs: r?.rttAvgMs ?? 0, firstReplyMs: r?.firstReplyMs ?? 0, error: res instanceof Error ? res.message : (r?.error ?? 'no result'),
            });
          }
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.deps.pingParallelism ?? 64, hosts.length) }, worker));
    return outcomes;
  }

  /**
   * Where the control plane allocates the VMs' addresses (Alcor), the plan's are not theirs: each
   * VM's own, from its stored result. undefined = the plan's addresses are the VMs'.
   */
  private realAddresses(run: Run): ((i: number) => string | undefined) | undefined {
    if (run.spec.scenario.provider !== 'alcor') return undefined;
    const ips = new Array<string | undefined>(run.plan.total);
    for (const [i, ip] of this.deps.store.readyIps(run.row.seq)) ips[i] = ip;
    return (i) => ips[i];
  }

  private finishReport(run: Run, ping: PingOutcome[] | undefined): void {
    const plan = run.plan;
    const s = run.spec.scenario;
    const controlPlane = this.controlPlanes.get(s.provider)?.latency?.(run.id);
    const report = buildReport({
      scenario: { id: run.id, name: s.name, hosts: run.spec.hosts.length, provider: s.provider, acceptedAtMs: run.spec.acceptedAt },
      total: plan.total,
      rows: this.deps.store.results(run.row.seq),
      idOf: (i) => plan.vm(i).id,
      hostOf: (i) => plan.hosts[plan.hostOf[i]!]!,
      offsetOf: (i) => plan.offsets[i]!,
      ...(ping ? { ping } : {}),
      ...(controlPlane ? { controlPlane } : {}),
    });
    run.report = report;
    this.deps.store.setScenarioReport(run.id, JSON.stringify(report));
  }

  private async runDelete(run: Run): Promise<void> {
    const { plan } = run;
    const ctx = this.context(run);
    this.progress(run, 'deleting');
    const failures: string[] = [];
    // Every VM of the plan, made or not: an agent answers ABSENT for one it never had.
    const all = plan.byHost((i) => run.states[i] !== DELETED);
    await fanOut(
      [...all].map(([h, indexes]) => ({
        host: plan.hosts[h]!,
        count: indexes.length,
        operations: (from, to) => {
          const ops: agentV1.VmOperation[] = [];
          for (let k = from; k < to; k++) {
            const vm = plan.vm(indexes[k]!);
            ops.push({ op: { $case: 'delete', value: { id: vm.id, name: vm.name } }, startOffsetMs: 0 });
          }
          return ops;
        },
      })),
      this.directory(),
      {
        onResult: (host, r) => {
          const i = plan.indexOf(r.id);
          if (i === undefined) return;
          if (r.status === agentV1.VmStatus.VM_STATUS_DELETED || r.status === agentV1.VmStatus.VM_STATUS_ABSENT) this.move(run, i, DELETED);
          else failures.push(`${r.id} on ${host}: ${r.error?.message ?? 'not deleted'}`);
        },
        onWaiting: (host, ops) => this.progress(run, `agent ${host} is lost: ${ops.length} VMs wait for it to be deleted`),
      },
      0,
      this.deps.fanout ?? DEFAULT_FANOUT,
      run.abort.signal,
    );
    // Stopped (the coordinator is shutting down): the delete resumes at the next start.
    if (run.abort.signal.aborted) return;
    if (failures.length > 0) throw new Error(`${failures.length} VMs could not be deleted: ${failures.slice(0, 5).join('; ')}`);
    await this.controlPlane(run).tearDown(ctx);
    run.lostHosts.clear();
    this.setPhase(run, 'deleted');
    run.release();
  }
}

/**
 * Standalone VNIs: a VPC that names its VNI keeps it (and must not collide with a live
 * scenario's); the others get the lowest free ones from 1001, so two scenarios never share a
 * segment by accident.
 */
function assignVnis(s: Scenario, live: readonly Run[]): Scenario {
  const used = new Map<number, string>();
  for (const r of live) for (const v of r.spec.scenario.vpcs) used.set(v.vni, r.spec.scenario.name);
  const issues: { path: string; message: string }[] = [];
  s.vpcs.forEach((v, i) => {
    if (v.vniAuto) return;
    const owner = used.get(v.vni);
    if (owner !== undefined) issues.push({ path: `vpcs[${i}].vni`, message: `${v.vni} is used by live scenario '${owner}'` });
  });
  if (issues.length > 0) throw new ScenarioValidationError(issues);
  const mine = new Set(s.vpcs.filter((v) => !v.vniAuto).map((v) => v.vni));
  let next = FIRST_VNI;
  const vpcs = s.vpcs.map((v) => {
    if (!v.vniAuto) return v;
    while (used.has(next) || mine.has(next)) next++;
    return { ...v, vni: next++ };
  });
  return { ...s, vpcs };
}
