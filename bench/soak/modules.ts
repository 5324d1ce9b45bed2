// The modules the soak drives that no package exports: the local emulation's CLI internals (up,
// down, its records, the supervisor's units) and the Alcor-compatible server (test/). Loaded from
// their build output beside this one, so the soak runs what `npx tsc -b` built.
import type * as ConnectCli from '../../lab/cli/connect.js';
import type * as LocalCli from '../../lab/cli/local.js';
import type * as EmulationState from '../../lab/local/emulation-state.js';
import type * as LocalRecord from '../../lab/local/local-record.js';
import type * as ProcessRecord from '../../lab/local/process-record.js';
import type * as Units from '../../lab/local/supervisor/units.js';
import type * as AlcorModule from '../../test/alcor/index.js';

export interface SoakModules {
  readonly local: typeof LocalCli;
  readonly connect: typeof ConnectCli;
  readonly state: typeof EmulationState;
  readonly record: typeof LocalRecord;
  readonly processes: typeof ProcessRecord;
  readonly units: typeof Units;
  readonly alcor: typeof AlcorModule;
}

const dist = (path: string): string => new URL(`../../../${path}`, import.meta.url).href;

export async function loadSoakModules(): Promise<SoakModules> {
  const [local, connect, state, record, processes, units, alcor] = await Promise.all([
    import(dist('lab/dist/cli/local.js')) as Promise<typeof LocalCli>,
    import(dist('lab/dist/cli/connect.js')) as Promise<typeof ConnectCli>,
    import(dist('lab/dist/local/emulation-state.js')) as Promise<typeof EmulationState>,
    import(dist('lab/dist/local/local-record.js')) as Promise<typeof LocalRecord>,
    import(dist('lab/dist/local/process-record.js')) as Promise<typeof ProcessRecord>,
    import(dist('lab/dist/local/supervisor/units.js')) as Promise<typeof Units>,
    import(dist('test/dist/alcor/index.js')) as Promise<typeof AlcorModule>,
  ]);
  return { local, connect, state, record, processes, units, alcor };
}
