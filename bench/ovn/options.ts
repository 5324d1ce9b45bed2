// The command line of bench:ovn, checked.
import { parseArgs } from 'node:util';

export type Mode = 'ours' | 'heater' | 'naive';
export const MODES: readonly Mode[] = ['ours', 'heater', 'naive'];

/** What each mode is, for the table and the JSON line. */
export const MODE_LABELS: Readonly<Record<Mode, string>> = {
  ours: "Merak: one NB transaction per chunk (the coordinator's OVN writer), VMs by the agents (Apply with VmSpec.ovn)",
  heater: "ovn-heater's way: one NB transaction per port over a persistent OVSDB connection, sequential; VM side one `ip netns exec` process per step",
  naive: 'naive: one ovn-nbctl process per port (lsp-add + lsp-set-addresses + lsp-set-port-security), sequential; VM side as heater',
};

export interface Options {
  readonly vhosts: number;
  readonly ports: number;
  readonly rounds: number;
  readonly modes: readonly Mode[];
  /** Extra runs of ours alone at these switch sizes (after the rounds): how its cost grows. */
  readonly sizes: readonly number[];
  /** Ports per NB transaction for ours (the coordinator's fan-out chunk of one vhost's VMs). */
  readonly chunk: number;
  /** VMs an agent makes at once (the coordinator's vmConcurrency). */
  readonly vmConcurrency: number;
  readonly ping: number;
  readonly pingTimeoutMs: number;
  readonly timeoutMs: number;
  readonly keep: boolean;
}

export const HELP = `Usage: npm run bench:ovn -- [options]

OVN's port pipeline on the local emulation (OVN central + an ovn-controller per vhost, userspace
datapath), measured per port from the NB write committed to ovn-installed="true" on the Interface of
its vhost (seen by one OVSDB monitor per vhost, the same for every mode; the time is the key's
ovn-installed-ts when ovn-controller wrote one, else when the update arrived). Ports go round robin
over the vhosts, each mode on a fresh logical switch; a mode's ports (NB and VMs) are removed
before the next, and the order of the modes is reversed every other round.

Modes:
  ours    Merak: the coordinator's OVN writer (NbTopologyWriter) writes each vhost's chunk of ports
          in ONE NB transaction, then that vhost's agent makes the chunk's VMs (Apply, VmSpec.ovn,
          --vm-concurrency at once); all vhosts at once, as the coordinator's fan-out does
  heater  ovn-heater's way: per port, sequentially, one NB transaction (insert the port + add it to
          the switch's ports) over one persistent OVSDB connection (our OvsdbClient; it keeps no
          replica of NB, which ovsdbapp does: that favours the baseline), then the VM by shell, one
          process per step as ovn-fake-multinode does: ip netns add; ip netns exec <vhost> ip link
          add veth; ip netns exec <vm> ... mac+mtu, address, lo up, eth0 up, route, ethtool tx off;
          ip netns exec <vhost> ip link set up; ip netns exec <vhost> ovs-vsctl add-port with iface-id
  naive   the same as heater except the NB write: one ovn-nbctl process per port (so naive/heater
          isolates the NB write; ours/heater is the whole Merak way against ovn-heater's)

Per mode: ports/s end to end (first NB write sent -> last ovn-installed), NB commit -> installed
p50/p99, the NB write itself, optionally NB commit -> first ping reply on a sample, and the CPU of
ovn-northd, the ovn-controllers (and the NB/SB ovsdb-servers) per port, from /proc/<pid>/stat of the
PIDs the emulation recorded. Before printing, each run is checked from outside: ovs-vsctl shows
every port ovn-installed on its vhost, ovn-sbctl its Port_Binding on its vhost's chassis, the
counts match; after removal nothing of the run is left. A miss fails the run (exit status 1).

Options:
  --vhosts N            vhosts of the emulation (default 5, 1..16)
  --ports N             ports per mode and round (default 500)
  --rounds N            rounds of every mode, the order reversed every other round (default 2)
  --modes LIST          which modes, comma-separated (default ours,heater,naive)
  --sizes LIST          after the rounds, ours alone once per size on a fresh switch: how its cost
                        grows with the logical switch (default 100,1000; '' for none)
  --chunk N             ours: ports per NB transaction, a vhost's chunk (default 2000, the
                        coordinator's chunk size)
  --vm-concurrency N    ours: VMs an agent makes at once (default 16, the coordinator's)
  --ping N              ports per run pinged until reachable from the port before them (on the
                        previous vhost), once both are installed (default 10; 0: no pings)
  --ping-timeout-ms MS  how long a sampled port may take to answer once both ends are installed
                        (default 120000: in a large batch the other chassis program the path to a
                        port long after it is installed; measured, not cut off)
  --timeout-ms MS       how long the last port may take to be installed after the last write
                        (default 120000)
  --keep                leave the emulation up at the end (remove it with the command printed)
  -h, --help            this text

Needs root. Progress goes to stderr; stdout gets the table, then one JSON line with every figure
(the last line).`;

function int(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in ${min}..${max}`);
  return n;
}

export function parseOptions(argv: readonly string[]): Options | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      vhosts: { type: 'string', default: '5' }, ports: { type: 'string', default: '500' }, rounds: { type: 'string', default: '2' },
      modes: { type: 'string', default: MODES.join(',') }, sizes: { type: 'string', default: '100,1000' }, chunk: { type: 'string', default: '2000' },
      'vm-concurrency': { type: 'string', default: '16' }, ping: { type: 'string', default: '10' }, 'ping-timeout-ms': { type: 'string', default: '120000' },
      'timeout-ms': { type: 'string', default: '120000' }, keep: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const modes = values.modes!.split(',').map((m) => m.trim()).filter((m) => m !== '');
  if (modes.length === 0 || modes.some((m) => !(MODES as readonly string[]).includes(m)) || new Set(modes).size !== modes.length) {
    throw new Error(`--modes must list distinct modes of ${MODES.join(', ')}`);
  }
  const sizes = values.sizes!.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => int('sizes', s, 1, 10_000));
  const ports = int('ports', values.ports!, 1, 10_000);
  const o: Options = {
    // 16: ports of 2 cores' worth of vhosts; more would measure the machine's overload.
    vhosts: int('vhosts', values.vhosts!, 1, 16),
    ports,
    rounds: int('rounds', values.rounds!, 1, 20),
    modes: modes as Mode[],
    sizes,
    chunk: int('chunk', values.chunk!, 1, 100_000),
    vmConcurrency: int('vm-concurrency', values['vm-concurrency']!, 1, 1024),
    ping: int('ping', values.ping!, 0, 1000),
    pingTimeoutMs: int('ping-timeout-ms', values['ping-timeout-ms']!, 1000, 300_000),
    timeoutMs: int('timeout-ms', values['timeout-ms']!, 1000, 3_600_000),
    keep: values.keep!,
  };
  return o;
}
