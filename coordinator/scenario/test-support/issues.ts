// For the scenario parser's tests: what parseScenario says is wrong with an input, as [path, message].
import { ScenarioValidationError, parseScenario } from '../index.js';

export function issuesOf(input: string | object): Array<[string, string]> {
  try {
    parseScenario(input);
  } catch (e) {
    if (e instanceof ScenarioValidationError) return e.issues.map((i) => [i.path, i.message]);
    throw e;
  }
  return [];
}
