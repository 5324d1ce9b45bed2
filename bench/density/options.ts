// bench:density's flags.
import { BenchOptionError, parseFlags, positiveInt } from '../common/options.js';

export const DENSITY_HELP = `bench:density: how many vhosts one machine holds. A \`local up\` of --hosts vhosts
(each its own namespace, ovsdb-server, ovs-vswitchd and agent, as 'merak local up' makes them), a
scenario of --vms VMs spread evenly over them in one VPC, a ping test on --pairs sampled pairs,
then the figures: up time, create rate, memory per vhost (the machine's MemAvailable before and
after, and every process's PSS by kind), as the last line, JSON. Everything is removed at the end.

Usage: npm run bench:density -- [--hosts N (default 200)] [--vms N (default 10 x hosts)]
  [--agents-per-process N,M (default 1,25: each way on its own emulation, in that order; 1 is an
   agent process per vhost, as 'local up' makes them by default, N: N vhosts share one, as
   'local up --agents-per-process N' makes them)]
  [--pairs N (default 200)] [--settle-ms MS (default 5000: the wait before each memory reading)]
`;

export interface DensityOptions {
  readonly hosts: number;
  readonly vms: number;
  readonly pairs: number;
  readonly settleMs: number;
  readonly agentsPerProcess: readonly number[];
}

/** The underlay is one /24 (TEST-NET): room for 250 vhosts beside the machine's own address. */
const MAX_HOSTS = 250;

export function parseDensityOptions(argv: readonly string[]): DensityOptions | 'help' {
  const v = parseFlags(argv, {
    hosts: { type: 'string' }, vms: { type: 'string' }, pairs: { type: 'string' }, 'settle-ms': { type: 'string' }, 'agents-per-process': { type: 'string' }, help: { type: 'boolean' },
  });
  if (v.help) return 'help';
  const hosts = positiveInt('hosts', v.hosts ?? '200', MAX_HOSTS);
  const vms = positiveInt('vms', v.vms ?? String(10 * hosts), 100_000);
  if (vms < 2) throw new BenchOptionError('vms', 'at least 2 VMs (the ping test needs a pair)');
  return { hosts, vms, pairs: positiveInt('pairs', v.pairs ?? '200', 100_000), settleMs: positiveInt('settle-ms', v['settle-ms'] ?? '5000', 600_000),
    agentsPerProcess: (v['agents-per-process'] ?? '1,25').split(',').map((x) => positiveInt('agents-per-process', x, 1000)),
  };
}
