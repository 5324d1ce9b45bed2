// Public surface of the coordinator package (for the lab: local emulation, CLI; tests; benchmarks).
export { AgentChannel } from './registry/agent-channel.js';
export { type EngineDeps, ScenarioEngine, type ScenarioStatus } from './engine/scenario-engine.js';
export { DEFAULT_FANOUT, type FanoutConfig } from './fanout/fanout.js';
export { Overlay } from './overlay/overlay.js';
export { standaloneControlPlane } from './providers/provider-standalone.js';
export { alcorControlPlane } from './providers/provider-alcor.js';
export type { ControlPlane, ControlPlaneFactory, LiveScenarios, ScenarioContext } from './providers/provider.js';
export { AgentRegistry } from './registry/agent-registry.js';
export { createCoordinatorService } from './server/coordinator-service.js';
export { Store } from './store/store.js';
export * from './scenario/index.js';
export * from './plan/index.js';
export { type OvnNames, ovnNames } from './ovn/names.js';
