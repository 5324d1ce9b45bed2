// A GoalState message (v2 stream or v1 unary) read the way Alcor's host agent reads it, validated
// into what this agent applies: subnets looked up by map key (their tunnel_id is the VNI), ports
// by their own id (tap<first 11>), one neighbor entry per fixed IP, DHCP, routers, security
// groups. A malformed state becomes a problem for that resource alone (INVALID_ARG, or FAILURE
// where Alcor's agent reports one); the rest of the message still applies. Pure: no I/O.
import { alcor } from '@merak/proto';
import { parseIpv4, parseMac } from '@merak/common';
import type { GoalStateNeighbor } from './contracts.js';

const { OperationType: Op, OperationStatus: Status, ResourceType: Type } = alcor;

export interface Problem {
  readonly status: alcor.OperationStatus;
  readonly reason: string;
}

/** A resource as received: its id and operation (as sent, for the reply), and what it asks or why not. */
export type Decoded<T> = {
  readonly id: string;
  readonly type: alcor.ResourceType;
  readonly op: alcor.OperationType;
} & ({ readonly goal: T; readonly problem?: undefined } | { readonly goal?: undefined; readonly problem: Problem });

export interface SubnetGoal {
  readonly id: string;
  readonly vni: number;
  readonly cidr: string;
  readonly gatewayIp: string;
}

export interface PortGoal {
  readonly op: 'create' | 'delete';
  readonly tap: string;
  /** CREATE: the VNI and address; DELETE: the VNI when the message names the subnet (0 if not). */
  readonly vni: number;
  readonly ip: string;
  readonly mac: string;
}

export interface NeighborGoal {
  readonly op: 'upsert' | 'delete';
  readonly entries: readonly GoalStateNeighbor[];
}

export interface DhcpGoal {
  readonly op: 'create' | 'update' | 'delete';
  readonly mac: string;
  readonly ip: string;
  readonly subnetId: string;
}

export interface RouterGoal {
  readonly op: 'upsert' | 'delete';
  readonly subnets: readonly string[];
}

export interface SecurityGroupGoal {
  readonly op: 'upsert' | 'delete';
  readonly name: string;
  readonly rules: number;
}

export interface GoalStateMessage {
  readonly version: 'v1' | 'v2';
  readonly empty: boolean;
  readonly vpcs: readonly string[];
  /** Valid subnets by key; a subnet that is not valid is absent and `badSubnets` says why. */
  readonly subnets: ReadonlyMap<string, SubnetGoal>;
  readonly badSubnets: ReadonlyMap<string, string>;
  readonly ports: readonly Decoded<PortGoal>[];
  readonly neighbors: readonly Decoded<NeighborGoal>[];
  readonly dhcp: readonly Decoded<DhcpGoal>[];
  readonly routers: readonly Decoded<RouterGoal>[];
  readonly securityGroups: readonly Decoded<SecurityGroupGoal>[];
}

/** The OVS port name Alcor's host agent looks for: "tap" + the first 11 characters of the port id. */
export const tapOf = (portId: string): string => `tap${portId.slice(0, 11)}`;

const invalid = (reason: string): Problem => ({ status: Status.INVALID_ARG, reason });
const failure = (reason: string): Problem => ({ status: Status.FAILURE, reason });

/** Alcor's agent takes "aa:bb:…" or "aa-bb-…"; the canonical form is lower-case with colons. */
function mac(text: string): string | undefined {
  return parseMac(text.replace(/-/g, ':'));
}

const isIpv4 = (text: string): boolean => parseIpv4(text) !== undefined;

const KNOWN_OPS = new Set<number>([Op.INFO, Op.CREATE, Op.UPDATE, Op.GET, Op.DELETE]);

/** The largest tunnel id each network type can carry (Alcor's agent range-checks it so). */
function maxTunnelId(type: alcor.NetworkType): number | undefined {
  switch (type) {
    case alcor.NetworkType.VXLAN: case alcor.NetworkType.GRE: case alcor.NetworkType.GENEVE: case alcor.NetworkType.VXLAN_GPE: return 0xffffff;
    case alcor.NetworkType.VLAN: return 4094;
    default: return undefined;
  }
}

