import type * as ConnectCli from '../../lab/cli/connect.js';
import type * as LocalCli from '../../lab/cli/local.js';
import type * as PlanModule from '../../coordinator/plan/index.js';
import type * as ScenarioModule from '../../coordinator/scenario/index.js';

/** The coordinator's CLI internals (local up/down, connect, the planner), which its package does not export. */
export interface Modules {
  local: typeof LocalCli;
  connect: typeof ConnectCli;
  plan: typeof PlanModule;
  scenario: typeof ScenarioModule;
}

export async function loadModules(): Promise<Modules> {
  // From the coordinator's build output beside this one (the package's exports name only its index).
  const dist = (path: string): string => new URL(`../../../coordinator/dist/${path}`, import.meta.url).href;
  const [local, connect, plan, scenario] = await Promise.all([
    import(dist('cli/local.js')) as Promise<typeof LocalCli>,
    import(dist('cli/connect.js')) as Promise<typeof ConnectCli>,
    import(dist('plan/index.js')) as Promise<typeof PlanModule>,
    import(dist('scenario/index.js')) as Promise<typeof ScenarioModule>,
  ]);
  return { local, connect, plan, scenario };
}
