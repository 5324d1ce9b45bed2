// Runs scenarios: validate -> plan against the registered agents -> store -> control plane ->
// fan out -> test -> report. A scenario's plan is derived (same scenario, hosts and tag: same
// plan), so the store keeps only the scenario and one row per VM result. A restarted coordinator
// resumes a scenario where it stopped: VMs without a result are sent again (an agent answers a
// repeated create of the same VM with the VM it has), none is made twice. Every run ends with a
// report, a failed one too (run-report.ts): what failed, the timeline, what is left behind.
// The parts live beside this file: run state and tallies (run-state.ts), the VM fan-out
// (vm-fanout.ts), the ping test (ping-test.ts), failures (failure.ts), admission (admission.ts).
// What differs by provider is behind its ControlPlane (providers/provider.ts): the engine names none.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { errorMessage } from '@merak/common';
import type { agentV1 } from '@merak/proto';
import type { Logger } from 'pino';
import { type AgentDirectory, type AgentPort, DEFAULT_FANOUT, type FanoutConfig } from '../fanout/fanout.js';
import { type ControlPlaneFaultSink, FaultInjector, type FaultPort } from '../faults/index.js';
import type { CoordinatorMetrics } from '../metrics/coordinator-metrics.js';
import type { NeighborVm, TunnelPort } from '../tunnel-sets/tunnel-sets.js';
import { Plan } from '../plan/index.js';
import type { ControlPlane, ControlPlaneFactory, LiveScenarios, ScenarioContext } from '../providers/provider.js';
import type { AgentRegistry } from '../registry/agent-registry.js';
import { type PingOutcome, type Report, pingPassed } from '../report/report.js';
import { type SoftwareVersions, softwareVersions } from '../report/versions.js';
import { type Scenario, ScenarioValidationError, parseScenario } from '../scenario/index.js';
import type { Store } from '../store/store.js';
import { ScenarioError, selectHosts } from './admission.js';
import { describeFailure } from './failure.js';
import { liveHosts, liveNeighbors, liveVnis } from './live-scenarios.js';
import { rollBackNetwork } from './network-rollback.js';
import { runPingTest } from './ping-test.js';
import { type Outcome, assembleReport } from './run-report.js';
import { FINAL, type Phase, Run, type StoredSpec, type VmCounts } from './run-state.js';
import { type VmFanoutEnv, fanOutCreates, fanOutDeletes } from './vm-fanout.js';

export { ScenarioError } from './admission.js';
export type { Phase, VmCounts } from './run-state.js';

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
export type AgentHandle = AgentPort & TunnelPort & FaultPort & { ping(req: agentV1.PingRequest): Promise<agentV1.PingResponse> };

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
  /** The proxy between the agents and an HTTP control plane, for the control-plane faults. */
  readonly faultProxy?: ControlPlaneFaultSink;
}

/** Timeline entries one process writes per scenario at most (an agent flapping all day must not fill the store). */
const MAX_EVENTS = 1000;

export class ScenarioEngine extends EventEmitter<{ progress: [ScenarioStatus, string] }> implements LiveScenarios {
  private readonly runs = new Map<string, Run>();
  private readonly controlPlanes = new Map<string, ControlPlane>();
  private stopping = false;
  private readonly faults: FaultInjector;

  constructor(private readonly deps: EngineDeps) {
    super();
    this.setMaxListeners(0);
    this.faults = new FaultInjector({ agents: deps.agents, events: deps.registry, proxy: deps.faultProxy, logger: deps.logger });
    for (const [name, make] of Object.entries(deps.controlPlanes)) if (make) this.controlPlanes.set(name, make(this));
    for (const row of deps.store.listScenarios()) {
      const run = new Run(row, JSON.parse(row.specJson) as StoredSpec, deps.store);
      this.runs.set(row.id, run);
      // Failed before failed runs had reports (an older store): one from what the store knows.
      if (run.phase === 'failed' && !run.report) this.reportLegacyFailure(run);
    }
    deps.registry.on('lost', (a) => this.onAgentChange(a.name, false));
    deps.registry.on('connected', (a, how) => {
      this.onAgentChange(a.name, true);
      // Only a new registration may have lost its overlay: an agent that was only late holds it
      // (re-sending it then fed an overload: every late agent got its whole table again).
      if (how === 'registered') for (const cp of this.controlPlanes.values()) cp.agentConnected?.(a.name);
    });
  }

