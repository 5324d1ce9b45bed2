// The soak's command line.
export const FAULT_KINDS = ['agent-kill', 'coordinator-kill', 'vswitchd-restart', 'alcor-errors'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface SoakOptions {
  readonly cycles: number;
  readonly vhosts: number;
  readonly vms: number;
  readonly faults: readonly FaultKind[];
  readonly healTimeoutMs: number;
  readonly cycleTimeoutMs: number;
  readonly seed: number;
}

export const HELP = `npm run soak -- [options]

Create/delete cycles on a fresh local emulation (its own folder and name prefix), in Alcor mode
against the Alcor-compatible server run by the soak, with one fault injected before each cycle, in
turn from --faults:
  agent-kill        SIGKILL to one vhost's agent (by its recorded PID; vhosts in turn)
  coordinator-kill  SIGKILL to the coordinator
  vswitchd-restart  SIGKILL to one vhost's ovs-vswitchd (its supervisor starts it again)
  alcor-errors      the Alcor-compatible server answers 500 once on each endpoint during the cycle
After a process fault the soak waits for the emulation to heal by itself (every process running,
every agent connected); if it has not within --heal-timeout-ms it runs 'local up' on the existing
emulation (the heal path) and counts that. After each create and each delete it checks that every
VM the coordinator's store says exists is in the kernel (its namespace) and in exactly one vhost's
OVS, and that nothing else is: no other namespace, link, OVS port or tunnel of the soak.

Options:
  --cycles N             create/delete cycles (default 5)
  --vhosts N             emulated vhosts (default 2)
  --vms N                VMs per cycle (default 10)
  --faults a,b           fault kinds, injected in turn (default: all four)
  --heal-timeout-ms MS   how long the emulation may take to heal by itself (default 60000)
  --cycle-timeout-ms MS  how long a create or delete may take (default 300000)
  --seed N               the scenarios' seed (default 1)
  --help                 this text

The last line is one JSON object: cycles, faults (per kind), healedByUp, leaks, lost, duplicated,
failedCycles, errors, seconds. Exit code 0 only with every cycle done and 0 leaks, lost, duplicated.
Everything the soak made is removed at the end, also on failure and on SIGINT/SIGTERM (a second
signal exits at once and says what is left).`;

export class SoakOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SoakOptionsError';
  }
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new SoakOptionsError(`--${name} must be a positive integer, not '${text}'`);
  return n;
}

export function parseSoakOptions(argv: readonly string[]): SoakOptions | 'help' {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return 'help';
    if (!a.startsWith('--')) throw new SoakOptionsError(`unexpected '${a}' (see --help)`);
    const [key, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    const value = inline ?? argv[++i];
    if (value === undefined) throw new SoakOptionsError(`--${key} needs a value`);
    values.set(key, value);
  }
  const known = ['cycles', 'vhosts', 'vms', 'faults', 'heal-timeout-ms', 'cycle-timeout-ms', 'seed'];
  for (const k of values.keys()) if (!known.includes(k)) throw new SoakOptionsError(`unknown option --${k} (see --help)`);
  const faults = (values.get('faults') ?? FAULT_KINDS.join(',')).split(',').filter(Boolean);
  for (const f of faults) if (!(FAULT_KINDS as readonly string[]).includes(f)) throw new SoakOptionsError(`unknown fault '${f}': one of ${FAULT_KINDS.join(', ')}`);
  const vhosts = positive('vhosts', values.get('vhosts'), 2);
  if (vhosts > 64) throw new SoakOptionsError('--vhosts is at most 64');
  return {
    cycles: positive('cycles', values.get('cycles'), 5),
    vhosts,
    vms: positive('vms', values.get('vms'), 10),
    faults: faults as FaultKind[],
    healTimeoutMs: positive('heal-timeout-ms', values.get('heal-timeout-ms'), 60_000),
    cycleTimeoutMs: positive('cycle-timeout-ms', values.get('cycle-timeout-ms'), 300_000),
    seed: positive('seed', values.get('seed'), 1),
  };
}
