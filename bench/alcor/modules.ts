// The modules this bench drives that no package exports: the Alcor-compatible server (test/) and the
// agent's GoalState host agent, server and hollow data plane. Loaded from their build output beside
// this one, so the bench runs what `npx tsc -b` built.
import type * as AlcorModule from '../../test/alcor/index.js';
import type * as HollowDataPlaneModule from '../../agent/goalstate/hollow-data-plane.js';
import type * as HostAgentModule from '../../agent/goalstate/host-agent.js';
import type * as GoalStateServerModule from '../../agent/goalstate/server.js';

const dist = (path: string): string => new URL(`../../../${path}`, import.meta.url).href;

export function loadAlcor(): Promise<typeof AlcorModule> {
  return import(dist('test/dist/alcor/index.js')) as Promise<typeof AlcorModule>;
}

export interface GoalStateModules {
  readonly hostAgent: typeof HostAgentModule;
  readonly server: typeof GoalStateServerModule;
  readonly hollow: typeof HollowDataPlaneModule;
}

export async function loadGoalState(): Promise<GoalStateModules> {
  const [hostAgent, server, hollow] = await Promise.all([
    import(dist('agent/dist/goalstate/host-agent.js')) as Promise<typeof HostAgentModule>,
    import(dist('agent/dist/goalstate/server.js')) as Promise<typeof GoalStateServerModule>,
    import(dist('agent/dist/goalstate/hollow-data-plane.js')) as Promise<typeof HollowDataPlaneModule>,
  ]);
  return { hostAgent, server, hollow };
}
