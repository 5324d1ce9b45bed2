// What a scenario must meet to be accepted, beyond its own validation: the hosts it names or
// counts are connected agents. Refusals are ScenarioErrors (common/grpc/status.ts maps their codes).
import { MerakError } from '@merak/common';
import type { Scenario } from '../scenario/index.js';

/** A request about scenarios the engine refuses: no such scenario, a name taken, not now. */
export class ScenarioError extends MerakError {
  constructor(code: 'NOT_FOUND' | 'FAILED_PRECONDITION' | 'CONFLICT', message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
  }
}

/** The hosts a scenario runs on, from the agents connected now (in the registry's order). */
export function selectHosts(s: Scenario, agents: readonly string[]): string[] {
  if (s.hosts.kind === 'names') {
    const missing = s.hosts.names.filter((h) => !agents.includes(h));
    if (missing.length > 0) throw new ScenarioError('FAILED_PRECONDITION', `hosts.names: not connected: ${missing.join(', ')}`);
    return [...s.hosts.names];
  }
  if (agents.length === 0) throw new ScenarioError('FAILED_PRECONDITION', 'hosts: no agent is connected');
  if (s.hosts.kind === 'count') {
    if (agents.length < s.hosts.count) throw new ScenarioError('FAILED_PRECONDITION', `hosts.count: ${s.hosts.count} hosts wanted, ${agents.length} agents connected`);
    return agents.slice(0, s.hosts.count);
  }
  return [...agents];
}
