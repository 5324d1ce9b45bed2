// The coordinator benchmark's flags. A bad one is named in the error; nothing runs.
import { BenchOptionError, parseFlags, positiveInt } from '../common/options.js';

export interface BenchOptions {
  readonly vms: number;
  readonly agents: number;
  /** Hollow agents per child process. */
  readonly perProcess: number;
  /** The standalone data plane: 'flood' (tunnels only) or 'neighbors' (tunnels and each vhost's neighbor table). */
  readonly dataplane: 'flood' | 'neighbors';
  /** Profile the measured window into this file. */
  readonly cpuProf: string | undefined;
}

const HELP = `npm run bench:coordinator -- [options]
  --vms N            VMs of the scenario, one VPC (default 1000000)
  --agents M         hollow agents (the real agent and its gRPC API, no kernel work), each with its
                     own underlay address 100.64.x.y (default 10000, at most 4000000)
  --per-process K    hollow agents per child process (default 2500)
  --dataplane MODE   flood (default): the standalone control plane sends every vhost its tunnel set;
                     neighbors: also every vhost's neighbor table, which holds every VM of its VPC
                     (VMs x vhosts entries: 10^10 at the default size, so only for small runs)
  --cpu-prof FILE    a CPU profile of the measured window (the scenario, then the join and leave)
  -h, --help         this text
The coordinator (engine, store, registry, metrics, tunnel sets, gRPC) runs in this process alone:
its CPU and peak RSS are measured. After the scenario, one more vhost joins the VPC and leaves it.
The last line of output is one JSON object; the exit code is non-zero if any VM or check failed.`;

export function parseBenchOptions(argv: readonly string[]): BenchOptions | 'help' {
  const values = parseFlags(argv, {
    vms: { type: 'string', default: '1000000' }, agents: { type: 'string', default: '10000' }, 'per-process': { type: 'string', default: '2500' },
    dataplane: { type: 'string', default: 'flood' }, 'cpu-prof': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(HELP);
    return 'help';
  }
  const dataplane = values.dataplane;
  if (dataplane !== 'flood' && dataplane !== 'neighbors') throw new BenchOptionError('dataplane', `'${dataplane}' is neither flood nor neighbors`);
  if (values['cpu-prof'] === '') throw new BenchOptionError('cpu-prof', 'give a file name');
  return {
    vms: positiveInt('vms', values.vms, 100_000_000),
    // One address each in 100.64.0.0/10, the last one for the vhost that joins.
    agents: positiveInt('agents', values.agents, 4_000_000),
    perProcess: positiveInt('per-process', values['per-process'], 100_000),
    dataplane,
    cpuProf: values['cpu-prof'],
  };
}
