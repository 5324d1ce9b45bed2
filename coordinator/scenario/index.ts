// Scenarios: parse, default and validate once into an immutable model.
export * from './model.js';
export { defaultDemoScenario, parseScenario } from './parse.js';
