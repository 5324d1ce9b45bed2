// Runs scenarios: validate -> plan against the registered agents -> store -> fan out -> test ->
// report. Every VM's state lives in the store first, so a restarted coordinator resumes a scenario
// where it stopped: VMs without a result are sent again (an agent answers a repeated create of the
// same VM with the VM it has), none is made twice.
import { EventEmitter, setMaxListeners } from 'node:events';
import { randomUUID } from 'node:crypto';
import { agentV1 } from '@merak/proto';
import type { Logger } from 'pino';
import { type AgentPort, DEFAULT_FANOUT, type FanoutConfig, fanOut } from '../fanout/fanout.js';
import { planScenario, selectPingPairs, type PlannedVm } from '../plan/index.js';
import type { AgentRegistry } from '../registry/agent-registry.js';
import { type PingOutcome, type Report, type VmOutcome, buildReport } from '../report/report.js';
import { type Scenario, parseScenario } from '../scenario/index.js';
import type { Store, VmPhase } from '../store/store.js';

export type Phase = 'pending' | 'creating' | 'testing' | 'ready' | 'failed' | 'deleting' | 'deleted';

export interface ScenarioStatus {
  readonly id: string;
  readonly name: string;
  readonly phase: Phase;
  readonly error: string;
  readonly hosts: number;
  readonly counts: { requested: number; ready: number; failed: number; pending: number; deleted: number };
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly report: Report | undefined;
}

export interface AgentPorts {
  /** A client for a registered, connected agent; undefined when it is not connected. */
  clientFor(host: string): (AgentPort & { ping(req: agentV1.PingRequest): Promise<agentV1.PingResponse> }) | undefined;
}

/** The data plane between vhosts in standalone mode (tunnels per VPC); a no-op elsewhere. */
export interface DataPlane {
  configure(scenarioId: string, vms: readonly PlannedVm[]): Promise<void>;
}

export interface EngineDeps {
  readonly store: Store;
  readonly registry: AgentRegistry;
  readonly agents: AgentPorts;
  readonly dataPlane: DataPlane;
  readonly logger: Logger;
  readonly fanout?: FanoutConfig;
}

interface StoredSpec {
  readonly scenario: Scenario;
  readonly hosts: readonly string[];
  readonly acceptedAt: number;
}

