// Injects a scenario's faults while its VMs are created: triggers them (at_s after the creation
// started, or once after_ready VMs are ready), has each target's agent do a vhost fault (agent-kill,
// vhost-isolate, ovs-restart: the InjectFault call, done on the vhost, see docs/faults.md) or sets
// the control-plane proxy's rule, follows each until it is lifted or its targets are back, and
// keeps what it saw for the report (outcomes.ts). What it could not do is recorded, never thrown:
// a fault that misfires must not fail the run it is testing.
import { agentV1 } from '@merak/proto';
import { errorMessage } from '@merak/common';
import type { Logger } from 'pino';
import type { FaultOutcome } from '../report/fault-outcome.js';
import type { FaultModel, Scenario } from '../scenario/index.js';
import type { VmResultRow } from '../store/store.js';
import { type FaultRecord, type PlanView, faultOutcomes } from './outcomes.js';
import { faultTargets } from './targets.js';

/** What the injector needs of an agent. */
export interface FaultPort {
  injectFault?(req: agentV1.InjectFaultRequest): Promise<agentV1.InjectFaultResponse>;
}

/** The agent registry's events the injector follows (a killed agent is back when it registers again). */
export interface AgentEvents {
  on(event: 'connected', fn: (agent: { name: string }) => void): unknown;
  off(event: 'connected', fn: (agent: { name: string }) => void): unknown;
}

/** The control-plane proxy's side (control-plane-proxy.ts): a rule on a scenario's calls, lifted later. */
export interface ControlPlaneFaultSink {
  set(scenarioId: string, fault: number, rule: { readonly rate: number; readonly status: number; readonly delayMs: number; readonly seed: number }): void;
  /** Lifts it; how many calls it saw and how many it hit. */
  lift(scenarioId: string, fault: number): { calls: number; hit: number };
}

export interface FaultInjectorDeps {
  readonly agents: { clientFor(host: string): FaultPort | undefined };
  readonly events: AgentEvents;
  readonly proxy: ControlPlaneFaultSink | undefined;
  readonly logger: Logger;
}

/** One run's side: what it is and how it is going. */
export interface FaultRunInfo {
  readonly id: string;
  readonly scenario: Scenario;
  readonly hosts: readonly string[];
  readonly acceptedAt: number;
  readonly readyVms: () => number;
  /** The run ended or was stopped: nothing more starts. */
  readonly stopped: () => boolean;
  /** An entry in the run's timeline. */
  readonly event: (kind: string, message: string) => void;
}

const TICK_MS = 50;
/** The longest a fault is followed past its own span (a supervisor's backoff reaches 60 s). */
const FOLLOW_MS = 90_000;
/** How long a vhost fault waits for its target's agent to be connected (an earlier fault may have killed it). */
const TARGET_WAIT_MS = 30_000;

interface ActiveRun {
  readonly info: FaultRunInfo;
  readonly records: FaultRecord[];
  readonly running: Promise<void>[];
  readonly timer: NodeJS.Timeout;
  readonly creationStart: number;
}

const ACTIONS: Partial<Record<FaultModel['kind'], agentV1.FaultAction>> = {
  'agent-kill': agentV1.FaultAction.FAULT_ACTION_AGENT_KILL,
  'vhost-isolate': agentV1.FaultAction.FAULT_ACTION_UNDERLAY_DOWN,
  'ovs-restart': agentV1.FaultAction.FAULT_ACTION_OVS_RESTART,
};

export class FaultInjector {
  private readonly runs = new Map<string, ActiveRun>();
  /** Kept after a run settled, for its report (and a report asked for again). */
  private readonly done = new Map<string, FaultRecord[]>();

  constructor(private readonly deps: FaultInjectorDeps) {}

  /** What this coordinator cannot inject of a scenario's faults (control-plane faults need the proxy), each naming its field. */
  check(s: Scenario): { path: string; message: string }[] {
    if (this.deps.proxy) return [];
    return s.faults.flatMap((f, i) => (f.kind === 'control-plane-errors' || f.kind === 'control-plane-delay'
      ? [{ path: `faults[${i}].kind`, message: `${f.kind} needs the coordinator's control-plane proxy, and this coordinator runs none (--fault-proxy; local up --host-access starts it)` }]
      : []));
  }

