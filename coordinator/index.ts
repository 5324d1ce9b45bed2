// Public surface of the coordinator package.
export { AgentClient, type AgentClientOptions } from './agent-client/agent-client.js';
export { AgentChannel } from './registry/agent-channel.js';
export { type AgentProcess, type AgentProcessOptions, AgentStartError, agentMainPath, startAgentProcess } from './local/agent-process.js';
export { type OvsInstance, OvsStartError, ovsMissing, startOvsInstance } from './local/ovs-instance.js';
export { type LocalVhost, type LocalVhostOptions, startLocalVhost } from './local/vhost.js';
export {
  type EmulatedVhost, type LocalEmulation, type LocalEmulationOptions, type LocalOvn, type TeardownReport, bridgeName, hostVethName, startLocalEmulation,
  teardownLocalEmulation, vhostName,
} from './local/emulation.js';
export { type EmulationState, type VhostRecord, STATE_FILE, readState } from './local/emulation-state.js';
export { OvnStartError, ovnMissing } from './local/ovn-daemon.js';
export { type EngineDeps, ScenarioEngine, type ScenarioStatus } from './engine/scenario-engine.js';
export { DEFAULT_FANOUT, type FanoutConfig } from './fanout/fanout.js';
export { Overlay } from './overlay/overlay.js';
export { standaloneControlPlane } from './providers/provider-standalone.js';
export { alcorControlPlane } from './providers/provider-alcor.js';
export type { ControlPlane, ControlPlaneFactory, LiveScenarios, ScenarioContext } from './providers/provider.js';
export { AgentRegistry } from './registry/agent-registry.js';
export { createCoordinatorService } from './server/coordinator-service.js';
export { Store } from './store/store.js';
