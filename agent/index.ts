// Public surface of the agent package: start an agent (kernel or hollow backend) and the one
// vswitch view the local emulation reads back. Shared helpers live in @merak/common.
export { type RunningAgent, startAgent } from './agent.js';
export type { Backend } from './backend.js';
export { type AgentConfig, parseAgentConfig } from './config.js';
export { createHollowBackend } from './hollow-backend.js';
export { Vswitch } from './vswitch/vswitch.js';