function decodeSubnet(key: string, s: alcor.SubnetState): SubnetGoal | string {
  const c = s.configuration;
  if (!c) return 'no configuration';
  const max = maxTunnelId(c.networkType);
  if (max === undefined) return `network_type ${c.networkType} is not one Alcor knows`;
  const vni = c.tunnelId;
  if (!Number.isInteger(vni) || vni <= 0 || vni > max) return `tunnel_id ${vni} is not a VNI in 1..${max}`;
  if (!c.cidr.includes('/')) return `cidr '${c.cidr}' has no prefix length`;
  return { id: key, vni, cidr: c.cidr, gatewayIp: c.gateway?.ipAddress ?? '' };
}

/** Port operations as Alcor's agent maps them (an UPDATE with both device fields empty is an unbind). */
function portOp(op: alcor.OperationType, c: alcor.PortConfiguration, version: 'v1' | 'v2'): 'create' | 'delete' | Problem {
  switch (op) {
    case Op.CREATE: return 'create';
    case Op.DELETE: return 'delete';
    case Op.UPDATE:
      if (c.deviceId === '' && c.deviceOwner === '') return 'delete';
      // v1 has DPM's rewrite on the agent side: a bind (both device fields set) is a CREATE.
      if (version === 'v1' && c.deviceId !== '' && c.deviceOwner !== '') return 'create';
      return invalid('UPDATE of a port is only an unbind (device_id and device_owner empty)');
    case Op.INFO: case Op.GET: return failure(`operation ${alcor.operationTypeToJSON(op)} is not applied to a port`);
    default: return invalid(`unknown operation ${op}`);
  }
}

function decodePort(s: alcor.PortState, subnets: ReadonlyMap<string, SubnetGoal>, bad: ReadonlyMap<string, string>, version: 'v1' | 'v2'): Decoded<PortGoal> {
  const c = s.configuration;
  const id = c?.id ?? '';
  const head = { id, type: Type.PORT, op: s.operationType };
  if (!c) return { ...head, problem: invalid('no configuration') };
  if (id === '') return { ...head, problem: invalid('no id') };
  // Alcor's agent asserts these (and aborts the process); here they fail this port only.
  if (c.revisionNumber === 0) return { ...head, problem: invalid('revision_number is 0') };
  const op = portOp(s.operationType, c, version);
  if (typeof op !== 'string') return { ...head, problem: op };
  const fixed = c.fixedIps[0];
  const subnet = fixed ? subnets.get(fixed.subnetId) : undefined;
  if (op === 'delete') return { ...head, goal: { op, tap: tapOf(id), vni: subnet?.vni ?? 0, ip: fixed?.ipAddress ?? '', mac: c.macAddress } };
  if (!c.adminStateUp) return { ...head, problem: invalid('admin_state_up is false') };
  if (!fixed) return { ...head, problem: invalid('no fixed_ips') };
  if (!subnet) return { ...head, problem: invalid(`subnet ${fixed.subnetId} ${bad.has(fixed.subnetId) ? `is invalid: ${bad.get(fixed.subnetId)}` : 'is not in the message'}`) };
  if (c.updateType !== alcor.UpdateType.FULL) return { ...head, problem: invalid('a CREATE must be update_type FULL') };
  if (!isIpv4(fixed.ipAddress)) return { ...head, problem: invalid(`fixed_ips[0].ip_address '${fixed.ipAddress}' is not IPv4`) };
  const m = mac(c.macAddress);
  if (!m) return { ...head, problem: invalid(`mac_address '${c.macAddress}' is not a MAC`) };
  if (c.vpcId === '') return { ...head, problem: invalid('no vpc_id') };
  return { ...head, goal: { op, tap: tapOf(id), vni: subnet.vni, ip: fixed.ipAddress, mac: m } };
}

