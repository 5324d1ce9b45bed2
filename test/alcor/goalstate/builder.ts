// What Alcor's DPM and NCM send to each host for a batch of bound-port changes, one GoalStateV2
// per host. The binding host H1 gets the port, its VPC, subnets, DHCP entries (one per fixed IP),
// security groups, the subnets' routers, and an L2 neighbor for every bound port of its subnets
// (itself included). Every other host with a bound port in one of those subnets gets only the
// port's neighbor, the subnets and their routers. A host that is both gets one merged message.
import { randomUUID } from 'node:crypto';
import { alcor } from '@merak/proto';
import type { NodeInfo, PortEntity, RouterEntity, SecurityGroup, SecurityGroupRule, SubnetEntity, VpcEntity } from '../entities.js';
import { HostMessage } from './host-message.js';

export type PortOp = 'CREATE' | 'UPDATE' | 'DELETE';

/** One bound port change: the port (after the change; as it was for a delete) and its node. */
export interface PortEvent {
  readonly op: PortOp;
  readonly port: PortEntity;
  readonly node: NodeInfo;
}

/** A bound port as the push side knows it (DPM's view of where ports are). */
export interface PlacedPort {
  readonly port: PortEntity;
  readonly node: NodeInfo;
}

export type VpcInfo = Pick<VpcEntity, 'id' | 'project_id' | 'name' | 'cidr' | 'provider:segmentation_id'>;
export type SubnetInfo = Pick<SubnetEntity, 'id' | 'network_id' | 'name' | 'cidr' | 'gateway_ip' | 'gateway_port_detail' | 'enable_dhcp' | 'availability_zone' | 'attached_router_id'>;
export type SecurityGroupInfo = Pick<SecurityGroup, 'id' | 'name' | 'security_group_rules'>;
export type RouterInfo = Pick<RouterEntity, 'id'>;

/** What the builder reads: the server's entities, and which ports are bound where. */
export interface NetworkView {
  vpc(id: string): VpcInfo | undefined;
  subnet(id: string): SubnetInfo | undefined;
  securityGroup(id: string): SecurityGroupInfo | undefined;
  router(id: string): RouterInfo | undefined;
  /** The subnets attached to the router. */
  routerSubnets(routerId: string): SubnetInfo[];
  /** The node named so now (it may have been re-registered since the port was bound). */
  node(name: string): NodeInfo | undefined;
  /** The bound ports of a subnet, by port id, with this batch's changes already applied. */
  boundPorts(subnetId: string): ReadonlyMap<string, PlacedPort>;
}

/** DPM's constant DVR MAC for every router it sends. */
export const HOST_DVR_MAC = 'fe:16:11:00:00:00';

const { OperationType } = alcor;
const OP: Readonly<Record<PortOp, alcor.OperationType>> = { CREATE: OperationType.CREATE, UPDATE: OperationType.UPDATE, DELETE: OperationType.DELETE };

export const neighborKey = (portId: string): string => `L2/${portId}`;

/** The subnets of a port's fixed IPs, each once, in order. */
export function portSubnets(port: PortEntity): string[] {
  return [...new Set((port.fixed_ips ?? []).map((ip) => ip.subnet_id).filter((s): s is string => !!s))];
}

function vpcState(vpc: VpcInfo): alcor.VpcState {
  // tunnel_id stays 0: DPM's v2 path never sets it on the VPC, the subnet carries the VNI.
  return alcor.VpcState.fromPartial({
    operationType: OperationType.INFO,
    configuration: { revisionNumber: 1, id: vpc.id, projectId: vpc.project_id, name: vpc.name ?? '', cidr: vpc.cidr ?? '' },
  });
}

function subnetState(subnet: SubnetInfo, vni: number): alcor.SubnetState {
  return alcor.SubnetState.fromPartial({
    operationType: OperationType.INFO,
    configuration: {
      revisionNumber: 1, id: subnet.id, networkType: alcor.NetworkType.VXLAN, vpcId: subnet.network_id, name: subnet.name ?? '',
      cidr: subnet.cidr, tunnelId: vni, gateway: { ipAddress: subnet.gateway_ip, macAddress: subnet.gateway_port_detail.gateway_macAddress },
      dhcpEnable: subnet.enable_dhcp, availabilityZone: subnet.availability_zone ?? '',
    },
  });
}

