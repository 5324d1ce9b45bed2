// Planning: addresses, placement, schedule and ping pairs, from a validated scenario.
export { Plan, type PlanOptions, type PlannedVm, planScenario } from './planner.js';
export { type PingPair, selectPingPairs } from './pairs.js';
export { mulberry32 } from './random.js';
