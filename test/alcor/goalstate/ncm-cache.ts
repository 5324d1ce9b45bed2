// The NCM's cache: per host, the states it was sent, as they stand now. Alcor's NCM stores every
// state it pushes; here a DELETE also removes what it deletes, so the cache is the host's current
// goal state and a restarted agent can be given all of it again (RequestGoalStates).
import { alcor } from '@merak/proto';
import type { NodeInfo } from '../entities.js';
import { HostMessage } from './host-message.js';

const { OperationType } = alcor;

class HostCache {
  readonly ports = new Map<string, alcor.PortState>();
  /** DHCP id → state and owning port. */
  readonly dhcp = new Map<string, { readonly state: alcor.DHCPState; readonly portId: string }>();
  readonly neighbors = new Map<string, alcor.NeighborState>();
  readonly subnets = new Map<string, alcor.SubnetState>();
  readonly vpcs = new Map<string, alcor.VpcState>();
  readonly securityGroups = new Map<string, alcor.SecurityGroupState>();
  readonly routers = new Map<string, alcor.RouterState>();
}

const isDelete = (s: { operationType: alcor.OperationType }): boolean => s.operationType === OperationType.DELETE;

/** A copy whose op is CREATE: how a restart re-push presents every state it re-sends. */
function asCreate<T extends { operationType: alcor.OperationType }>(state: T): T {
  return { ...structuredClone(state), operationType: OperationType.CREATE };
}

export class NcmCache {
  private readonly hosts = new Map<string, HostCache>();

  /** Records a message pushed (or about to be pushed) to the node. */
  apply(nodeName: string, msg: HostMessage): void {
    let host = this.hosts.get(nodeName);
    if (!host) this.hosts.set(nodeName, (host = new HostCache()));
    const m = msg.message;
    for (const [id, state] of Object.entries(m.portStates)) {
      if (!isDelete(state)) {
        host.ports.set(id, state);
        continue;
      }
      host.ports.delete(id);
      for (const [dhcpId, d] of host.dhcp) if (d.portId === id) host.dhcp.delete(dhcpId);
    }
    for (const [id, state] of Object.entries(m.dhcpStates)) {
      const portId = msg.dhcpOwners.get(id) ?? '';
      if (!isDelete(state)) host.dhcp.set(id, { state, portId });
    }
    for (const [key, state] of Object.entries(m.neighborStates)) {
      if (isDelete(state)) host.neighbors.delete(key);
      else host.neighbors.set(key, state);
    }
    for (const [id, state] of Object.entries(m.subnetStates)) host.subnets.set(id, state);
    for (const [id, state] of Object.entries(m.vpcStates)) host.vpcs.set(id, state);
    for (const [id, state] of Object.entries(m.securityGroupStates)) if (!isDelete(state)) host.securityGroups.set(id, state);
    for (const [id, state] of Object.entries(m.routerStates)) {
      if (isDelete(state)) host.routers.delete(id);
      else host.routers.set(id, state);
    }
  }

  /**
   * The host's whole current state as one message: its bound ports, their DHCP entries, every
   * neighbor of their subnets, and the subnets, VPCs, SGs and routers they need; ports, DHCP and
   * neighbors as CREATE. A host with nothing gets a message listing nothing.
   */
  restartMessage(node: NodeInfo, hostIp: string): HostMessage {
    const msg = new HostMessage(node, hostIp, true);
    const host = this.hosts.get(node.node_name ?? '');
    if (!host) return msg;
    const subnets = new Set<string>();
    const vpcs = new Set<string>();
    const sgs = new Set<string>();
    for (const [id, state] of host.ports) {
      msg.setPort(id, asCreate(state));
      const c = state.configuration!;
      vpcs.add(c.vpcId);
      for (const ip of c.fixedIps) subnets.add(ip.subnetId);
      for (const sg of c.securityGroupIds) sgs.add(sg.id);
    }
    for (const [id, d] of host.dhcp) if (host.ports.has(d.portId)) msg.setDhcp(id, asCreate(d.state), d.portId);
    for (const [key, state] of host.neighbors) {
      if (!state.configuration!.fixedIps.some((ip) => subnets.has(ip.subnetId))) continue;
      msg.setNeighbor(key, asCreate(state));
      for (const ip of state.configuration!.fixedIps) subnets.add(ip.subnetId);
    }
    for (const [id, state] of host.routers) {
      const tables = state.configuration!.subnetRoutingTables;
      if (!tables.some((t) => subnets.has(t.subnetId))) continue;
      msg.setRouter(id, structuredClone(state));
      for (const t of tables) subnets.add(t.subnetId);
    }
    for (const id of subnets) {
      const s = host.subnets.get(id);
      if (s) msg.setSubnet(id, structuredClone(s));
    }
    for (const id of vpcs) {
      const v = host.vpcs.get(id);
      if (v) msg.setVpc(id, structuredClone(v));
    }
    for (const id of sgs) {
      const sg = host.securityGroups.get(id);
      if (sg) msg.setSecurityGroup(id, { ...structuredClone(sg), operationType: OperationType.CREATE });
    }
    return msg;
  }

  clear(): void {
    this.hosts.clear();
  }
}
