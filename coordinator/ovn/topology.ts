// What a scenario is in OVN's northbound database, as data (no I/O): its logical switches, routers
// with a port per subnet, port groups with their ACLs, and for each VM the switch and port groups
// of its port. A VPC is one switch unless a router joins its subnets: then each subnet is a switch
// of its own and the router's ports are their gateways.
import type { PlannedVm } from '../plan/index.js';
import type { Scenario } from '../scenario/index.js';
import { securityGroupAcls, type AclSpec } from './acl.js';
import { type OvnNames, derivedMac } from './names.js';

export interface SwitchSpec {
  readonly name: string;
  readonly vpc: string;
  /** undefined: the VPC's only switch */
  readonly subnet: string | undefined;
}

export interface RouterPortSpec {
  readonly name: string;
  readonly subnet: string;
  readonly mac: string;
  /** gateway/prefix */
  readonly network: string;
  /** The switch port of type router facing it, and its switch. */
  readonly switchPort: string;
  readonly switchName: string;
}

export interface RouterSpec {
  readonly name: string;
  readonly router: string;
  readonly vpc: string;
  readonly ports: readonly RouterPortSpec[];
}

export interface PortGroupSpec {
  readonly name: string;
  readonly sg: string;
  readonly acls: readonly AclSpec[];
}

/** A VM's logical switch port. */
export interface VmPortSpec {
  readonly name: string;
  readonly vm: string;
  readonly vmIndex: number;
  readonly switchName: string;
  readonly mac: string;
  readonly ip: string;
  readonly host: string;
  readonly portGroups: readonly string[];
}

export interface Topology {
  readonly names: OvnNames;
  readonly switches: readonly SwitchSpec[];
  readonly routers: readonly RouterSpec[];
  readonly portGroups: readonly PortGroupSpec[];
  /** VPCs whose subnets are switches of their own (a router joins them). */
  readonly routedVpcs: ReadonlySet<string>;
  vmPort(vm: PlannedVm): VmPortSpec;
}

export function topologyOf(scenario: Scenario, names: OvnNames): Topology {
  const routedVpcs = new Set(scenario.routers.map((r) => r.vpc));
  const switches: SwitchSpec[] = scenario.vpcs.flatMap((v): SwitchSpec[] => (routedVpcs.has(v.name)
    ? v.subnets.map((s) => ({ name: names.switch(v.name, s.name), vpc: v.name, subnet: s.name }))
    : [{ name: names.switch(v.name), vpc: v.name, subnet: undefined }]));
  const routers: RouterSpec[] = scenario.routers.map((r) => {
    const vpc = scenario.vpcs.find((v) => v.name === r.vpc)!;
    return {
      name: names.router(r.name), router: r.name, vpc: r.vpc,
      ports: r.subnets.map((sn) => {
        const s = vpc.subnets.find((x) => x.name === sn)!;
        const name = names.routerPort(r.name, sn);
        return { name, subnet: sn, mac: derivedMac(name), network: `${s.gateway}/${s.prefixLength}`, switchPort: names.routerSwitchPort(r.name, sn), switchName: names.switch(r.vpc, sn) };
      }),
    };
  });
  const portGroups: PortGroupSpec[] = scenario.securityGroups.map((g) => {
    const name = names.portGroup(g.name);
    return { name, sg: g.name, acls: securityGroupAcls(name, g) };
  });
  const groupsOf = new Map<string, string[]>();
  for (const v of scenario.vpcs) for (const s of v.subnets) groupsOf.set(`${v.name}/${s.name}`, s.securityGroups.map((g) => names.portGroup(g)));
  return {
    names, switches, routers, portGroups, routedVpcs,
    vmPort: (vm) => ({
      name: names.vmPort(vm.id), vm: vm.id, vmIndex: vm.index, switchName: routedVpcs.has(vm.vpc) ? names.switch(vm.vpc, vm.subnet) : names.switch(vm.vpc),
      mac: vm.mac, ip: vm.ip, host: vm.host, portGroups: groupsOf.get(`${vm.vpc}/${vm.subnet}`) ?? [],
    }),
  };
}
