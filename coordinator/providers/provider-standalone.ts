// Standalone mode: the coordinator is the control plane. Addresses come from the plan; the data
// plane is an overlay of tunnels between vhosts, one VNI per VPC (see overlay/). A VM is put on its
// VPC's segment, with an on-link route to the VPC's CIDR when the VPC has several subnets (one
// broadcast domain per VPC: there is no router, and none is needed).
import type { agentV1 } from '@merak/proto';
import type { Logger } from 'pino';
import type { Overlay } from '../overlay/overlay.js';
import type { PlannedVm } from '../plan/index.js';
import { type ControlPlane, ControlPlaneError, type ControlPlaneFactory, type LiveScenarios, type ScenarioContext } from './provider.js';

export interface StandaloneDeps {
  readonly overlay: Overlay;
  readonly logger: Logger;
}

/** Reconnections within this window are handled together (a fleet restarting is one refresh). */
const REFRESH_DEBOUNCE_MS = 200;

export function standaloneControlPlane(deps: StandaloneDeps): ControlPlaneFactory {
  return (live) => create(deps, live);
}

function create(deps: StandaloneDeps, live: LiveScenarios): ControlPlane {
  const apply = async (except?: string): Promise<void> => {
    const out = await deps.overlay.apply(live.liveVnis(except));
    if (out.failures.length > 0) throw new ControlPlaneError('could not set the overlay tunnels on every vhost', out.failures);
    if (out.told > 0) deps.logger.info({ vhostsTold: out.told, tunnels: out.tunnels }, 'overlay set');
  };
  let refresh: NodeJS.Timeout | undefined;
  return {
    setUp: () => apply(),
    decorate(_ctx: ScenarioContext, vm: PlannedVm, spec: agentV1.VmSpec): void {
      spec.vni = vm.vni;
      if (vm.vpcRoute) spec.routes = [{ destination: `${vm.vpcRoute.destination}/${vm.vpcRoute.prefixLength}`, via: '' }];
    },
    tearDown: (ctx) => apply(ctx.id),
    // A vhost registered again (restarted, or moved): tell it and its peers the overlay again, soon.
    agentConnected(host: string): void {
      deps.overlay.forget(host);
      if (refresh) return;
      refresh = setTimeout(() => {
        refresh = undefined;
        apply().catch((e: unknown) => deps.logger.warn({ err: e }, 'could not refresh the overlay after agents came back'));
      }, REFRESH_DEBOUNCE_MS);
      refresh.unref();
    },
  };
}
