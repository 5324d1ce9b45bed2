// The embedded default of `merak demo`: Merak's own end-to-end scenario (examples/merak-e2e.yaml),
// with the host and VM counts the demo's flags may change; and the same in Alcor mode
// (examples/alcor.yaml) against an Alcor whose services all answer at one URL, and in OVN mode
// (examples/ovn.yaml).
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

export function alcorDemoScenarioYaml(opts: { hosts?: number; vms?: number; alcorUrl: string }): string {
  const u = opts.alcorUrl;
  return `# Merak's end-to-end scenario in Alcor mode: ${opts.hosts ?? 5} hosts, one VPC, one subnet, ${opts.vms ?? 50} VMs whose
# ports Alcor allocates, binds and programs (GoalState), a security group and a router; ping between all.
name: alcor-e2e
seed: 1
provider: alcor
alcor:
  endpoints: { vpc: ${u}, subnet: ${u}, route: ${u}, port: ${u}, node: ${u}, sg: ${u} }
  project_id: merak-demo-project
hosts: { count: ${opts.hosts ?? 5} }
security_groups:
  - name: web
    rules: [{ direction: ingress, protocol: tcp, port_range_min: 80, remote_ip_prefix: 0.0.0.0/0 }]
${routedVpcYaml(opts.vms ?? 50)}`;
}

/**
 * Merak's end-to-end scenario in OVN mode (examples/ovn.yaml): one VPC, one subnet, a security
 * group and a router. The group allows ICMP and TCP 80 in: its ACLs are live (IPv4 that no rule
 * allows is dropped) and the ping test passes through them. No `ovn:` block: the NB and SB are the
 * coordinator's (--ovn-nb/--ovn-sb, which `local up --ovn` gives it).
 */
export function ovnDemoScenarioYaml(opts: { hosts?: number; vms?: number } = {}): string {
  return `# Merak's end-to-end scenario in OVN mode: ${opts.hosts ?? 5} hosts, one VPC, one subnet, ${opts.vms ?? 50} VMs whose logical
# switch ports the coordinator writes into OVN's northbound database, a security group (ICMP and TCP 80
# in, as port group + ACLs) and a router; ping between all.
name: ovn-e2e
seed: 1
provider: ovn
hosts: { count: ${opts.hosts ?? 5} }
security_groups:
  - name: web
    rules:
      - { direction: ingress, protocol: icmp }
      - { direction: ingress, protocol: tcp, port_range_min: 80 }
${routedVpcYaml(opts.vms ?? 50)}`;
}

/** The Alcor and OVN demos' network and run: `vms` VMs in one subnet, all in group web, a router on it; ping. */
function routedVpcYaml(vms: number): string {
  return `vpcs:
  - name: vpc1
    cidr: 10.1.0.0/16
    subnets:
      - { name: subnet1, cidr: 10.1.0.0/16, gateway: 10.1.0.1, vms: ${vms}, security_groups: [web] }
routers:
  - { name: router1, vpc: vpc1, subnets: [subnet1] }
placement: { type: uniform }
schedule: { type: sequential, concurrency: 16 }
test: { type: ping }
`;
}

export function defaultDemoScenario(): Scenario {
  return parseScenario(demoScenarioYaml());
}