function decodeNeighbor(s: alcor.NeighborState, subnets: ReadonlyMap<string, SubnetGoal>, bad: ReadonlyMap<string, string>): Decoded<NeighborGoal> {
  const c = s.configuration;
  const id = c?.id ?? '';
  const head = { id, type: Type.NEIGHBOR, op: s.operationType };
  if (!c) return { ...head, problem: invalid('no configuration') };
  if (id === '') return { ...head, problem: invalid('no id') };
  if (c.revisionNumber === 0) return { ...head, problem: invalid('revision_number is 0') };
  let op: 'upsert' | 'delete';
  switch (s.operationType) {
    case Op.CREATE: case Op.UPDATE: case Op.INFO: op = 'upsert'; break;
    case Op.DELETE: op = 'delete'; break;
    case Op.GET: return { ...head, problem: failure('operation GET is not applied to a neighbor') };
    default: return { ...head, problem: invalid(`unknown operation ${s.operationType}`) };
  }
  const m = mac(c.macAddress);
  if (!m) return { ...head, problem: invalid(`mac_address '${c.macAddress}' is not a MAC`) };
  if (c.hostIpAddress === '') return { ...head, problem: invalid('no host_ip_address: the host of this neighbor is unknown') };
  if (!isIpv4(c.hostIpAddress)) return { ...head, problem: invalid(`host_ip_address '${c.hostIpAddress}' is not IPv4`) };
  if (c.fixedIps.length === 0) return { ...head, problem: invalid('no fixed_ips') };
  const entries: GoalStateNeighbor[] = [];
  for (const [k, f] of c.fixedIps.entries()) {
    if (f.neighborType !== alcor.NeighborType.L2 && f.neighborType !== alcor.NeighborType.L3) return { ...head, problem: invalid(`fixed_ips[${k}].neighbor_type ${f.neighborType} is neither L2 nor L3`) };
    if (!isIpv4(f.ipAddress)) return { ...head, problem: invalid(`fixed_ips[${k}].ip_address '${f.ipAddress}' is not IPv4`) };
    const subnet = subnets.get(f.subnetId);
    if (!subnet) return { ...head, problem: invalid(`fixed_ips[${k}]: subnet ${f.subnetId} ${bad.has(f.subnetId) ? `is invalid: ${bad.get(f.subnetId)}` : 'is not in the message'}`) };
    entries.push({ vni: subnet.vni, ip: f.ipAddress, mac: m, hostIp: c.hostIpAddress, hostMac: mac(c.hostMacAddress) ?? '' });
  }
  return { ...head, goal: { op, entries } };
}

function decodeDhcp(s: alcor.DHCPState, subnets: ReadonlyMap<string, SubnetGoal>): Decoded<DhcpGoal> {
  const c = s.configuration;
  const id = c?.id ?? '';
  const head = { id, type: Type.DHCP, op: s.operationType };
  if (!c) return { ...head, problem: invalid('no configuration') };
  let op: DhcpGoal['op'];
  switch (s.operationType) {
    case Op.CREATE: op = 'create'; break;
    case Op.UPDATE: op = 'update'; break;
    case Op.DELETE: op = 'delete'; break;
    case Op.INFO: case Op.GET: return { ...head, problem: failure(`operation ${alcor.operationTypeToJSON(s.operationType)} is not applied to a DHCP entry`) };
    default: return { ...head, problem: invalid(`unknown operation ${s.operationType}`) };
  }
  // Alcor's agent dies on a bad MAC here (an uncaught exception); it is this entry's problem only.
  const m = mac(c.macAddress);
  if (!m) return { ...head, problem: invalid(`mac_address '${c.macAddress}' is not a MAC`) };
  if (!subnets.has(c.subnetId)) return { ...head, problem: invalid(`subnet ${c.subnetId} is not in the message (or is invalid)`) };
  if (op !== 'delete' && !isIpv4(c.ipv4Address)) return { ...head, problem: invalid(`ipv4_address '${c.ipv4Address}' is not IPv4`) };
  return { ...head, goal: { op, mac: m, ip: c.ipv4Address, subnetId: c.subnetId } };
}

