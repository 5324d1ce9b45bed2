// Public surface of the coordinator package (for the lab: local emulation, CLI; tests; benchmarks).
//
// Layers, top to bottom: a file imports only its own folder or a folder on a line below it
// (checked by test/architecture/layers.test.ts; main.ts and this file sit above them all).
// server: the gRPC Coordinator service
// engine: runs scenarios (admission, fan-out, ping test, report assembly)
// providers faults: the ControlPlane interface and its implementations (standalone, alcor, ovn); a
//   scenario's injected faults and the control-plane proxy
// tunnel-sets alcor ovn: what each control plane drives (the vhosts' tunnels, Alcor's API, OVN's databases)
// fanout registry: agents (chunked Apply streams, who is connected)
// plan report: where each VM goes, its addresses and ping pairs; the run's report and call statistics
// scenario store metrics: the validated scenario and its parser; durable state (SQLite); counters
export { AgentChannel } from './registry/agent-channel.js';
export { type EngineDeps, ScenarioEngine, type ScenarioStatus } from './engine/scenario-engine.js';
export { DEFAULT_FANOUT, type FanoutConfig } from './fanout/fanout.js';
export { TunnelSets } from './tunnel-sets/tunnel-sets.js';
export { CoordinatorMetrics } from './metrics/coordinator-metrics.js';
export { standaloneControlPlane } from './providers/provider-standalone.js';
export { alcorControlPlane } from './providers/provider-alcor.js';
export type { ControlPlane, ControlPlaneFactory, LiveScenarios, ScenarioContext } from './providers/provider.js';
export { AgentRegistry } from './registry/agent-registry.js';
export { createCoordinatorService } from './server/coordinator-service.js';
export { Store } from './store/store.js';
export * from './scenario/index.js';
export * from './plan/index.js';
export { type OvnNames, ovnNames } from './ovn/names.js';
export { mulberry32 } from './plan/random.js';
export { type CompareRow, type Comparison, DEFAULT_THRESHOLDS, FIRST_REPLY_FLOOR_MS, MIN_BEYOND, type Thresholds, type Verdict, compareReports } from './report/compare.js';
export { renderCompareHtml, renderCompareText } from './report/compare-render.js';
export { ReportFormatError, parseReportJson } from './report/report-json.js';
export type { Report } from './report/report.js';
