// The command line of bench:alcor, checked.
import { parseArgs } from 'node:util';

export type Mode = 'hollow' | 'null' | 'push-off';
export const MODES: readonly Mode[] = ['hollow', 'null', 'push-off'];

export interface Options {
  readonly agents: number;
  readonly ports: number;
  readonly portsPerSubnet: number;
  readonly concurrency: number;
  readonly channelsPerHost: number;
  readonly pushTimeoutMs: number;
  readonly rounds: number;
  readonly modes: readonly Mode[];
}

export const HELP = `Usage: npm run bench:alcor -- [options]

The Alcor-compatible server with GoalState push (in this process) binds ports, Merak's way (POST,
then PUT with binding:host_id, device_id, device_owner), to --agents hollow hosts (in one child
process), each a real GoalState server on 127.0.0.1 registered as an Alcor node with its own fake
underlay address. Every PUT answers only after NCM's pushes for it ended.

Modes (each on a fresh server and a fresh fleet; the order is reversed every other round):
  hollow    the agent's GoalState host agent with the hollow data plane (what is measured)
  null      null receivers: decode the message, answer with no statuses, do nothing (the floor
            of the push pipeline: the ratio says what the host agent costs)
  push-off  the same REST calls with no push at all (what the push costs)

Options:
  --agents N            hollow hosts (default 100)
  --ports N             ports to bind (default 1000)
  --ports-per-subnet N  ports per subnet (default 100), spread round robin over the hosts. NCM
                        pushes each bind's neighbor to every host with a port in the subnet, so the
                        pushes grow with this squared (one subnet of 10,000 ports over 1,000 hosts
                        would be about 10M pushes)
  --concurrency N       ports in flight (POST then PUT) at once (default 64)
  --channels-per-host N NCM's gRPC channels per host (default 1, Alcor's default)
  --push-timeout-ms N   how long one push may take before it fails (default 60000)
  --rounds N            rounds of every mode, the order reversed every other round (default 2)
  --modes LIST          which modes, comma-separated (default hollow,null,push-off)
  -h, --help            this text

The last line of output is one JSON object with every figure. Exit status 1 when a check failed.`;

function int(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in ${min}..${max}`);
  return n;
}

export function parseOptions(argv: readonly string[]): Options | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      agents: { type: 'string', default: '100' }, ports: { type: 'string', default: '1000' }, 'ports-per-subnet': { type: 'string', default: '100' },
      concurrency: { type: 'string', default: '64' }, 'channels-per-host': { type: 'string', default: '1' }, 'push-timeout-ms': { type: 'string', default: '60000' },
      rounds: { type: 'string', default: '2' }, modes: { type: 'string', default: MODES.join(',') }, help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const modes = values.modes!.split(',').map((m) => m.trim()).filter((m) => m !== '');
  const unknown = modes.filter((m) => !(MODES as readonly string[]).includes(m));
  if (modes.length === 0 || unknown.length > 0 || new Set(modes).size !== modes.length) throw new Error(`--modes must list distinct modes of ${MODES.join(', ')}`);
  return {
    agents: int('agents', values.agents!, 1, 10_000),
    ports: int('ports', values.ports!, 1, 1_000_000),
    // 16,381: what a /18 per subnet holds; the subnets are carved out of 10.0.0.0/8.
    portsPerSubnet: int('ports-per-subnet', values['ports-per-subnet']!, 1, 16_381),
    concurrency: int('concurrency', values.concurrency!, 1, 4096),
    channelsPerHost: int('channels-per-host', values['channels-per-host']!, 1, 64),
    pushTimeoutMs: int('push-timeout-ms', values['push-timeout-ms']!, 100, 300_000),
    rounds: int('rounds', values.rounds!, 1, 20),
    modes: modes as Mode[],
  };
}
