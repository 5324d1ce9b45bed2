// Public surface of the lab package: what needs both programs on one machine (the local
// emulation, the merak CLI, the agent client). The only package that imports both.
export { AgentClient, type AgentClientOptions } from './agent-client/agent-client.js';
export { type AgentProcess, type AgentProcessOptions, AgentStartError, agentMainPath, startAgentProcess } from './local/agent-process.js';
export { type OvsInstance, OvsStartError, ovsMissing, startOvsInstance } from './local/ovs-instance.js';
export { type LocalVhost, type LocalVhostOptions, startLocalVhost } from './local/vhost.js';
export {
  type EmulatedVhost, type LocalEmulation, type LocalEmulationOptions, type LocalOvn, type TeardownReport, bridgeName, hostVethName, startLocalEmulation,
  teardownLocalEmulation, vhostName,
} from './local/emulation.js';
export { type EmulationState, type VhostRecord, STATE_FILE, readState } from './local/emulation-state.js';
export { OvnStartError, ovnMissing } from './local/ovn-daemon.js';