/** The router with a (rule-less) routing table per attached subnet. */
export function routerState(router: RouterInfo, subnets: readonly SubnetInfo[], op: alcor.OperationType = OperationType.INFO): alcor.RouterState {
  return alcor.RouterState.fromPartial({
    operationType: op,
    configuration: {
      revisionNumber: 1, id: router.id, hostDvrMacAddress: HOST_DVR_MAC,
      subnetRoutingTables: subnets.map((s) => ({ subnetId: s.id, routingRules: [] })),
    },
  });
}

const PROTOCOLS: Readonly<Record<string, alcor.Protocol>> = {
  tcp: alcor.Protocol.TCP, '6': alcor.Protocol.TCP, udp: alcor.Protocol.UDP, '17': alcor.Protocol.UDP,
  icmp: alcor.Protocol.ICMP, '1': alcor.Protocol.ICMP,
};

function ruleOf(rule: SecurityGroupRule): alcor.SecurityGroupConfiguration_SecurityGroupRule {
  return alcor.SecurityGroupConfiguration_SecurityGroupRule.fromPartial({
    securityGroupId: rule.security_group_id, id: rule.id,
    direction: rule.direction === 'ingress' ? alcor.SecurityGroupConfiguration_Direction.INGRESS : alcor.SecurityGroupConfiguration_Direction.EGRESS,
    ethertype: rule.ethertype === 'IPv6' ? alcor.EtherType.IPV6 : alcor.EtherType.IPV4,
    protocol: rule.protocol === null ? undefined : PROTOCOLS[rule.protocol.toLowerCase()],
    portRangeMin: rule.port_range_min ?? undefined, portRangeMax: rule.port_range_max ?? undefined,
    remoteIpPrefix: rule.remote_ip_prefix ?? undefined, remoteGroupId: rule.remote_group_id ?? undefined,
  });
}

function securityGroupState(sg: SecurityGroupInfo, op: alcor.OperationType): alcor.SecurityGroupState {
  return alcor.SecurityGroupState.fromPartial({
    operationType: op,
    configuration: { revisionNumber: 1, id: sg.id, name: sg.name ?? '', securityGroupRules: sg.security_group_rules.map(ruleOf) },
  });
}

function portState(port: PortEntity, op: alcor.OperationType): alcor.PortState {
  return alcor.PortState.fromPartial({
    operationType: op,
    configuration: {
      revisionNumber: 1, id: port.id!, updateType: alcor.UpdateType.FULL, vpcId: port.network_id ?? '', name: port.name ?? '',
      deviceId: port.device_id ?? '', deviceOwner: port.device_owner ?? '', macAddress: port.mac_address ?? '',
      // Alcor's agent aborts on false; a port is up unless the client said otherwise.
      adminStateUp: port.admin_state_up !== false,
      fixedIps: (port.fixed_ips ?? []).map((ip) => ({ subnetId: ip.subnet_id ?? '', ipAddress: ip.ip_address ?? '' })),
      securityGroupIds: (port.security_groups ?? []).map((id) => ({ id })),
    },
  });
}

function neighborState(port: PortEntity, node: NodeInfo, op: alcor.OperationType): alcor.NeighborState {
  return alcor.NeighborState.fromPartial({
    operationType: op,
    configuration: {
      revisionNumber: 1, id: port.id!, vpcId: port.network_id ?? '', macAddress: port.mac_address ?? '',
      hostIpAddress: node['data-path-ip'] ?? '', hostMacAddress: node.mac_address ?? '',
      fixedIps: (port.fixed_ips ?? []).map((ip) => ({ neighborType: alcor.NeighborType.L2, subnetId: ip.subnet_id ?? '', ipAddress: ip.ip_address ?? '' })),
    },
  });
}

/** The subnet (with its VNI) and, when attached, its router with the router's other subnets. */
export function addSubnet(msg: HostMessage, view: NetworkView, subnetId: string): void {
  if (msg.hasSubnet(subnetId)) return;
  const subnet = view.subnet(subnetId);
  if (!subnet) return; // deleted meanwhile: nothing to describe
  const vni = view.vpc(subnet.network_id)?.['provider:segmentation_id'] ?? 0;
  msg.setSubnet(subnet.id, subnetState(subnet, vni));
  const router = subnet.attached_router_id ? view.router(subnet.attached_router_id) : undefined;
  if (router && !msg.hasRouter(router.id)) {
    const attached = view.routerSubnets(router.id);
    msg.setRouter(router.id, routerState(router, attached));
    // The agent needs every subnet a routing table names in the same message.
    for (const s of attached) addSubnet(msg, view, s.id);
  }
}

