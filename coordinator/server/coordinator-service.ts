// The gRPC Coordinator service over the scenario engine and the agent registry.
import { type ServerDuplexStream, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, status } from '@grpc/grpc-js';
import { statusError, toServiceError } from '@merak/common';
import { coordinatorV1 } from '@merak/proto';
import { type Phase, ScenarioEngine, ScenarioError, type ScenarioStatus } from '../engine/scenario-engine.js';
import type { AgentRegistry } from '../registry/agent-registry.js';
import { renderHtml } from '../report/html.js';
import type { Report } from '../report/report.js';
import { renderTable } from '../report/table.js';

const PHASES: Record<Phase, coordinatorV1.ScenarioPhase> = {
  pending: coordinatorV1.ScenarioPhase.SCENARIO_PHASE_PENDING,
  network: coordinatorV1.ScenarioPhase.SCENARIO_PHASE_NETWORK,
  creating: coordinatorV1.ScenarioPhase.SCENARIO_PHASE_CREATING,
  testing: coordinatorV1.ScenarioPhase.SCENARIO_PHASE_TESTING,
  ready: coordinatorV1.ScenarioPhase.SCENARIO_PHASE_READY,
  failed: coordinatorV1.ScenarioPhase.SCENARIO_PHASE_FAILED,
  deleting: coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETING,
  deleted: coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETED,
};

export function testSummary(r: Report | undefined): coordinatorV1.TestSummary | undefined {
  if (!r?.ping) return undefined;
  const p = r.ping;
  return { pairsPassed: p.pairsPassed, pairsFailed: p.pairsFailed, isolationPassed: p.isolationPassed, isolationFailed: p.isolationFailed, rttP50Ms: p.rttMs.p50, rttP90Ms: p.rttMs.p90, rttP99Ms: p.rttMs.p99 };
}

export function toProtoScenario(s: ScenarioStatus): coordinatorV1.Scenario {
  return {
    id: s.id, name: s.name, phase: PHASES[s.phase], vms: s.counts, createdAtUnixMs: s.createdAt, updatedAtUnixMs: s.updatedAt,
    error: s.error, test: testSummary(s.report), hosts: s.hosts, lostHosts: [...s.lostHosts], provider: s.provider,
  };
}

export function createCoordinatorService(engine: ScenarioEngine, registry: AgentRegistry): coordinatorV1.CoordinatorServer {
  const unary = <Req, Res>(fn: (req: Req) => Res | Promise<Res>) => (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>): void => {
    // Engine and parse errors are MerakErrors: their code is the status (a validation error names every field).
    Promise.resolve()
      .then(() => fn(call.request))
      .then((r) => cb(null, r), (e: unknown) => cb(toServiceError(e)));
  };
  const get = (id: string): ScenarioStatus => {
    const s = engine.status(id);
    if (!s) throw new ScenarioError('NOT_FOUND', `no scenario ${id}`);
    return s;
  };
  return {
    createScenario: unary((req: coordinatorV1.CreateScenarioRequest) => {
      const format = req.format === 'yaml' || req.format === 'json' ? req.format : undefined;
      return toProtoScenario(engine.create(req.text, format));
    }),
    getScenario: unary((req: coordinatorV1.GetScenarioRequest) => toProtoScenario(get(req.id))),
    listScenarios: unary(() => ({ scenarios: engine.list().map(toProtoScenario) })),
    deleteScenario: unary((req: coordinatorV1.DeleteScenarioRequest) => toProtoScenario(engine.delete(req.id))),
    runTest: unary(async (req: coordinatorV1.RunTestRequest) => testSummary(await engine.runTest(req.id)) ?? coordinatorV1.TestSummary.fromPartial({})),
    getReport: unary((req: coordinatorV1.GetReportRequest) => {
      const report = get(req.id).report;
      if (!report) throw new ScenarioError('FAILED_PRECONDITION', `scenario ${req.id} has no report yet (it is ${get(req.id).phase})`);
      return { json: JSON.stringify(report, null, 2), html: renderHtml(report), text: renderTable(report) };
    }),
    listAgents: unary(() => ({
      agents: registry.list().map((a) => ({ info: { name: a.name, address: a.address, underlayIp: a.underlayIp, underlayMac: a.underlayMac, version: a.version, ovsVersion: a.ovsVersion, capacity: a.capacity, hollow: a.hollow }, connected: a.connected, lastSeenUnixMs: a.lastSeen })),
    })),
    watchScenario(call: ServerWritableStream<coordinatorV1.WatchScenarioRequest, coordinatorV1.ScenarioEvent>): void {
      const first = engine.status(call.request.id);
      if (!first) {
        call.emit('error', statusError(status.NOT_FOUND, `no scenario ${call.request.id}`));
        return;
      }
      const final = (p: Phase): boolean => p === 'ready' || p === 'failed' || p === 'deleted';
      let last = 0;
      const send = (s: ScenarioStatus, message: string): void => {
        if (s.id !== call.request.id) return;
        // At most 10 progress events a second; phase changes always go out.
        const now = Date.now();
        if (message === 'progress' && now - last < 100) return;
        last = now;
        call.write({ scenario: toProtoScenario(s), message });
        if (final(s.phase)) done();
      };
      const done = (): void => {
        engine.off('progress', send);
        call.end();
      };
      call.write({ scenario: toProtoScenario(first), message: 'watching' });
      if (final(first.phase)) return done();
      engine.on('progress', send);
      call.on('cancelled', () => engine.off('progress', send));
    },
    register(call: ServerDuplexStream<coordinatorV1.AgentMessage, coordinatorV1.CoordinatorMessage>): void {
      registry.handle(call);
    },
  };
}
