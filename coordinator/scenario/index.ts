// Scenarios: parse, default and validate once into an immutable model.
export * from './model.js';
export { ovsdbEndpointProblem, parseScenario } from './parse.js';
export { alcorDemoScenarioYaml, defaultDemoScenario, demoScenarioYaml, ovnDemoScenarioYaml } from './demo-scenario.js';
export { derivedUuid } from './derived-uuid.js';
