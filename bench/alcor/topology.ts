// Where everything goes: the hosts (each its own fake underlay address), one VPC with one subnet per
// `portsPerSubnet` ports, and every port's subnet and host. A subnet's ports go round robin over
// the hosts, so a subnet spans min(portsPerSubnet, agents) hosts and NCM's neighbor fan-out per bind
// stays bounded. Binds go round robin over the subnets (every subnet's first port, then every
// second one…), so all hosts work from the start.
import { randomUUID } from 'node:crypto';
import { formatIpv4, parseIpv4 } from '@merak/common';

export interface HostPlan {
  readonly index: number;
  readonly name: string;
  /** Alcor's data-path-ip: the underlay address neighbors on this host carry. */
  readonly underlayIp: string;
  readonly mac: string;
}

export interface PortPlan {
  readonly index: number;
  readonly id: string;
  readonly subnet: number;
  readonly host: number;
}

export interface Topology {
  readonly hosts: readonly HostPlan[];
  readonly subnetCidrs: readonly string[];
  /** In bind order. */
  readonly ports: readonly PortPlan[];
  /** How many hosts one subnet spans. */
  readonly hostsPerSubnet: number;
}

/** Fake underlay addresses from 100.64.0.0/10 (shared address space: never a real host here). */
const UNDERLAY_BASE = parseIpv4('100.64.0.1')!;
const SUBNET_BASE = parseIpv4('10.0.0.0')!;

const hex = (n: number): string => n.toString(16).padStart(2, '0');

export function planTopology(prefix: string, agents: number, ports: number, portsPerSubnet: number): Topology {
  const hosts: HostPlan[] = Array.from({ length: agents }, (_, i) => ({
    index: i, name: `${prefix}-h${i}`, underlayIp: formatIpv4(UNDERLAY_BASE + i), mac: `aa:${hex((i >> 16) & 0xff)}:${hex((i >> 8) & 0xff)}:${hex(i & 0xff)}:00:01`,
  }));
  // Each subnet's block holds its network and broadcast addresses, the gateway and its ports.
  const bits = Math.ceil(Math.log2(portsPerSubnet + 3));
  const subnetCount = Math.ceil(ports / portsPerSubnet);
  if (subnetCount * 2 ** bits > 2 ** 24) throw new Error(`${subnetCount} subnets of /${32 - bits} do not fit in 10.0.0.0/8`);
  const subnetCidrs = Array.from({ length: subnetCount }, (_, s) => `${formatIpv4(SUBNET_BASE + s * 2 ** bits)}/${32 - bits}`);
  const all: PortPlan[] = Array.from({ length: ports }, (_, i) => ({ index: i, id: randomUUID(), subnet: Math.floor(i / portsPerSubnet), host: i % agents }));
  const rank = (p: PortPlan): number => p.index % portsPerSubnet;
  const order = [...all].sort((a, b) => rank(a) - rank(b) || a.subnet - b.subnet);
  return { hosts, subnetCidrs, ports: order, hostsPerSubnet: Math.min(portsPerSubnet, agents) };
}
