// A hollow host's GoalState data plane: no OVS, no kernel. Ports are "attached" at once and
// neighbors are recorded, so a control plane's pushes to 10,000 hollow hosts are taken, validated
// and answered SUCCESS like a real host's, at no cost beyond memory.
import type { GoalStateDataPlane, GoalStateNeighbor, GoalStateNeighborKey } from './contracts.js';

export class HollowGoalStateDataPlane implements GoalStateDataPlane {
  private readonly neighbors = new Map<string, GoalStateNeighbor>();
  private readonly ports = new Map<string, number>();

  /** `ownIps`: the addresses this hollow host stands for (its --underlay-ip). */
  constructor(private readonly ownIps: ReadonlySet<string>) {}

  isLocal(hostIp: string): boolean {
    return this.ownIps.has(hostIp);
  }

  async attachPort(tap: string, vni: number): Promise<'attached'> {
    this.ports.set(tap, vni);
    return 'attached';
  }

  async detachPort(tap: string): Promise<void> {
    this.ports.delete(tap);
  }

  async updateNeighbors(upsert: readonly GoalStateNeighbor[], remove: readonly GoalStateNeighborKey[]): Promise<void> {
    for (const k of remove) this.neighbors.delete(`${k.vni}/${k.ip}`);
    for (const n of upsert) this.neighbors.set(`${n.vni}/${n.ip}`, n);
  }

  /** Nothing survives a hollow agent. */
  async recover(): Promise<{ ports: never[]; neighbors: never[] }> {
    return { ports: [], neighbors: [] };
  }

  /** The tunnels a real host would have for these neighbors: (host, VNI) pairs. */
  tunnels(): number {
    return new Set([...this.neighbors.values()].map((n) => `${n.hostIp}/${n.vni}`)).size;
  }
}
