// Standalone mode: the coordinator is the control plane. Addresses come from the plan; the data
// plane is an overlay of tunnels between vhosts, one VNI per VPC, and on each vhost a neighbor
// table of the VMs of its VNIs (see tunnel-sets/): ARP is answered on the asking VM's own vhost and
// frames go straight to the right tunnel, nothing is flooded between vhosts. A VM is put on its
// VPC's segment, with an on-link route to the VPC's CIDR when the VPC has several subnets (one
// broadcast domain per VPC: there is no router, and none is needed).
import type { agentV1 } from '@merak/proto';
import type { Logger } from 'pino';
import type { NeighborChange, TunnelSets } from '../tunnel-sets/tunnel-sets.js';
import type { PlannedVm } from '../plan/index.js';
import { type ControlPlane, ControlPlaneError, type ControlPlaneFactory, type LiveScenarios, type ScenarioContext } from './provider.js';
import { assignVnis } from './vni-policy.js';

export interface StandaloneDeps {
  /** The vhosts' tunnel sets and neighbor tables: the overlay data plane this control plane makes. */
  readonly tunnelSets: TunnelSets;
  readonly logger: Logger;
}

/** Reconnections within this window are handled together (a fleet restarting is one refresh). */
const REFRESH_DEBOUNCE_MS = 200;

export function standaloneControlPlane(deps: StandaloneDeps): ControlPlaneFactory {
  return (live) => create(deps, live);
}

function create(deps: StandaloneDeps, live: LiveScenarios): ControlPlane {
  const applyTunnels = async (except?: string): Promise<void> => {
    const out = await deps.tunnelSets.apply(live.liveVnis(except));
    if (out.failures.length > 0) throw new ControlPlaneError('could not set the overlay tunnels on every vhost', out.failures);
    if (out.told > 0) deps.logger.info({ vhostsTold: out.told, tunnels: out.tunnels }, 'overlay set');
  };
  // Made only when sent: with flood and learn there are no tables, and each vhost's holds every VM
  // of its VNIs (VMs x vhosts entries: 10^10 for a million VMs on 10,000 vhosts).
  const sendNeighbors = async (changesOf: () => Map<string, NeighborChange>, what: string): Promise<void> => {
    if (!deps.tunnelSets.sendsNeighbors) return;
    const changes = changesOf();
    if (changes.size === 0) return;
    const out = await deps.tunnelSets.updateNeighbors(changes);
    if (out.failures.length > 0) throw new ControlPlaneError(`could not ${what} on every vhost`, out.failures);
    deps.logger.info({ vhostsTold: out.told, entries: out.entries, flowMods: out.flowMods, slowestMs: out.slowestMicros / 1000 }, `neighbor tables: ${what}`);
  };
  /** The scenario's VMs, as each of its vhosts' neighbor table change (its VNIs are its own). */
  const changesOf = (ctx: ScenarioContext, kind: 'upsert' | 'remove'): Map<string, NeighborChange> => {
    const byHost = live.liveNeighbors(new Set(ctx.plan.hosts), { only: ctx.id });
    return new Map([...byHost].map(([host, vms]) => [host, kind === 'upsert'
      ? { upsert: vms, remove: [], replace: false }
      : { upsert: [], remove: vms.map((v) => ({ vni: v.vni, ip: v.ip })), replace: false }]));
  };
  const reconnected = new Set<string>();
  /** Each vhost's address as the neighbor entries sent name it: a vhost that comes back with another one makes its peers' entries stale. */
  const addressOf = new Map<string, string>();
  let refresh: NodeJS.Timeout | undefined;
  return {
    onTunnelSets: true,
    prepareScenario: (scenario, liveScenarios) => assignVnis(scenario, liveScenarios),
    async setUp(ctx) {
      for (const h of ctx.plan.hosts) addressOf.set(h, deps.tunnelSets.underlayIpOf(h) ?? '');
      await applyTunnels();
      await sendNeighbors(() => changesOf(ctx, 'upsert'), 'add the scenario\'s VMs');
    },
    decorate(_ctx: ScenarioContext, vm: PlannedVm, spec: agentV1.VmSpec): void {
      spec.vni = vm.vni;
      if (vm.vpcRoute) spec.routes = [{ destination: `${vm.vpcRoute.destination}/${vm.vpcRoute.prefixLength}`, via: '' }];
    },
    async tearDown(ctx) {
      await sendNeighbors(() => changesOf(ctx, 'remove'), 'remove the scenario\'s VMs');
      await applyTunnels(ctx.id);
    },
    // A vhost registered again (restarted, or moved): give it its whole neighbor table (it may have
    // lost it, or hold a stale one), then tell it and its peers the tunnels again, soon. The table
    // goes first: a restarted agent rewrites br-tun at its first call, and with the table in hand
    // it rewrites the flows it had. A vhost back with another address: its peers' entries name the
    // old one, so every vhost gets its table again.
    agentConnected(host: string): void {
      deps.tunnelSets.forget(host);
      reconnected.add(host);
      if (refresh) return;
      refresh = setTimeout(() => {
        refresh = undefined;
        const moved = [...reconnected].some((h) => addressOf.has(h) && addressOf.get(h) !== deps.tunnelSets.underlayIpOf(h));
        const hosts = moved ? new Set([...reconnected, ...live.liveHosts('standalone')]) : new Set(reconnected);
        reconnected.clear();
        for (const h of hosts) addressOf.set(h, deps.tunnelSets.underlayIpOf(h) ?? '');
        const changes = (): Map<string, NeighborChange> => {
          const tables = live.liveNeighbors(hosts, {});
          // Hosts no live scenario uses get an empty table: whatever they hold is stale.
          return new Map([...hosts].map((h): [string, NeighborChange] => [h, { upsert: tables.get(h) ?? [], remove: [], replace: true }]));
        };
        sendNeighbors(changes, 'restore the tables of vhosts that came back')
          .then(() => applyTunnels())
          .catch((e: unknown) => deps.logger.warn({ err: e }, 'could not refresh the overlay after agents came back'));
      }, REFRESH_DEBOUNCE_MS);
      refresh.unref();
    },
  };
}
