// The agent benchmark's flags. A bad one is named in the error; nothing runs.
import { BenchOptionError, parseFlags, positiveInt } from '../common/options.js';

export const WAYS = ['agent-veth', 'agent-internal', 'merak', 'merak-serial', 'ovn-heater'] as const;
export type WayName = (typeof WAYS)[number];

export interface BenchOptions {
  readonly vms: number;
  readonly ways: readonly WayName[];
  readonly rounds: number;
  /** The baselines' VMs in flight at once (merak-serial always 1). */
  readonly concurrency: number;
  /** The agent's VMs in flight at once (its batch's concurrency). */
  readonly agentConcurrency: number;
  readonly seed: number;
}

const HELP = `npm run bench:agent -- [options]
  --vms N                 VMs each way creates and deletes (default 300, 1..60000)
  --ways a,b,...          which ways, any of ${WAYS.join(', ')} (default: all)
  --rounds R              every way runs once per round, in a rotated order (default 1)
  --concurrency C         the baselines' VMs in flight (default min(N, 1000), the original Merak's CONCURRENCY)
  --agent-concurrency C   the agent's VMs in flight (default min(N, 4096): the whole batch)
  --seed S                seeds the order of the ways (default: random, printed)
The last line of output is one JSON object with every figure.`;

function intOr(flag: string, text: string | undefined, fallback: number, max: number): number {
  return text === undefined ? fallback : positiveInt(flag, text, max);
}

export function parseBenchOptions(argv: readonly string[]): BenchOptions | 'help' {
  const values = parseFlags(argv, {
    vms: { type: 'string' }, ways: { type: 'string' }, rounds: { type: 'string' }, concurrency: { type: 'string' },
    'agent-concurrency': { type: 'string' }, seed: { type: 'string' }, help: { type: 'boolean' },
  });
  if (values.help) {
    console.log(HELP);
    return 'help';
  }
  const vms = intOr('vms', values.vms, 300, 60_000);
  const ways = values.ways === undefined ? [...WAYS] : values.ways.split(',').map((w) => w.trim());
  for (const w of ways) if (!(WAYS as readonly string[]).includes(w)) throw new BenchOptionError('ways', `unknown way '${w}'; the ways are ${WAYS.join(', ')}`);
  if (ways.length === 0 || new Set(ways).size !== ways.length) throw new BenchOptionError('ways', 'give each way at most once, at least one');
  return {
    vms,
    ways: ways as WayName[],
    rounds: intOr('rounds', values.rounds, 1, 100),
    concurrency: intOr('concurrency', values.concurrency, Math.min(vms, 1000), 60_000),
    agentConcurrency: intOr('agent-concurrency', values['agent-concurrency'], Math.min(vms, 4096), 60_000),
    seed: values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : positiveInt('seed', values.seed, 2 ** 31),
  };
}