  /** Validates and plans a scenario, stores it, and starts creating it. */
  create(text: string, format?: 'yaml' | 'json'): ScenarioStatus {
    if (this.stopping) throw new ScenarioError('FAILED_PRECONDITION', 'the coordinator is shutting down');
    const parsed = parseScenario(text, format ? { format } : {});
    const live = [...this.runs.values()].filter((r) => r.phase !== 'deleted');
    const clash = live.find((r) => r.spec.scenario.name === parsed.name);
    if (clash) throw new ScenarioError('CONFLICT', `name: scenario '${parsed.name}' exists (${clash.id}, ${clash.phase}); delete it first or choose another name`);
    const provider = this.controlPlanes.get(parsed.provider);
    if (!provider) throw new ScenarioError('FAILED_PRECONDITION', `provider: this coordinator has no '${parsed.provider}' control plane configured`);
    const problems = [...(provider.check?.(parsed) ?? []), ...this.faults.check(parsed)];
    if (problems.length > 0) throw new ScenarioValidationError(problems);
    const scenario = provider.prepareScenario?.(parsed, live.filter((r) => r.spec.scenario.provider === parsed.provider).map((r) => r.spec.scenario)) ?? parsed;
    const hosts = selectHosts(scenario, this.deps.registry.connected().map((a) => a.name));
    const seq = this.deps.store.nextSeq();
    const tag = seq.toString(36);
    let plan: Plan;
    try {
      plan = new Plan(scenario, hosts, tag);
    } catch (e) {
      throw new ScenarioError('FAILED_PRECONDITION', errorMessage(e));
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

  /** Picks up scenarios a previous coordinator left unfinished. */
  resume(): void {
    for (const run of this.runs.values()) {
      run.resumed = true;
      const unfinished = run.phase === 'pending' || run.phase === 'network' || run.phase === 'creating' || run.phase === 'testing' || run.phase === 'deleting';
      if (unfinished) this.event(run, 'resumed', `a coordinator started again resumes the scenario (${run.phase})`);
      if (run.phase === 'deleting') this.startDelete(run);
      else if (unfinished) this.startCreate(run);
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
      this.finishReport(run, { outcome: run.phase === 'ready' ? 'ready' : 'failed', error: run.error, ...(run.report?.run?.failure ? { failure: run.report.run.failure } : {}) }, ping);
      run.release();
    })();
    run.task = task.catch(() => undefined);
    await task;
    return run.report!;
  }

  /** The VNIs each vhost has VMs in, over every scenario on the tunnel sets whose VMs may exist. */
  liveVnis(except?: string): Map<string, Set<number>> {
    return liveVnis(this.runs.values(), (run) => this.onTunnelSets(run), except);
  }

  liveNeighbors(hosts: ReadonlySet<string>, opts: { only?: string; except?: string }): Map<string, NeighborVm[]> {
    return liveNeighbors(this.runs.values(), (run) => this.onTunnelSets(run), hosts, opts);
  }

  liveHosts(provider: Scenario['provider'], except?: string): Set<string> {
    return liveHosts(this.runs.values(), provider, except);
  }

  /** Its VMs are on the coordinator's tunnel sets (its control plane says so). */
  private onTunnelSets(run: Run): boolean {
    return this.controlPlanes.get(run.spec.scenario.provider)?.onTunnelSets === true;
  }

  private context(run: Run): ScenarioContext {
    return { id: run.id, seq: run.row.seq, scenario: run.spec.scenario, plan: run.plan, logger: this.deps.logger, signal: run.abort.signal, resumed: run.resumed };
  }

  private startCreate(run: Run): void {
    run.task = this.runCreate(run).catch((e: unknown) => this.fail(run, e));
  }

  private startDelete(run: Run): void {
    const previous = run.task;
    run.renewAbort();
    run.task = previous.then(() => this.runDelete(run)).catch((e: unknown) => this.fail(run, e));
  }

  /** `record` false: the timeline has the change already (settle writes it before the report). */
  private setPhase(run: Run, phase: Phase, error = '', record = true): void {
    run.phase = phase;
    run.error = error;
    run.updatedAt = Date.now();
    this.deps.store.setScenarioPhase(run.id, phase, error, JSON.stringify({ ...run.spec, counts: run.counts }));
    if (record) this.event(run, phase === 'failed' ? 'failed' : 'phase', phase === 'failed' && error ? error : phase);
    this.progress(run, phase === 'failed' && error ? `failed: ${error}` : phase);
  }

  /** An entry in the run's timeline (kept in the store: a resumed run's report has the whole of it). */
  private event(run: Run, kind: string, message: string): void {
    if (run.events >= MAX_EVENTS) return;
    run.events++;
    this.deps.store.addEvent(run.row.seq, { atMs: Date.now() - run.spec.acceptedAt, kind, message });
  }

  /** The run failed on `e`: its report says where, with what the control plane answered, and what is left. */
  private fail(run: Run, e: unknown): void {
    // A run cut short by shutdown is not a failure: it resumes at the next start.
    if (this.stopping) return;
    const message = errorMessage(e);
    const failure = describeFailure(e, run.phase);
    this.deps.logger.error({ scenario: run.id, err: e, step: failure.step, call: failure.call }, 'scenario failed');
    try {
      this.settle(run, { outcome: 'failed', error: message, failure });
    } catch (reportError) {
      this.deps.logger.error({ scenario: run.id, err: reportError }, 'could not build the report of a failed scenario');
    }
  }

  private reportLegacyFailure(run: Run): void {
    try {
      this.finishReport(run, { outcome: 'failed', error: run.error, failure: { step: 'unknown (an older coordinator recorded no step)', phase: 'failed', message: run.error } });
      run.release();
    } catch (e) {
      this.deps.logger.warn({ scenario: run.id, err: e }, 'could not build the report of a scenario that failed earlier');
    }
  }

  private progress(run: Run, message: string): void {
    if (this.listenerCount('progress') === 0) return;
    this.emit('progress', this.status(run.id)!, message);
  }

  private onAgentChange(host: string, connected: boolean): void {
    for (const run of this.runs.values()) {
      if (FINAL.has(run.phase) || !run.spec.hosts.includes(host)) continue;
      if (connected && run.lostHosts.delete(host)) {
        this.event(run, 'agent-back', `agent ${host} is back`);
        this.progress(run, `agent ${host} is back`);
      }
      if (!connected && !run.lostHosts.has(host)) {
        run.lostHosts.add(host);
        this.event(run, 'agent-lost', `agent ${host} is lost`);
        this.progress(run, `agent ${host} is lost`);
      }
    }
  }

  private controlPlane(run: Run): ControlPlane {
    const cp = this.controlPlanes.get(run.spec.scenario.provider);
    if (!cp) throw new ScenarioError('FAILED_PRECONDITION', `provider: this coordinator has no '${run.spec.scenario.provider}' control plane configured`);
    return cp;
  }

  private fanoutEnv(run: Run): VmFanoutEnv {
    const directory: AgentDirectory = {
      clientFor: (host) => this.deps.agents.clientFor(host),
      waitFor: (host, timeoutMs, signal) => this.deps.registry.waitFor(host, timeoutMs, signal),
      // A stalled agent is dropped like a lost one: it is back when it registers again.
      stalled: (host, reason) => this.deps.registry.disconnect(host, reason),
    };
    return {
      store: this.deps.store, logger: this.deps.logger, metrics: this.deps.metrics, directory, config: this.deps.fanout ?? DEFAULT_FANOUT,
      progress: (message) => this.progress(run, message), event: (kind, message) => this.event(run, kind, message),
    };
  }

  private async runCreate(run: Run): Promise<void> {
    const ctx = this.context(run);
    const cp = this.controlPlane(run);
    if (run.phase !== 'testing') {
      this.setPhase(run, 'network');
      try {
        await cp.setUp(ctx);
      } catch (e) {
        // Cut short by a shutdown: the set-up resumes at the next start, nothing to take back.
        if (!run.abort.signal.aborted) await rollBackNetwork(run, ctx, cp, this.deps.store, (kind, message) => this.event(run, kind, message));
        throw e;
      }
      if (run.abort.signal.aborted) return;
      this.setPhase(run, 'creating');
      // A resumed run's faults were injected (or not) by the coordinator that started it.
      if (!run.resumed) this.faults.start({ id: run.id, scenario: ctx.scenario, hosts: run.spec.hosts, acceptedAt: run.spec.acceptedAt, readyVms: () => run.counts.ready, stopped: () => run.abort.signal.aborted || FINAL.has(run.phase), event: (k, m) => this.event(run, k, m) });
      await fanOutCreates(run, ctx, cp, this.fanoutEnv(run));
      await this.faults.settle(run.id);
      if (run.abort.signal.aborted) return;
      // Steps timed on the coordinator's side (OVN: NB write, bound, up) join the VMs' own.
      if (cp.vmSteps) this.deps.store.mergeSteps(run.row.seq, await cp.vmSteps(ctx));
      this.setPhase(run, 'testing');
    }
    const ping = run.spec.scenario.test.kind === 'ping' ? await this.runPing(run) : undefined;
    if (run.abort.signal.aborted) return;
    const c = run.counts;
    const failedOf = (expect: PingOutcome['expect']): number => (ping ?? []).filter((p) => p.expect === expect && !pingPassed(p)).length;
    const pairsFailed = failedOf('reach');
    const isolationFailed = failedOf('isolated');
    const problems = [
      c.failed > 0 ? `${c.failed} VMs failed` : '',
      c.pending > 0 ? `${c.pending} VMs have no result` : '',
      pairsFailed > 0 ? `${pairsFailed} ping pairs failed` : '',
      isolationFailed > 0 ? `${isolationFailed} isolation checks failed` : '',
    ].filter(Boolean);
    this.settle(run, { outcome: problems.length === 0 ? 'ready' : 'failed', error: problems.join(', ') }, ping);
  }

  /** The run's last phase, its report first: a watcher told the run settled finds the report there. */
  private settle(run: Run, outcome: Outcome, ping?: readonly PingOutcome[]): void {
    this.event(run, outcome.outcome === 'failed' ? 'failed' : 'phase', outcome.error || outcome.outcome);
    try {
      this.finishReport(run, outcome, ping);
    } finally {
      this.setPhase(run, outcome.outcome, outcome.error, false);
      run.release();
    }
  }

  private runPing(run: Run): Promise<PingOutcome[]> {
    return runPingTest(run, {
      store: this.deps.store, clientFor: (h) => this.deps.agents.clientFor(h), parallelism: this.deps.pingParallelism ?? 64,
      addressesFromResults: this.controlPlanes.get(run.spec.scenario.provider)?.allocatesAddresses === true,
      progress: (message) => this.progress(run, message),
    });
  }

  private finishReport(run: Run, outcome: Outcome, ping?: readonly PingOutcome[]): void {
    const cp = this.controlPlanes.get(run.spec.scenario.provider);
    const provider = run.spec.scenario.provider;
    const versions = (hosts: readonly string[]): SoftwareVersions => softwareVersions(hosts, (h) => this.deps.registry.get(h), { provider, version: cp?.version?.(run.id) ?? '' });
    assembleReport(run, { store: this.deps.store, latency: (id) => cp?.latency?.(id), faults: (plan) => this.faults.outcomes(run.id, plan, () => this.deps.store.results(run.row.seq), run.spec.acceptedAt), versions }, outcome, ping);
  }

  private async runDelete(run: Run): Promise<void> {
    const ctx = this.context(run);
    this.progress(run, 'deleting');
    const failures = await fanOutDeletes(run, this.fanoutEnv(run));
    // Stopped (the coordinator is shutting down): the delete resumes at the next start.
    if (run.abort.signal.aborted) return;
    if (failures.length > 0) throw new Error(`${failures.length} VMs could not be deleted: ${failures.slice(0, 5).join('; ')}`);
    await this.controlPlane(run).tearDown(ctx);
    run.lostHosts.clear();
    this.setPhase(run, 'deleted');
    run.release();
  }
}