export class ScenarioError extends Error {
  constructor(readonly code: 'NOT_FOUND' | 'FAILED_PRECONDITION', message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

export class ScenarioEngine extends EventEmitter<{ progress: [ScenarioStatus, string] }> {
  private readonly running = new Map<string, Promise<void>>();
  private readonly reports = new Map<string, Report>();
  private readonly aborts = new Map<string, AbortController>();

  constructor(private readonly deps: EngineDeps) {
    super();
  }

  /** Validates and plans a scenario, stores it, and starts creating it. Throws a ScenarioError from parse on bad input. */
  create(text: string, format?: 'yaml' | 'json'): ScenarioStatus {
    const scenario = parseScenario(text, format ? { format } : {});
    const agents = this.deps.registry.connected().map((a) => a.name);
    const hosts = scenario.hosts.kind === 'names' ? [...scenario.hosts.names] : scenario.hosts.kind === 'count' ? agents.slice(0, scenario.hosts.count) : agents;
    if (scenario.hosts.kind === 'count' && hosts.length < scenario.hosts.count) {
      throw new ScenarioError('FAILED_PRECONDITION', `hosts.count: ${scenario.hosts.count} hosts wanted, ${agents.length} agents connected`);
    }
    const missing = hosts.filter((h) => !agents.includes(h));
    if (missing.length > 0) throw new ScenarioError('FAILED_PRECONDITION', `hosts.names: not connected: ${missing.join(', ')}`);
    if (hosts.length === 0) throw new ScenarioError('FAILED_PRECONDITION', 'no agent is connected');
    const plan = planScenario(scenario, hosts.map((name) => ({ name })));
    const id = randomUUID();
    const now = Date.now();
    const spec: StoredSpec = { scenario, hosts, acceptedAt: now };
    this.deps.store.insertScenario(
      { id, name: scenario.name, specJson: JSON.stringify(spec), phase: 'creating', error: '', createdAt: now, updatedAt: now, testJson: '' },
      plan.vms.map((v) => ({ scenarioId: id, vmId: v.id, host: v.host, specJson: JSON.stringify(v) })),
    );
    this.start(id);
    return this.status(id)!;
  }

  /** Picks up scenarios a previous coordinator left unfinished. */
  resume(): void {
    for (const s of this.deps.store.listScenarios()) {
      if (s.phase === 'creating' || s.phase === 'testing') this.start(s.id);
      if (s.phase === 'deleting') this.startDelete(s.id);
    }
  }

  status(id: string): ScenarioStatus | undefined {
    const s = this.deps.store.getScenario(id);
    if (!s) return undefined;
    const spec = JSON.parse(s.specJson) as StoredSpec;
    return {
      id, name: s.name, phase: s.phase as Phase, error: s.error, hosts: spec.hosts.length, counts: this.deps.store.counts(id),
      createdAt: s.createdAt, updatedAt: s.updatedAt, report: this.reports.get(id) ?? (s.testJson ? (JSON.parse(s.testJson) as Report) : undefined),
    };
  }

  list(): ScenarioStatus[] {
    return this.deps.store.listScenarios().map((s) => this.status(s.id)!);
  }

  /** Resolves when the scenario's current run (create or delete) finishes. */
  async settled(id: string): Promise<void> {
    await this.running.get(id);
  }

  delete(id: string): ScenarioStatus {
    const s = this.deps.store.getScenario(id);
    if (!s) throw new ScenarioError('NOT_FOUND', `no scenario ${id}`);
    this.aborts.get(id)?.abort();
    this.deps.store.setScenarioPhase(id, 'deleting');
    this.startDelete(id);
    return this.status(id)!;
  }

  private start(id: string): void {
    const run = this.runCreate(id).catch((e: unknown) => this.fail(id, e));
    this.running.set(id, run);
  }

  private startDelete(id: string): void {
    const previous = this.running.get(id) ?? Promise.resolve();
    const run = previous.then(() => this.runDelete(id)).catch((e: unknown) => this.fail(id, e));
    this.running.set(id, run);
  }

  private fail(id: string, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.deps.logger.error({ scenario: id, err: e }, 'scenario failed');
    this.deps.store.setScenarioPhase(id, 'failed', message);
    this.progress(id, `failed: ${message}`);
  }

  private progress(id: string, message: string): void {
    // A status costs a count over every VM of the scenario: only when someone watches.
    if (this.listenerCount('progress') === 0) return;
    const s = this.status(id);
    if (s) this.emit('progress', s, message);
  }

  /** The scenario's VMs in `phases`, by host (from `source` when given, else from the store). */
  private vmsByHost(id: string, phases: readonly VmPhase[], source?: Map<string, PlannedVm[]>): Map<string, PlannedVm[]> {
    const byHost = new Map<string, PlannedVm[]>();
    const wanted = new Set(phases);
    const phaseOf = source ? new Map(this.deps.store.vmPhases(id)) : undefined;
    const rows = source
      ? [...source.values()].flat().map((planned) => ({ host: planned.host, phase: phaseOf!.get(planned.id)!, planned }))
      : this.deps.store.vmsOf(id).map((v) => ({ host: v.host, phase: v.phase, planned: undefined as PlannedVm | undefined, specJson: v.specJson }));
    for (const row of rows) {
      if (!wanted.has(row.phase)) continue;
      const planned = row.planned ?? (JSON.parse((row as { specJson: string }).specJson) as PlannedVm);
      (byHost.get(row.host) ?? byHost.set(row.host, []).get(row.host)!).push(planned);
    }
    for (const list of byHost.values()) list.sort((a, b) => a.startOffsetMs - b.startOffsetMs);
    return byHost;
  }

  private async runCreate(id: string): Promise<void> {
    const spec = JSON.parse(this.deps.store.getScenario(id)!.specJson) as StoredSpec;
    const abort = new AbortController();
    // One listener per Apply stream in flight (hundreds at once), not a leak.
    setMaxListeners(0, abort.signal);
    this.aborts.set(id, abort);
    const byHost = this.vmsByHost(id, ['pending', 'sent', 'ready', 'failed']);
    await this.deps.dataPlane.configure(id, [...byHost.values()].flat());
    // Only VMs without a result are (re)sent; a resumed run skips what is done.
    const todo = this.vmsByHost(id, ['pending', 'sent'], byHost);
    this.progress(id, `creating ${[...todo.values()].reduce((n, l) => n + l.length, 0)} VMs on ${todo.size} hosts`);
    // The schedule is relative to when the scenario was accepted; a resumed run keeps it.
    const startAt = spec.acceptedAt;
    const pendingResults: Array<{ vmId: string; phase: VmPhase; errorCode: string; errorMessage: string; resultJson: string; at: number }> = [];
    const flush = (): void => {
      if (pendingResults.length === 0) return;
      this.deps.store.recordResults(id, pendingResults.splice(0));
      this.progress(id, 'progress');
    };
    const flusher = setInterval(flush, 200);
    try {
      await fanOut(
        [...todo].map(([host, vms]) => ({ host, operations: vms.map(toOperation) })),
        (host) => this.deps.agents.clientFor(host),
        {
          // Nothing to record per VM before sending: a resent create is a no-op on the agent.
          beforeSend: () => {},
          onResult: (_host, r) => {
            const ok = r.status === agentV1.VmStatus.VM_STATUS_READY;
            pendingResults.push({
              vmId: r.id, phase: ok ? 'ready' : 'failed', errorCode: r.error?.code ?? '', errorMessage: r.error?.message ?? '',
              resultJson: JSON.stringify({ steps: r.steps, totalMicros: r.totalMicros, ofport: r.ofport }), at: Date.now() - spec.acceptedAt,
            });
            if (pendingResults.length >= 1000) flush();
          },
          onRetry: (host, attempt, missing, reason) => this.deps.logger.warn({ scenario: id, host, attempt, missing, reason }, 'retrying an agent'),
        },
        startAt,
        this.deps.fanout ?? DEFAULT_FANOUT,
        abort.signal,
      );
    } finally {
      clearInterval(flusher);
      flush();
    }
    if (abort.signal.aborted) return;
    this.deps.store.setScenarioPhase(id, 'testing');
    this.progress(id, 'testing');
    const ping = spec.scenario.test.kind === 'ping' ? await this.runPing(id, spec) : undefined;
    const report = this.buildReport(id, spec, ping);
    this.reports.set(id, report);
    this.deps.store.setScenarioTest(id, JSON.stringify(report));
    const counts = this.deps.store.counts(id);
    const ok = counts.failed === 0 && (!report.ping || (report.ping.pairsFailed === 0 && report.ping.isolationFailed === 0));
    this.deps.store.setScenarioPhase(id, ok ? 'ready' : 'failed', ok ? '' : `${counts.failed} VMs failed${report.ping ? `, ${report.ping.pairsFailed} ping pairs and ${report.ping.isolationFailed} isolation checks failed` : ''}`);
    this.progress(id, ok ? 'ready' : 'done with failures');
  }

  /** Runs (again) the ping test of a created scenario. */
  async runTest(id: string): Promise<Report> {
    const s = this.deps.store.getScenario(id);
    if (!s) throw new ScenarioError('NOT_FOUND', `no scenario ${id}`);
    await this.running.get(id);
    const spec = JSON.parse(s.specJson) as StoredSpec;
    const report = this.buildReport(id, spec, await this.runPing(id, spec));
    this.reports.set(id, report);
    this.deps.store.setScenarioTest(id, JSON.stringify(report));
    return report;
  }

  private async runPing(id: string, spec: StoredSpec): Promise<PingOutcome[]> {
    const ready = [...this.vmsByHost(id, ['ready']).values()].flat();
    const test = spec.scenario.test;
    if (test.kind !== 'ping') return [];
    const pairs = selectPingPairs(spec.scenario, ready);
    const byId = new Map(ready.map((v) => [v.id, v]));
    const bySource = new Map<string, typeof pairs>();
    for (const p of pairs) (bySource.get(p.src) ?? bySource.set(p.src, []).get(p.src)!).push(p);
    const byHost = new Map<string, agentV1.PingSource[]>();
    for (const [src, list] of bySource) {
      const vm = byId.get(src)!;
      (byHost.get(vm.host) ?? byHost.set(vm.host, []).get(vm.host)!).push({ vm: vm.name, targets: list.map((p) => p.dstIp) });
    }
    const nameToId = new Map(ready.map((v) => [v.name, v.id]));
    const outcomes: PingOutcome[] = [];
    await Promise.all(
      [...byHost].map(async ([host, sources]) => {
        const client = this.deps.agents.clientFor(host);
        const res = client
          ? await client.ping({ sources, count: test.count, intervalMs: 100, timeoutMs: test.timeoutMs }).catch((e: unknown) => e as Error)
          : new Error(`agent ${host} is not connected`);
        for (const s of sources) {
          const srcId = nameToId.get(s.vm)!;
          for (const p of bySource.get(srcId)!) {
            const r = res instanceof Error ? undefined : res.results.find((x) => x.vm === s.vm && x.target === p.dstIp);
            outcomes.push({
              src: srcId, dst: p.dst, dstIp: p.dstIp, expect: p.expect, sent: r?.sent ?? 0, received: r?.received ?? 0, rttAvgMs: r?.rttAvgMs ?? 0,
              error: res instanceof Error ? res.message : (r?.error ?? 'no result'),
            });
          }
        }
      }),
    );
    return outcomes;
  }

  private buildReport(id: string, spec: StoredSpec, ping: PingOutcome[] | undefined): Report {
    const vms: VmOutcome[] = this.deps.store.vmsOf(id).map((v) => {
      const result = v.resultJson ? (JSON.parse(v.resultJson) as { steps: { step: string; micros: number }[] }) : { steps: [] };
      const ok = v.phase === 'ready';
      return {
        id: v.vmId, host: v.host, ok, endToEndMs: ok ? v.readyAt : undefined, readyAtMs: ok ? v.readyAt : undefined, steps: result.steps,
        ...(ok ? {} : { error: { code: v.errorCode || 'PENDING', message: v.errorMessage || 'no result', step: '' } }),
      };
    });
    return buildReport({ scenario: { id, name: spec.scenario.name, hosts: spec.hosts.length, provider: spec.scenario.provider }, vms, ...(ping ? { ping } : {}) });
  }

  private async runDelete(id: string): Promise<void> {
    const byHost = this.vmsByHost(id, ['pending', 'sent', 'ready', 'failed', 'deleting']);
    this.progress(id, 'deleting');
    const failures: string[] = [];
    await fanOut(
      [...byHost].map(([host, vms]) => ({ host, operations: vms.map((v) => ({ op: { $case: 'delete' as const, value: { id: v.id, name: v.name } }, startOffsetMs: 0 })) })),
      (host) => this.deps.agents.clientFor(host),
      {
        beforeSend: (_h, ops) => this.deps.store.setVmPhase(id, ops.map((o) => o.op!.value.id), 'deleting'),
        onResult: (host, r) => {
          if (r.status === agentV1.VmStatus.VM_STATUS_DELETED || r.status === agentV1.VmStatus.VM_STATUS_ABSENT) this.deps.store.setVmPhase(id, [r.id], 'deleted');
          else failures.push(`${r.id} on ${host}: ${r.error?.message ?? 'not deleted'}`);
        },
      },
      0,
      this.deps.fanout ?? DEFAULT_FANOUT,
    );
    if (failures.length > 0) throw new Error(`${failures.length} VMs could not be deleted: ${failures.slice(0, 5).join('; ')}`);
    this.deps.store.setScenarioPhase(id, 'deleted');
    this.progress(id, 'deleted');
  }
}

function toOperation(v: PlannedVm): agentV1.VmOperation {
  return {
    op: { $case: 'create', value: agentV1.VmSpec.fromPartial({ id: v.id, name: v.name, ip: v.ip, prefixLength: v.prefixLength, gateway: v.gateway, mac: v.mac, portName: v.portName }) },
    startOffsetMs: Math.round(v.startOffsetMs),
  };
}
