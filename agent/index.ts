// Public surface of the agent package: start an agent (kernel or hollow backend), and what the
// local emulation reads back without an agent (the vswitch and the VM ownership mark). Shared
// helpers live in @merak/common.
//
// Imports follow the data, top to bottom: a folder imports only from its own layer's peers named
// here, or from a layer below it (common and proto from anywhere; native at the bottom).
//   agent.ts, main.ts, config.ts, backend.ts, kernel-backend.ts, hollow-backend.ts (wiring)
//   registration -> server (the coordinator's stream carries the same calls as the gRPC service)
//   metrics, probe, supervisor, faults (a scenario's faults done on this vhost: InjectFault)
//   goalstate (Alcor's GoalState host agent and its data plane)
//   overlay (per-VNI VLANs, tunnels, the neighbor table's flows)
//   vm (VM specs, stages, executors, the ownership mark)
//   ovn, vswitch, netns
//   openflow, netlink
//   @merak/native
export { type RunningAgent, startAgent } from './agent.js';
export type { Backend } from './backend.js';
export { parseAgentConfig } from './config.js';
export { createHollowBackend } from './hollow-backend.js';
export { tunnelCount } from './overlay/index.js';
export { ownerMark, parseVethAlias, recordedVmName } from './vm/ownership.js';
export { vmInterfaces } from './vm/vm-record.js';
export { Vswitch } from './vswitch/vswitch.js';
