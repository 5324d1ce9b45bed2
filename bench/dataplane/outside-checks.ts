// What the report says, checked from outside: br-tun's flows and tunnels read from OVS itself against
// what the plan implies, the VM namespaces by `ip netns`, the report's own counts against the plan.
import { join } from 'node:path';
import type * as LocalCli from '../../lab/cli/local.js';
import type { Report } from '../../coordinator/report/report.js';
import type { Mode, Options } from './figures.js';
import { namespacesWithPrefix, run } from '../common/host-state.js';

export type Vhost = LocalCli.LocalUp['emulation']['vhosts'][number];

// br-tun's program as tunnel-flows.ts writes it: 3 fixed flows, one ingress flow per VNI, 2 per
// remote neighbor (ARP responder, unicast to its tunnel); the flood baseline is one NORMAL flow.
const FIXED_FLOWS = 3;
const FLOWS_PER_REMOTE_NEIGHBOR = 2;
const FLOOD_FLOWS = 1;

/** Runs `fn` over `items`, `limit` at once (2 cores: more ovs-ofctl at once only queue). */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export interface OutsideView {
  /** br-tun's flows per vhost, from dump-flows. */
  flows: number[];
  /** br-tun's flows per vhost that the plan implies. */
  expected: number[];
  /** Vhosts whose flows differ from the plan's. */
  mismatched: string[];
  /** br-tun's tunnel ports per vhost. */
  tunnels: number[];
  /** VM namespaces of the scenario in `ip netns`. */
  namespaces: number;
  /** The pairs the report tested. */
  tested: number;
}

export interface Expectation {
  mode: Mode;
  o: Options;
  vhosts: readonly Vhost[];
  hostNames: readonly string[];
  /** VMs the plan places on each vhost. */
  vmsOn: readonly number[];
  /** The scenario's name (its VMs' namespaces start with it). */
  name: string;
  /** Pairs across vhosts in the plan's sample. */
  expectedCross: number;
}

/** Reads the emulation from outside and adds to `problems` what disagrees with the plan or the report. */
export async function checkFromOutside(x: Expectation, report: Report, ping: NonNullable<Report['ping']>, problems: string[]): Promise<OutsideView> {
  const { mode, o, vhosts, hostNames, vmsOn, name, expectedCross } = x;
  // br-tun's flows and tunnels, read from OVS itself.
  const flows = await mapLimit(vhosts, 4, async (v) => {
    const { stdout } = await run('ovs-ofctl', ['-O', 'OpenFlow13', 'dump-flows', `unix:${join(v.dir, 'ovs', 'br-tun.mgmt')}`], { maxBuffer: 256 * 1024 * 1024 });
    return stdout.split('\n').filter((l) => /^\s*cookie=/.test(l)).length;
  });
  const tunnels = await mapLimit(vhosts, 4, async (v) => {
    const { stdout } = await run('ovs-vsctl', [`--db=unix:${v.dbSocket}`, 'list-ports', 'br-tun']);
    return stdout.split('\n').filter((p) => p !== '' && p !== 'patch-int').length;
  });
  const expected = vmsOn.map((n) => (mode === 'flood' ? FLOOD_FLOWS : FIXED_FLOWS + 1 + FLOWS_PER_REMOTE_NEIGHBOR * (o.vms - n)));
  const mismatched = hostNames.filter((_, h) => flows[h] !== expected[h]);
  if (mismatched.length > 0) {
    problems.push(`br-tun flows differ from the plan's on ${mismatched.length} vhosts, e.g. ${mismatched.slice(0, 3).map((h) => `${h}: ${flows[hostNames.indexOf(h)]} (expected ${expected[hostNames.indexOf(h)]})`).join(', ')}`);
  }
  const wrongTunnels = tunnels.filter((n) => n !== o.hosts - 1).length;
  if (wrongTunnels > 0) problems.push(`${wrongTunnels} vhosts do not have ${o.hosts - 1} tunnel ports on br-tun (${tunnels.join(',')})`);
  const namespaces = (await namespacesWithPrefix(`${name}-`)).length;
  if (namespaces !== o.vms) problems.push(`ip netns shows ${namespaces} VM namespaces of ${name}, ${o.vms} were requested`);
  if (report.vms.requested !== o.vms) problems.push(`the report requested ${report.vms.requested} VMs, not ${o.vms}`);
  const tested = ping.pairsPassed + ping.pairsFailed;
  if (tested !== o.pairs) problems.push(`the report tested ${tested} pairs, not ${o.pairs}`);
  if (report.vms.ready === o.vms && ping.crossHostPairs !== expectedCross) problems.push(`the report has ${ping.crossHostPairs} pairs across vhosts, the plan ${expectedCross}`);
  return { flows, expected, mismatched, tunnels, namespaces, tested };
}
