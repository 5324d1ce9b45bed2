// Planning: addresses, placement, schedule and ping pairs, from a validated scenario.
export { type Plan, type PlannedVm, planScenario } from './planner.js';
export { type PingPair, selectPingPairs } from './pairs.js';
export { mulberry32 } from './random.js';