  /** Starts following a run's faults as its VMs' creation starts (a run with none costs nothing). */
  start(info: FaultRunInfo): void {
    const faults = info.scenario.faults;
    if (faults.length === 0 || this.runs.has(info.id)) return;
    const records: FaultRecord[] = faults.map((f, index) => ({
      index, kind: f.kind, targets: faultTargets(f, index, info.hosts, info.scenario.seed), startMs: undefined, endMs: undefined, backMs: new Map(), details: [], problem: undefined,
    }));
    const run: ActiveRun = { info, records, running: [], creationStart: Date.now(), timer: setInterval(() => this.tick(run), TICK_MS) };
    this.runs.set(info.id, run);
    this.tick(run);
  }

  /** The creation is over: faults not started never will be; resolves once those started have ended (or are given up on). */
  async settle(id: string): Promise<void> {
    const run = this.runs.get(id);
    if (!run) return;
    clearInterval(run.timer);
    for (const r of run.records) if (r.startMs === undefined && r.problem === undefined) r.problem = 'not started: the VMs were all created before it was due';
    await Promise.all(run.running);
    this.runs.delete(id);
    this.done.set(id, run.records);
  }

  /** What each fault of the run did; undefined when it had none this process followed. */
  outcomes(id: string, plan: PlanView, rows: () => Iterable<VmResultRow>, acceptedAt: number): FaultOutcome[] | undefined {
    const records = this.runs.get(id)?.records ?? this.done.get(id);
    if (!records) return undefined;
    return faultOutcomes(records, plan, rows(), Date.now() - acceptedAt);
  }

  private tick(run: ActiveRun): void {
    if (run.info.stopped()) {
      clearInterval(run.timer);
      return;
    }
    const now = Date.now();
    run.info.scenario.faults.forEach((f, i) => {
      const r = run.records[i]!;
      if (r.startMs !== undefined || r.problem !== undefined) return;
      const due = f.when.kind === 'at' ? now - run.creationStart >= f.when.atMs : run.info.readyVms() >= f.when.vms;
      if (!due) return;
      r.startMs = now - run.info.acceptedAt;
      run.running.push(this.apply(run, f, r).catch((e: unknown) => {
        r.problem = `could not be applied: ${errorMessage(e)}`;
        this.deps.logger.error({ scenario: run.info.id, fault: i, err: e }, 'fault not applied');
      }));
    });
  }

