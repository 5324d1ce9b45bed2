import type * as ConnectCli from '../../lab/cli/connect.js';
import type * as LocalCli from '../../lab/cli/local.js';
import type * as PlanModule from '../../coordinator/plan/index.js';
import type * as ScenarioModule from '../../coordinator/scenario/index.js';

/** The lab's CLI internals (local up/down, connect) and the coordinator's planner, which their packages do not export. */
export interface Modules {
  local: typeof LocalCli;
  connect: typeof ConnectCli;
  plan: typeof PlanModule;
  scenario: typeof ScenarioModule;
}

export async function loadModules(): Promise<Modules> {
  // From the packages' build output beside this one (their exports name only their index).
  const dist = (path: string): string => new URL(`../../../${path}`, import.meta.url).href;
  const [local, connect, plan, scenario] = await Promise.all([
    import(dist('lab/dist/cli/local.js')) as Promise<typeof LocalCli>,
    import(dist('lab/dist/cli/connect.js')) as Promise<typeof ConnectCli>,
    import(dist('coordinator/dist/plan/index.js')) as Promise<typeof PlanModule>,
    import(dist('coordinator/dist/scenario/index.js')) as Promise<typeof ScenarioModule>,
  ]);
  return { local, connect, plan, scenario };
}
