// Alcor's GoalState contract on the wire: the field numbers and wire types Alcor's own .proto files
// give (every message we send or read), checked by encoding one field at a time and reading its
// tag, and the gRPC method paths Alcor's NCM and host agent use.
import { describe, expect, it } from 'vitest';
import { alcor } from './index.js';

/** The tag (field number << 3 | wire type) of a message that sets one field. */
function firstTag(bytes: Uint8Array): { field: number; wire: number } {
  let tag = 0;
  let shift = 0;
  for (const b of bytes) {
    tag |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7;
  }
  return { field: tag >>> 3, wire: tag & 7 };
}

const VARINT = 0;
const LEN = 2;

describe('alcor.schema on the wire', () => {
  it('GoalStateV2: format 1, maps 2-10 (host_resources, vpc, subnet, port, dhcp, neighbor, sg, router, gateway); empty = 0 bytes', () => {
    const base = alcor.GoalStateV2.fromPartial({});
    expect(alcor.GoalStateV2.encode(base).finish()).toHaveLength(0);
    const cases: Array<[Partial<alcor.GoalStateV2>, number, number]> = [
      [{ formatVersion: 102 }, 1, VARINT],
      [{ hostResources: { h: { resources: [] } } }, 2, LEN],
      [{ vpcStates: { v: { operationType: 0, configuration: undefined } } }, 3, LEN],
      [{ subnetStates: { s: { operationType: 0, configuration: undefined } } }, 4, LEN],
      [{ portStates: { p: { operationType: 0, configuration: undefined } } }, 5, LEN],
      [{ dhcpStates: { d: { operationType: 0, configuration: undefined } } }, 6, LEN],
      [{ neighborStates: { n: { operationType: 0, configuration: undefined } } }, 7, LEN],
      [{ securityGroupStates: { g: { operationType: 0, configuration: undefined } } }, 8, LEN],
      [{ routerStates: { r: { operationType: 0, configuration: undefined } } }, 9, LEN],
      [{ gatewayStates: { w: { operationType: 0, configuration: undefined } } }, 10, LEN],
    ];
    for (const [m, field, wire] of cases) expect(firstTag(alcor.GoalStateV2.encode({ ...base, ...m }).finish())).toEqual({ field, wire });
  });

  it('GoalState (v1): lists, numbered differently from field 5 on (neighbor 5, sg 6, dhcp 7)', () => {
    const base = alcor.GoalState.fromPartial({});
    const one = (k: keyof alcor.GoalState): number => firstTag(alcor.GoalState.encode({ ...base, [k]: k === 'formatVersion' ? 101 : [{ operationType: 1 }] }).finish()).field;
    expect(['formatVersion', 'vpcStates', 'subnetStates', 'portStates', 'neighborStates', 'securityGroupStates', 'dhcpStates', 'routerStates', 'gatewayStates'].map((k) => one(k as keyof alcor.GoalState))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('configurations: the fields a host agent reads are where Alcor puts them', () => {
    const tag = <T>(fns: { encode(m: T): { finish(): Uint8Array }; fromPartial(p: object): T }, p: object) => firstTag(fns.encode(fns.fromPartial(p)).finish());
    expect(tag(alcor.SubnetConfiguration, { tunnelId: 7000 })).toEqual({ field: 9, wire: VARINT });
    expect(tag(alcor.SubnetConfiguration, { cidr: '10.0.0.0/16' })).toEqual({ field: 8, wire: LEN });
    expect(tag(alcor.SubnetConfiguration, { gateway: { ipAddress: '10.0.0.1', macAddress: '' } })).toEqual({ field: 10, wire: LEN });
    expect(tag(alcor.PortConfiguration, { id: 'p' })).toEqual({ field: 3, wire: LEN });
    expect(tag(alcor.PortConfiguration, { updateType: alcor.UpdateType.FULL })).toEqual({ field: 4, wire: VARINT });
    expect(tag(alcor.PortConfiguration, { macAddress: 'm' })).toEqual({ field: 9, wire: LEN });
    expect(tag(alcor.PortConfiguration, { adminStateUp: true })).toEqual({ field: 10, wire: VARINT });
    expect(tag(alcor.PortConfiguration, { fixedIps: [{ subnetId: 's', ipAddress: 'i' }] })).toEqual({ field: 12, wire: LEN });
    expect(tag(alcor.NeighborConfiguration, { macAddress: 'm' })).toEqual({ field: 7, wire: LEN });
    expect(tag(alcor.NeighborConfiguration, { hostMacAddress: 'm' })).toEqual({ field: 8, wire: LEN });
    expect(tag(alcor.NeighborConfiguration, { hostIpAddress: 'h' })).toEqual({ field: 9, wire: LEN });
    expect(tag(alcor.NeighborConfiguration, { fixedIps: [{ neighborType: 1, subnetId: '', ipAddress: '', arionGroup: '', tunnelId: 0 }] })).toEqual({ field: 10, wire: LEN });
    expect(tag(alcor.DHCPConfiguration, { macAddress: 'm' })).toEqual({ field: 6, wire: LEN });
    expect(tag(alcor.DHCPConfiguration, { ipv4Address: 'i' })).toEqual({ field: 7, wire: LEN });
    expect(tag(alcor.RouterConfiguration, { hostDvrMacAddress: 'm' })).toEqual({ field: 5, wire: LEN });
    expect(tag(alcor.RouterConfiguration, { subnetRoutingTables: [{ subnetId: 's', routingRules: [] }] })).toEqual({ field: 6, wire: LEN });
    expect(tag(alcor.GatewayConfiguration, { gatewayType: alcor.GatewayType.ZETA })).toEqual({ field: 4, wire: VARINT });
    expect(tag(alcor.SecurityGroupConfiguration, { securityGroupRules: [{}] })).toEqual({ field: 7, wire: LEN });
  });

  it('replies and requests', () => {
    const status = alcor.GoalStateOperationReply_GoalStateOperationStatus;
    const at = (p: object) => firstTag(status.encode(status.fromPartial(p)).finish()).field;
    expect([at({ resourceId: 'x' }), at({ resourceType: 2 }), at({ operationType: 1 }), at({ operationStatus: 3 }), at({ dataplaneProgrammingTime: 1 }), at({ networkConfigurationTime: 1 }), at({ stateElapseTime: 1 })]).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(firstTag(alcor.GoalStateOperationReply.encode(alcor.GoalStateOperationReply.fromPartial({ messageTotalOperationTime: 5 })).finish())).toEqual({ field: 3, wire: VARINT });
    expect(firstTag(alcor.NeighborRulesRequest.encode(alcor.NeighborRulesRequest.fromPartial({ neigborstates: [{}] })).finish()).field).toBe(3);
    const req = alcor.HostRequest_ResourceStateRequest;
    expect(firstTag(req.encode(req.fromPartial({ protocol: alcor.Protocol.ARP })).finish()).field).toBe(9);
    // Enum values as Alcor numbers them.
    expect([alcor.OperationStatus.PENDING, alcor.OperationType.DELETE, alcor.ResourceType.ROUTER, alcor.RequestType.AGENT_RESTARTED, alcor.NetworkType.VXLAN_GPE]).toEqual([3, 4, 6, 1, 4]);
  });

  it('serves and calls the paths Alcor uses (package alcor.schema, service GoalStateProvisioner)', () => {
    const s = alcor.GoalStateProvisionerService;
    expect([s.pushNetworkResourceStates.path, s.pushGoalStatesStream.path, s.requestGoalStates.path, s.pushGoalstates.path]).toEqual([
      '/alcor.schema.GoalStateProvisioner/PushNetworkResourceStates', '/alcor.schema.GoalStateProvisioner/PushGoalStatesStream',
      '/alcor.schema.GoalStateProvisioner/RequestGoalStates', '/alcor.schema.GoalStateProvisioner/PushGoalstates',
    ]);
    expect([s.pushGoalStatesStream.requestStream, s.pushGoalStatesStream.responseStream]).toEqual([true, true]);
  });
});
