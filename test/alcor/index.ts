// Public surface of the Alcor-compatible test server (Alcor's REST API, docs/alcor.md).
export { type AlcorServer, type AlcorServerOptions, startAlcorServer } from './server.js';
export { type AppliedFault, type CallFilter, CallLog, type CallRecord } from './calls.js';
export { type FaultAction, type FaultLimit, type FaultPhase, type FaultRule, type FaultRuleSpec, Faults } from './faults.js';
export type { AlcorSnapshot, BindHook, BindResult, PortBinding } from './state.js';
export { CONTROL_PREFIX } from './control.js';
export { type SpringErrorBody } from './errors.js';
export {
  ALCOR_SERVICES, type AlcorService, type FixedIp, type NodeInfo, NODE_PORTS, type PortEntity, type RouteEntity,
  type RouteTable, type RouterEntity, type RouterInterfaceResponse, type SecurityGroup, type SecurityGroupRule,
  type SubnetEntity, type VpcEntity,
} from './entities.js';
export type { GoalStateSink } from './state.js';
export {
  AGENT_PORT, DEFAULT_NCM_PORT, DEFAULT_PUSH_TIMEOUT_MS, type GoalStatePushOptions, NODE_NAME_METADATA,
  type PushFaultAction, type PushFaultRule, type PushFaultSpec, PushFaults, type PushOutcome, type PushRecord, PushLog, type ReplyStatus,
} from './goalstate/index.js';
export { AlcorRestError, JsonClient } from './json-client.js';