  private async apply(run: ActiveRun, f: FaultModel, r: FaultRecord): Promise<void> {
    const { info } = run;
    const log = this.deps.logger.child({ scenario: info.id, fault: r.index, kind: f.kind });
    const since = (): number => Date.now() - info.acceptedAt;
    info.event('fault', `fault ${r.index} ${f.kind}${r.targets.length ? ` on ${r.targets.join(', ')}` : ''}${f.forMs ? ` for ${f.forMs / 1000} s` : ''}`);
    log.warn({ targets: r.targets }, 'fault injected');
    const action = ACTIONS[f.kind];
    if (action === undefined) {
      await this.controlPlaneFault(info, f, r);
    } else {
      // Back: a target that registers again after the fault (a killed agent; an isolated one that was lost).
      const onConnected = (a: { name: string }): void => {
        if (r.targets.includes(a.name) && !r.backMs.has(a.name)) r.backMs.set(a.name, since());
      };
      this.deps.events.on('connected', onConnected);
      try {
        // Each target on its own: one whose agent is down (an earlier fault killed it) is waited
        // for; one that fails is told, the others still count.
        const settled = await Promise.allSettled(r.targets.map((host) => this.inject(host, action, f.forMs, info)));
        const done: Array<{ host: string; at: number; answer: agentV1.InjectFaultResponse }> = [];
        const problems: string[] = [];
        settled.forEach((x, i) => (x.status === 'fulfilled' ? done.push({ host: r.targets[i]!, ...x.value }) : problems.push(errorMessage(x.reason))));
        const due = r.startMs!;
        r.details.push(...done.map((d) => d.answer.detail + (d.at - due >= 1000 ? ` (its agent answered ${((d.at - due) / 1000).toFixed(1)} s after the fault was due)` : '')));
        if (problems.length > 0) r.problem = `not applied to ${problems.length} of ${r.targets.length} targets: ${problems.join('; ')}`;
        if (done.length === 0) throw new Error(problems.join('; '));
        // It started when it first hit a target (later than due when that target's agent was waited for).
        r.startMs = Math.min(...done.map((d) => d.at));
        const hit = done.map((d) => d.host);
        if (f.kind === 'agent-kill') await this.until(() => hit.every((h) => r.backMs.has(h)), FOLLOW_MS, info);
        else if (f.kind === 'vhost-isolate') await this.until(() => false, Math.max(...done.map((d) => d.at)) + f.forMs - since(), info);
        r.endMs = f.kind === 'agent-kill' ? (hit.every((h) => r.backMs.has(h)) ? Math.max(...hit.map((h) => r.backMs.get(h)!)) : undefined)
          : f.kind === 'ovs-restart' ? (done.every((d) => d.answer.backMs > 0) ? Math.max(...done.map((d) => d.at + d.answer.backMs)) : undefined)
          : Math.max(...done.map((d) => d.at)) + f.forMs;
        if (f.kind === 'agent-kill' && r.endMs !== undefined) r.details.push(`back after ${((r.endMs - r.startMs!) / 1000).toFixed(1)} s`);
        if (r.endMs === undefined) r.details.push('its targets did not come back while the run was followed');
      } finally {
        this.deps.events.off('connected', onConnected);
      }
    }
    info.event('fault-end', `fault ${r.index} ${f.kind} ${r.endMs === undefined ? 'did not end' : 'ended'}`);
    log.warn({ endMs: r.endMs }, 'fault over');
  }

  private async controlPlaneFault(info: FaultRunInfo, f: FaultModel, r: FaultRecord): Promise<void> {
    const proxy = this.deps.proxy;
    if (!proxy) throw new Error('this coordinator runs no control-plane proxy (--fault-proxy)');
    proxy.set(info.id, r.index, { rate: f.rate, status: f.status, delayMs: f.delayMs, seed: info.scenario.seed + r.index });
    let seen = { calls: 0, hit: 0 };
    try {
      // Cut short when the run stops (a coordinator shutting down does not wait out a long fault).
      await this.until(() => false, f.forMs, info);
    } finally {
      seen = proxy.lift(info.id, r.index);
    }
    r.endMs = r.startMs! + f.forMs;
    const what = f.kind === 'control-plane-errors' ? `HTTP ${f.status} answered` : `${f.delayMs} ms added`;
    r.details.push(`${what} to ${seen.hit} of ${seen.calls} agents' control-plane calls (rate ${f.rate}) for ${f.forMs / 1000} s`);
  }

  /** Sends the fault to `host`'s agent, waiting (up to TARGET_WAIT_MS) for it to be connected; when it was sent (ms since accepted) and the answer. */
  private async inject(host: string, action: agentV1.FaultAction, forMs: number, info: FaultRunInfo): Promise<{ at: number; answer: agentV1.InjectFaultResponse }> {
    const deadline = Date.now() + TARGET_WAIT_MS;
    for (;;) {
      const client = this.deps.agents.clientFor(host);
      if (client?.injectFault) {
        const at = Date.now() - info.acceptedAt;
        return { at, answer: await client.injectFault({ action, forMs }) };
      }
      if (client) throw new Error(`${host}: its agent does not take faults`);
      if (Date.now() > deadline || info.stopped()) throw new Error(`${host}: its agent was not connected within ${TARGET_WAIT_MS / 1000} s`);
      await sleep(TICK_MS * 2);
    }
  }

  private async until(ok: () => boolean, ms: number, info: FaultRunInfo): Promise<void> {
    const deadline = Date.now() + ms;
    while (!ok() && Date.now() < deadline && !info.stopped()) await sleep(TICK_MS);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