/** "L2/<port>" (when not already there with that op) and the subnets it refers to. */
export function addNeighbor(msg: HostMessage, view: NetworkView, port: PortEntity, node: NodeInfo, op: alcor.OperationType): void {
  const key = neighborKey(port.id!);
  if (msg.neighborOp(key) === op) return;
  msg.setNeighbor(key, neighborState(port, view.node(node.node_name ?? '') ?? node, op));
  for (const s of portSubnets(port)) addSubnet(msg, view, s);
}

/** The binding host's part: port, VPC, subnets, DHCP per fixed IP, SGs. */
function addPort(msg: HostMessage, view: NetworkView, event: PortEvent): void {
  const { port } = event;
  const op = OP[event.op];
  msg.setPort(port.id!, portState(port, op));
  const vpc = port.network_id === undefined ? undefined : view.vpc(port.network_id);
  if (vpc && !msg.hasVpc(vpc.id)) msg.setVpc(vpc.id, vpcState(vpc));
  for (const s of portSubnets(port)) addSubnet(msg, view, s);
  for (const ip of port.fixed_ips ?? []) {
    const id = randomUUID(); // a new id on every push, as DPM does
    msg.setDhcp(id, alcor.DHCPState.fromPartial({
      operationType: op,
      configuration: { revisionNumber: 1, id, subnetId: ip.subnet_id ?? '', macAddress: port.mac_address ?? '', ipv4Address: ip.ip_address ?? '' },
    }), port.id!);
  }
  for (const sgId of port.security_groups ?? []) {
    const sg = view.securityGroup(sgId);
    if (sg && !msg.hasSecurityGroup(sg.id)) msg.setSecurityGroup(sg.id, securityGroupState(sg, op));
  }
}

/** A node's host_resources key and dial address; undefined without a local_ip. */
export const hostIpOf = (node: NodeInfo): string | undefined => node.local_ip ?? undefined;

/**
 * The messages of one batch, one per host (by node name). Events are applied in order; a port's
 * neighbor op is the op of its own event in this batch, CREATE for ports bound earlier.
 */
export function buildPortBatch(view: NetworkView, events: readonly PortEvent[]): HostMessage[] {
  const byHost = new Map<string, HostMessage>();
  const batchOps = new Map<string, alcor.OperationType>();
  for (const e of events) batchOps.set(e.port.id!, OP[e.op]);
  const messageFor = (node: NodeInfo): HostMessage | undefined => {
    const name = node.node_name ?? '';
    let msg = byHost.get(name);
    const ip = hostIpOf(node);
    if (!msg && ip !== undefined) byHost.set(name, (msg = new HostMessage(node, ip)));
    return msg;
  };
  for (const e of events) {
    const h1 = messageFor(e.node);
    if (h1) addPort(h1, view, e);
    for (const s of portSubnets(e.port)) {
      for (const [qid, q] of view.boundPorts(s)) {
        if (qid === e.port.id) continue;
        if (h1) addNeighbor(h1, view, q.port, q.node, batchOps.get(qid) ?? OperationType.CREATE);
        if (q.node.node_name !== e.node.node_name) {
          const h2 = messageFor(view.node(q.node.node_name ?? '') ?? q.node);
          if (h2) addNeighbor(h2, view, e.port, e.node, OP[e.op]);
        }
      }
    }
    if (h1) addNeighbor(h1, view, e.port, e.node, OP[e.op]);
  }
  return [...byHost.values()];
}

/** The message about a router change for a host with bound ports in the subnet. */
export function buildRouterChange(view: NetworkView, node: NodeInfo, router: RouterInfo, subnetId: string, detached: boolean): HostMessage | undefined {
  const ip = hostIpOf(node);
  if (ip === undefined) return undefined;
  const msg = new HostMessage(node, ip);
  const attached = view.routerSubnets(router.id);
  // Detached and no subnet left: the router is gone for this host.
  const op = detached && attached.length === 0 ? OperationType.DELETE : OperationType.INFO;
  msg.setRouter(router.id, routerState(router, attached, op));
  addSubnet(msg, view, subnetId);
  for (const s of attached) addSubnet(msg, view, s.id);
  return msg;
}
