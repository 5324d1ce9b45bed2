// The public surface of the generated contract. gen/ is written by `npm run generate` and never edited.
export * as agentV1 from './gen/merak/agent/v1/agent.js';
export * as coordinatorV1 from './gen/merak/coordinator/v1/coordinator.js';
