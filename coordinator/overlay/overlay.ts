// Applies the standalone data plane: tells each vhost its whole tunnel set (SetTunnels), only when
// it changed since that vhost was last told. A vhost that comes back (restarted, or with another
// underlay address) is told again; so are its peers, whose sets name its address.
import { agentV1 } from '@merak/proto';
import type { Logger } from 'pino';
import { type TunnelSpec, sameTunnels, tunnelSets } from './tunnels.js';

export interface TunnelPort {
  setTunnels(req: agentV1.SetTunnelsRequest): Promise<agentV1.SetTunnelsResponse>;
}

export interface OverlayDeps {
  clientFor(host: string): TunnelPort | undefined;
  /** The vhost's tunnel endpoint ('' / undefined: none). */
  underlayIp(host: string): string | undefined;
  readonly type: 'vxlan' | 'geneve';
  readonly logger: Logger;
  /** vhosts told at once */
  readonly parallelism?: number;
}

export interface OverlayOutcome {
  /** vhosts whose set changed and were told */
  readonly told: number;
  readonly tunnels: number;
  /** "host: reason" for each vhost that could not be told */
  readonly failures: readonly string[];
}

export class Overlay {
  private readonly told = new Map<string, TunnelSpec[]>();

  constructor(private readonly deps: OverlayDeps) {}

  /** The vhost may have lost or changed what it was told (it registered again): tell it again next time. */
  forget(host: string): void {
    this.told.delete(host);
  }

  async apply(vnisByHost: ReadonlyMap<string, ReadonlySet<number>>): Promise<OverlayOutcome> {
    const sets = tunnelSets(vnisByHost, (h) => this.deps.underlayIp(h));
    // Vhosts that had tunnels but now host nothing get an empty set.
    for (const host of this.told.keys()) if (!sets.has(host) && this.told.get(host)!.length > 0) sets.set(host, []);
    const work = [...sets].filter(([host, set]) => !sameTunnels(this.told.get(host), set));
    const failures: string[] = [];
    let tunnels = 0;
    let next = 0;
    const type = this.deps.type === 'geneve' ? agentV1.TunnelType.TUNNEL_TYPE_GENEVE : agentV1.TunnelType.TUNNEL_TYPE_VXLAN;
    const worker = async (): Promise<void> => {
      while (next < work.length) {
        const [host, set] = work[next++]!;
        const client = this.deps.clientFor(host);
        if (!client) {
          failures.push(`${host}: not connected`);
          continue;
        }
        try {
          const res = await client.setTunnels({ tunnels: set, type });
          this.told.set(host, set);
          tunnels += res.tunnels;
          this.deps.logger.debug({ host, tunnels: res.tunnels, added: res.added, removed: res.removed }, 'tunnels set');
        } catch (e) {
          this.told.delete(host);
          failures.push(`${host}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.deps.parallelism ?? 64, work.length) }, worker));
    return { told: work.length - failures.length, tunnels, failures };
  }
}
