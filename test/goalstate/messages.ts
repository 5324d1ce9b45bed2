// Hand-built GoalState messages for the conformance tests: the shapes Alcor's NCM sends (a port
// bind to its host, a neighbor to the others), every field set the way Alcor sets it, each
// overridable to make it malformed.
import { alcor } from '@merak/proto';

const { OperationType: Op } = alcor;

export function emptyV2(): alcor.GoalStateV2 {
  return { formatVersion: 0, hostResources: {}, vpcStates: {}, subnetStates: {}, portStates: {}, dhcpStates: {}, neighborStates: {}, securityGroupStates: {}, routerStates: {}, gatewayStates: {} };
}

export interface SubnetSpec { id: string; vpcId: string; cidr: string; vni: number; gatewayIp?: string; networkType?: alcor.NetworkType }

export function subnetState(s: SubnetSpec): alcor.SubnetState {
  return {
    operationType: Op.INFO,
    configuration: {
      revisionNumber: 1, requestId: '', id: s.id, updateType: alcor.UpdateType.DELTA, networkType: s.networkType ?? alcor.NetworkType.VXLAN, vpcId: s.vpcId,
      name: `subnet-${s.id.slice(0, 4)}`, cidr: s.cidr, tunnelId: s.vni, gateway: { ipAddress: s.gatewayIp ?? '', macAddress: 'aa:bb:cc:00:00:01' },
      dhcpEnable: true, extraDhcpOptions: [], dnsEntryList: [], availabilityZone: '',
    },
  };
}

export function vpcState(id: string): alcor.VpcState {
  return { operationType: Op.INFO, configuration: { revisionNumber: 1, requestId: '', id, updateType: alcor.UpdateType.DELTA, projectId: 'p', name: 'vpc', cidr: '10.0.0.0/8', tunnelId: 0, gatewayIds: [] } };
}

export interface PortSpec { id: string; vpcId: string; subnetId: string; ip: string; mac: string; op?: alcor.OperationType }

export function portState(p: PortSpec, c: Partial<alcor.PortConfiguration> = {}): alcor.PortState {
  return {
    operationType: p.op ?? Op.CREATE,
    configuration: {
      revisionNumber: 1, requestId: '', id: p.id, updateType: alcor.UpdateType.FULL, vpcId: p.vpcId, name: '', deviceId: 'vm', deviceOwner: 'compute:nova',
      macAddress: p.mac, adminStateUp: true, hostInfo: undefined, fixedIps: [{ subnetId: p.subnetId, ipAddress: p.ip }], allowAddressPairs: [], securityGroupIds: [],
      ...c,
    },
  };
}

export interface NeighborSpec { id: string; vpcId: string; subnetId: string; ip: string; mac: string; hostIp: string; hostMac?: string; op?: alcor.OperationType }

export function neighborState(n: NeighborSpec, c: Partial<alcor.NeighborConfiguration> = {}): alcor.NeighborState {
  return {
    operationType: n.op ?? Op.CREATE,
    configuration: {
      revisionNumber: 1, requestId: '', id: n.id, updateType: alcor.UpdateType.DELTA, vpcId: n.vpcId, name: '', macAddress: n.mac,
      hostMacAddress: n.hostMac ?? '', hostIpAddress: n.hostIp, fixedIps: [{ neighborType: alcor.NeighborType.L2, subnetId: n.subnetId, ipAddress: n.ip, arionGroup: '', tunnelId: 0 }],
      allowAddressPairs: [], ...c,
    },
  };
}

export function dhcpState(id: string, subnetId: string, mac: string, ip: string, op: alcor.OperationType = Op.CREATE): alcor.DHCPState {
  return { operationType: op, configuration: { revisionNumber: 1, requestId: '', id, updateType: alcor.UpdateType.DELTA, subnetId, macAddress: mac, ipv4Address: ip, ipv6Address: '', portHostName: '' } };
}

export function securityGroupState(id: string, op: alcor.OperationType = Op.CREATE): alcor.SecurityGroupState {
  return {
    operationType: op,
    configuration: {
      revisionNumber: 1, requestId: '', id, updateType: alcor.UpdateType.DELTA, vpcId: '', name: 'web',
      securityGroupRules: [{ operationType: Op.INFO, securityGroupId: id, id: `${id}-r1`, direction: alcor.SecurityGroupConfiguration_Direction.INGRESS, ethertype: alcor.EtherType.IPV4, protocol: alcor.Protocol.TCP, portRangeMin: 80, portRangeMax: 80, remoteIpPrefix: '0.0.0.0/0', remoteGroupId: '' }],
    },
  };
}

export function routerState(id: string, subnetIds: readonly string[], op: alcor.OperationType = Op.INFO): alcor.RouterState {
  return {
    operationType: op,
    configuration: {
      revisionNumber: 1, requestId: '', id, updateType: alcor.UpdateType.DELTA, hostDvrMacAddress: 'fe:16:11:00:00:00',
      subnetRoutingTables: subnetIds.map((subnetId) => ({ subnetId, routingRules: [] })),
    },
  };
}

/** A status of a reply, reduced to what a test checks. */
export function statusesOf(reply: alcor.GoalStateOperationReply): Array<{ id: string; type: string; op: string; status: string }> {
  return reply.operationStatuses
    .map((s) => ({ id: s.resourceId, type: alcor.resourceTypeToJSON(s.resourceType), op: alcor.operationTypeToJSON(s.operationType), status: alcor.operationStatusToJSON(s.operationStatus) }))
    .sort((a, b) => `${a.type}/${a.id}`.localeCompare(`${b.type}/${b.id}`));
}
