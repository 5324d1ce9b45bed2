// A run's report, assembled from what the store holds (results, timeline, control-plane objects)
// and the ping test's outcomes: the same report whether the run ended ready or failed, a failed
// one saying which step failed and what it left behind.
import type { Plan } from '../plan/index.js';
import type { FaultOutcome } from '../report/fault-outcome.js';
import type { EndpointLatency, PingOutcome, Report } from '../report/report.js';
import { buildReport } from '../report/report.js';
import type { ControlPlaneObject, RunFailure, RunSummary } from '../report/run-summary.js';
import type { SoftwareVersions } from '../report/versions.js';
import type { Store } from '../store/store.js';
import type { Run } from './run-state.js';

export interface RunReportDeps {
  readonly store: Store;
  /** The control plane's per-endpoint latency for this scenario, if it keeps any. */
  readonly latency: (scenarioId: string) => EndpointLatency[] | undefined;
  /** What the scenario's injected faults did (faults/), when it has any. */
  readonly faults?: (plan: Plan) => readonly FaultOutcome[] | undefined;
  /** The software of the run's hosts, coordinator and control plane, for the report. */
  readonly versions?: (hosts: readonly string[]) => SoftwareVersions;
}

export interface Outcome {
  readonly outcome: 'ready' | 'failed';
  readonly error: string;
  readonly failure?: RunFailure;
}

/** The report of `run` as it stands, with `ping` when the test ran. Stores it on the run and in the store. */
export function assembleReport(run: Run, deps: RunReportDeps, outcome: Outcome, ping?: readonly PingOutcome[]): Report {
  const s = run.spec.scenario;
  const controlPlane = deps.latency(run.id);
  const report = run.withPlan((plan) => withFaults(deps.faults?.(plan), buildReport({
    scenario: { id: run.id, name: s.name, hosts: run.spec.hosts.length, provider: s.provider, acceptedAtMs: run.spec.acceptedAt, spec: s },
    total: plan.total,
    // What arrived, when it is the whole story; the stored rows otherwise (the same rows, read back).
    rows: run.live?.usable ? run.live.rows() : deps.store.results(run.row.seq),
    idOf: (i) => plan.vm(i).id,
    hostOf: (i) => plan.hosts[plan.hostOf[i]!]!,
    offsetOf: (i) => plan.offsets[i]!,
    ...(ping ? { ping } : {}),
    ...(controlPlane ? { controlPlane } : {}),
    run: runSummary(run, deps.store, outcome),
    ...(deps.versions ? { versions: deps.versions(run.spec.hosts) } : {}),
  })));
  run.report = report;
  deps.store.setScenarioReport(run.id, JSON.stringify(report));
  return report;
}

const withFaults = (faults: readonly FaultOutcome[] | undefined, report: Report): Report => (faults ? { ...report, faults } : report);

function runSummary(run: Run, store: Store, o: Outcome): RunSummary {
  const s = run.spec.scenario;
  const objects: ControlPlaneObject[] = store.controlPlaneObjects(run.row.seq).map((x) => ({ kind: x.kind, name: x.name, id: x.remoteId }));
  // A failed network set-up is rolled back (run.rolledBack); past it, what a failed run made stays
  // until the scenario is deleted, for a look at what went wrong.
  const vms = run.counts.ready;
  const left = vms > 0 || objects.length > 0;
  return {
    outcome: o.outcome,
    error: o.error,
    requested: {
      vms: run.counts.requested, hosts: run.spec.hosts.length, vpcs: s.vpcs.length, subnets: s.vpcs.reduce((n, v) => n + v.subnets.length, 0),
      securityGroups: s.securityGroups.length, routers: s.routers.length,
    },
    ...(o.failure ? { failure: o.failure } : {}),
    timeline: store.events(run.row.seq),
    made: { vms, controlPlane: run.rolledBack ?? objects },
    ...(run.rolledBack ? { rolledBack: run.rolledBack.filter((m) => !objects.some((o) => o.kind === m.kind && o.name === m.name)) } : {}),
    ...(o.outcome === 'failed' ? { leftBehind: { vms, controlPlane: objects, hint: left ? `'merak delete ${run.id}' removes them` : '' } } : {}),
  };
}
