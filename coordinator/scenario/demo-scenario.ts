// The embedded default of `merak demo`: Merak's own end-to-end scenario (examples/merak-e2e.yaml),
// with the host and VM counts the demo's flags may change.
import type { Scenario } from './model.js';
import { parseScenario } from './parse.js';

export function demoScenarioYaml(opts: { hosts?: number; vms?: number } = {}): string {
  return `# Merak's own end-to-end scenario: ${opts.hosts ?? 5} hosts, one VPC, one subnet, ${opts.vms ?? 50} VMs spread evenly, ping between all.
name: merak-e2e
seed: 1
hosts: { count: ${opts.hosts ?? 5} }
vpcs:
  - name: vpc1
    cidr: 10.1.0.0/16
    subnets:
      - { name: subnet1, cidr: 10.1.0.0/16, gateway: 10.1.0.1, vms: ${opts.vms ?? 50} }
placement: { type: uniform }
schedule: { type: sequential, concurrency: 16 }
test: { type: ping }
`;
}

export function defaultDemoScenario(): Scenario {
  return parseScenario(demoScenarioYaml());
}
