// The scenario the emulation benches run: one VPC of `vms` VMs placed evenly on the named vhosts,
// then the ping test on a sample of `pairs` pairs.
export interface OneVpcScenario {
  readonly vms: number;
  readonly pairs: number;
  /** Echoes per pair, and how long the agent waits for the last replies. */
  readonly count: number;
  readonly timeoutMs: number;
  /** VMs in flight per vhost. */
  readonly concurrency: number;
}

export function oneVpcScenarioYaml(name: string, hosts: readonly string[], o: OneVpcScenario): string {
  // pairs_per_vpc_limit 2: always the sample of exactly `pairs` pairs, never every pair of a small VPC.
  return [
    `name: ${name}`,
    'seed: 1',
    `hosts: { names: [${hosts.join(', ')}] }`,
    `vpcs: [{ name: vpc, cidr: 10.64.0.0/16, subnets: [{ name: s, cidr: 10.64.0.0/16, vms: ${o.vms} }] }]`,
    'placement: { type: uniform }',
    `schedule: { type: sequential, concurrency: ${o.concurrency} }`,
    `test: { type: ping, pairs_per_vpc_limit: 2, sample_pairs: ${o.pairs}, count: ${o.count}, timeout_ms: ${o.timeoutMs}, cross_vpc_checks: 0 }`,
    '',
  ].join('\n');
}
