// The GoalState push of the Alcor-compatible server (Alcor's DPM + NCM towards host agents).
export { AGENT_PORT, DEFAULT_NCM_PORT, DEFAULT_PUSH_TIMEOUT_MS, type GoalStatePush, type GoalStatePushOptions, agentEndpoint, startGoalStatePush } from './goalstate-push.js';
export { HOST_DVR_MAC, type NetworkView, type PlacedPort, type PortEvent, type PortOp, buildPortBatch, buildRouterChange, neighborKey } from './builder.js';
export { HostMessage, type MessageKind } from './host-message.js';
export { NcmCache } from './ncm-cache.js';
export { NODE_NAME_METADATA } from './ncm-server.js';
export { type PushFaultAction, type PushFaultPlan, type PushFaultRule, type PushFaultSpec, PushFaults } from './push-faults.js';
export { type PushOutcome, type PushRecord, PushLog, type ReplyStatus } from './push-log.js';
export { HostIdentificationError } from './errors.js';