function decodeRouter(s: alcor.RouterState, subnets: ReadonlyMap<string, SubnetGoal>): Decoded<RouterGoal> {
  const c = s.configuration;
  const id = c?.id ?? '';
  const head = { id, type: Type.ROUTER, op: s.operationType };
  if (!c) return { ...head, problem: invalid('no configuration') };
  if (id === '') return { ...head, problem: invalid('no id') };
  if (c.revisionNumber === 0) return { ...head, problem: invalid('revision_number is 0') };
  let op: RouterGoal['op'];
  switch (s.operationType) {
    case Op.CREATE: case Op.UPDATE: case Op.INFO: op = 'upsert'; break;
    case Op.DELETE: op = 'delete'; break;
    case Op.GET: return { ...head, problem: failure('operation GET is not applied to a router') };
    default: return { ...head, problem: invalid(`unknown operation ${s.operationType}`) };
  }
  if (!mac(c.hostDvrMacAddress)) return { ...head, problem: invalid(`host_dvr_mac_address '${c.hostDvrMacAddress}' is not a MAC`) };
  const missing = c.subnetRoutingTables.find((t) => !subnets.has(t.subnetId));
  if (missing && op === 'upsert') return { ...head, problem: invalid(`subnet ${missing.subnetId} of its routing tables is not in the message`) };
  return { ...head, goal: { op, subnets: c.subnetRoutingTables.map((t) => t.subnetId) } };
}

function decodeSecurityGroup(s: alcor.SecurityGroupState): Decoded<SecurityGroupGoal> {
  const c = s.configuration;
  const id = c?.id ?? '';
  const head = { id, type: Type.SECURITYGROUP, op: s.operationType };
  if (!c || id === '') return { ...head, problem: invalid('no id') };
  if (!KNOWN_OPS.has(s.operationType)) return { ...head, problem: invalid(`unknown operation ${s.operationType}`) };
  return { ...head, goal: { op: s.operationType === Op.DELETE ? 'delete' : 'upsert', name: c.name, rules: c.securityGroupRules.length } };
}

interface Parts {
  readonly version: 'v1' | 'v2';
  readonly vpcs: Array<[string, alcor.VpcState]>;
  readonly subnets: Array<[string, alcor.SubnetState]>;
  readonly ports: alcor.PortState[];
  readonly neighbors: alcor.NeighborState[];
  readonly dhcp: alcor.DHCPState[];
  readonly routers: alcor.RouterState[];
  readonly securityGroups: alcor.SecurityGroupState[];
  readonly gateways: number;
}

function decodeParts(p: Parts): GoalStateMessage {
  const subnets = new Map<string, SubnetGoal>();
  const badSubnets = new Map<string, string>();
  for (const [key, s] of p.subnets) {
    const got = decodeSubnet(key, s);
    if (typeof got === 'string') badSubnets.set(key, got);
    else subnets.set(key, got);
  }
  const empty = p.vpcs.length + p.subnets.length + p.ports.length + p.neighbors.length + p.dhcp.length + p.routers.length + p.securityGroups.length + p.gateways === 0;
  return {
    version: p.version,
    empty,
    vpcs: p.vpcs.map(([key]) => key),
    subnets,
    badSubnets,
    ports: p.ports.map((s) => decodePort(s, subnets, badSubnets, p.version)),
    neighbors: p.neighbors.map((s) => decodeNeighbor(s, subnets, badSubnets)),
    dhcp: p.dhcp.map((s) => decodeDhcp(s, subnets)),
    routers: p.routers.map((s) => decodeRouter(s, subnets)),
    securityGroups: p.securityGroups.map(decodeSecurityGroup),
  };
}

/** A v2 message: every state present applies (host_resources and format_version are not read, as in Alcor's agent). */
export function decodeV2(m: alcor.GoalStateV2): GoalStateMessage {
  return decodeParts({
    version: 'v2',
    vpcs: Object.entries(m.vpcStates),
    subnets: Object.entries(m.subnetStates),
    ports: Object.values(m.portStates),
    neighbors: Object.values(m.neighborStates),
    dhcp: Object.values(m.dhcpStates),
    routers: Object.values(m.routerStates),
    securityGroups: Object.values(m.securityGroupStates),
    gateways: Object.keys(m.gatewayStates).length,
  });
}

/** A v1 message: lists instead of maps; subnets are keyed by their configuration id. */
export function decodeV1(m: alcor.GoalState): GoalStateMessage {
  return decodeParts({
    version: 'v1',
    vpcs: m.vpcStates.map((s) => [s.configuration?.id ?? '', s]),
    subnets: m.subnetStates.map((s) => [s.configuration?.id ?? '', s]),
    ports: m.portStates,
    neighbors: m.neighborStates,
    dhcp: m.dhcpStates,
    routers: m.routerStates,
    securityGroups: m.securityGroupStates,
    gateways: m.gatewayStates.length,
  });
}
