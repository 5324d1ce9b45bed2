// Where bound ports are, per subnet: what Alcor's DPM knows when it fans a port's neighbor out to
// the other hosts of its subnet. A port is placed by a CREATE/UPDATE push and removed by a DELETE.
import type { NodeInfo, PortEntity } from '../entities.js';
import { type PlacedPort, portSubnets } from './builder.js';

export class Placements {
  private readonly bySubnet = new Map<string, Map<string, PlacedPort>>();
  private readonly byPort = new Map<string, { readonly placed: PlacedPort; readonly subnets: readonly string[] }>();

  /** Places (or re-places) a port; returns where it was before, if it was. */
  place(port: PortEntity, node: NodeInfo): PlacedPort | undefined {
    const previous = this.remove(port.id!);
    const placed: PlacedPort = { port, node };
    const subnets = portSubnets(port);
    this.byPort.set(port.id!, { placed, subnets });
    for (const s of subnets) {
      let ports = this.bySubnet.get(s);
      if (!ports) this.bySubnet.set(s, (ports = new Map()));
      ports.set(port.id!, placed);
    }
    return previous;
  }

  remove(portId: string): PlacedPort | undefined {
    const entry = this.byPort.get(portId);
    if (!entry) return undefined;
    this.byPort.delete(portId);
    for (const s of entry.subnets) {
      const ports = this.bySubnet.get(s);
      ports?.delete(portId);
      if (ports?.size === 0) this.bySubnet.delete(s);
    }
    return entry.placed;
  }

  boundPorts(subnetId: string): ReadonlyMap<string, PlacedPort> {
    return this.bySubnet.get(subnetId) ?? new Map();
  }

  /** The names of the nodes with a bound port in the subnet. */
  nodesOf(subnetId: string): Map<string, NodeInfo> {
    const nodes = new Map<string, NodeInfo>();
    for (const p of this.boundPorts(subnetId).values()) nodes.set(p.node.node_name ?? '', p.node);
    return nodes;
  }

  clear(): void {
    this.bySubnet.clear();
    this.byPort.clear();
  }
}
