// The public surface of the generated contract. gen/ is written by `npm run generate` and never edited.
export * as agentV1 from './gen/merak/agent/v1/agent.js';
export * as coordinatorV1 from './gen/merak/coordinator/v1/coordinator.js';
// Alcor's GoalState contract (package alcor.schema), byte-compatible with Alcor's own .proto files.
export * as alcor from './gen/alcor/index.js';
// The service definition the coordinator serves (its stream to agents serialized into one buffer).
export { CoordinatorServiceReused, reusedSerializer } from './reused-serializer.js';
