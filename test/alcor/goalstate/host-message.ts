// One GoalStateV2 for one host, built up state by state. As Alcor's NCM sends it: exactly one
// host_resources key (the host's local_ip) listing every state of the message, format_version 0.
import { alcor } from '@merak/proto';
import type { NodeInfo } from '../entities.js';

/** What a push carries, for the push log: a bind (port states), neighbors only, a router change, or a restart re-push. */
export type MessageKind = 'port' | 'neighbor' | 'router' | 'restart';

const { ResourceType } = alcor;

export class HostMessage {
  readonly message: alcor.GoalStateV2 = alcor.GoalStateV2.fromPartial({});
  /** DHCP entry id → the port it belongs to (its key is a random UUID, so the NCM cache needs this). */
  readonly dhcpOwners = new Map<string, string>();
  private readonly resources: alcor.ResourceIdType[] = [];
  private readonly listed = new Set<string>();

  constructor(readonly node: NodeInfo, readonly hostIp: string, private readonly restart = false) {
    this.message.hostResources[hostIp] = { resources: this.resources };
  }

  get kind(): MessageKind {
    if (this.restart) return 'restart';
    if (Object.keys(this.message.portStates).length > 0) return 'port';
    if (Object.keys(this.message.neighborStates).length > 0) return 'neighbor';
    return 'router';
  }

  /** host_resources as the push log shows it. */
  listedResources(): Array<{ type: string; id: string }> {
    return this.resources.map((r) => ({ type: alcor.resourceTypeToJSON(r.type), id: r.id }));
  }

  private list(type: alcor.ResourceType, id: string): void {
    const key = `${type}/${id}`;
    if (this.listed.has(key)) return;
    this.listed.add(key);
    this.resources.push({ type, id });
  }

  hasVpc(id: string): boolean { return id in this.message.vpcStates; }
  hasSubnet(id: string): boolean { return id in this.message.subnetStates; }
  hasSecurityGroup(id: string): boolean { return id in this.message.securityGroupStates; }
  hasRouter(id: string): boolean { return id in this.message.routerStates; }
  neighborOp(key: string): alcor.OperationType | undefined { return this.message.neighborStates[key]?.operationType; }

  setPort(id: string, state: alcor.PortState): void {
    this.message.portStates[id] = state;
    this.list(ResourceType.PORT, id);
  }

  setVpc(id: string, state: alcor.VpcState): void {
    this.message.vpcStates[id] = state;
    this.list(ResourceType.VPC, id);
  }

  setSubnet(id: string, state: alcor.SubnetState): void {
    this.message.subnetStates[id] = state;
    this.list(ResourceType.SUBNET, id);
  }

  setDhcp(id: string, state: alcor.DHCPState, portId: string): void {
    this.message.dhcpStates[id] = state;
    this.dhcpOwners.set(id, portId);
    this.list(ResourceType.DHCP, id);
  }

  setSecurityGroup(id: string, state: alcor.SecurityGroupState): void {
    this.message.securityGroupStates[id] = state;
    this.list(ResourceType.SECURITYGROUP, id);
  }

  /** Keyed by router id; host_resources names it "<hostIp>/<router id>", as NCM leaves it. */
  setRouter(id: string, state: alcor.RouterState): void {
    this.message.routerStates[id] = state;
    this.list(ResourceType.ROUTER, `${this.hostIp}/${id}`);
  }

  /** `key` is "L2/<port id>". */
  setNeighbor(key: string, state: alcor.NeighborState): void {
    this.message.neighborStates[key] = state;
    this.list(ResourceType.NEIGHBOR, key);
  }
}
