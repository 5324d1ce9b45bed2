// What a VM port costs ovs-vswitchd as their number grows: N veth ports made in the vhost's
// namespace first (so nothing else competes), then added to a netdev br-int by ovs-vsctl in
// groups. The userspace datapath revisits all its ports whenever it adds one, so the CPU per port
// grows with the ports already there; the coverage counters say what it did.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { netnsCreate, netnsDelete } from '@merak/native';
import { type OvsInstance, startOvsInstance } from '@merak/lab';
import { run } from '../common/host-state.js';
import type { StopOnSignals } from '../common/lifecycle.js';

export interface OvsFigure {
  readonly ports: number;
  readonly group: number;
  readonly seconds: number;
  readonly vswitchdCpuSeconds: number;
  /** ovs-vswitchd's coverage counters over the run (bridge_reconfigure, netlink_sent, …). */
  readonly coverage: Record<string, number>;
}

const COUNTERS = ['bridge_reconfigure', 'netlink_sent', 'netlink_overflow', 'util_xalloc', 'dpif_port_add'];

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in USER_HZ (100 on Linux)
}

async function coverage(ctl: string): Promise<Record<string, number>> {
  const { stdout } = await run('ovs-appctl', ['-t', ctl, 'coverage/show']);
  const out: Record<string, number> = {};
  for (const line of stdout.split('\n')) {
    const m = /^(\S+)\s.*total: (\d+)$/.exec(line.trim());
    if (m && COUNTERS.includes(m[1]!)) out[m[1]!] = Number(m[2]);
  }
  return out;
}

export async function measurePorts(prefix: string, dir: string, n: number, group: number, stop: StopOnSignals): Promise<OvsFigure> {
  const netns = `${prefix}-o${n}g${group}`;
  await netnsCreate(netns);
  let ovs: OvsInstance | undefined;
  try {
    ovs = await startOvsInstance({ dir: join(dir, netns), netnsName: netns });
    const vsctl = (args: readonly string[]): Promise<{ stdout: string }> => run('ovs-vsctl', [`--db=unix:${ovs!.dbSocket}`, ...args], { maxBuffer: 256 << 20 });
    await vsctl(['add-br', 'br-int', '--', 'set', 'Bridge', 'br-int', 'datapath_type=netdev']);
    // No IPv6 on the ports: their addresses and routes would wake vswitchd for reasons of their own.
    await run('ip', ['netns', 'exec', netns, 'sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
    const batch = join(dir, `${netns}.batch`);
    writeFileSync(batch, Array.from({ length: n }, (_, i) => `link add o${i} type veth peer name i${i}\nlink set o${i} up\nlink set i${i} up\n`).join(''));
    await run('ip', ['-n', netns, '-batch', batch]);
    const ctl = join(dir, netns, 'ovs-vswitchd.ctl');
    await stop.sleep(1500); // the set-up's counters folded in, so the difference is the adds'
    const before = await coverage(ctl);
    const cpu0 = cpuSeconds(ovs.pids.vswitchd);
    const t0 = process.hrtime.bigint();
    for (let first = 0; first < n; first += group) {
      stop.throwIfStopped();
      const args: string[] = [];
      for (let i = first; i < Math.min(n, first + group); i++) args.push('--', 'add-port', 'br-int', `o${i}`);
      await vsctl(args);
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const vswitchdCpuSeconds = cpuSeconds(ovs.pids.vswitchd) - cpu0;
    // vswitchd folds its threads' counters into the totals once a second.
    await stop.sleep(1500);
    const after = await coverage(ctl);
    // Checked from outside before any figure: every port has an ofport.
    const list = JSON.parse((await vsctl(['--format=json', '--columns=name,ofport', 'list', 'Interface'])).stdout) as { data: Array<[string, unknown]> };
    const attached = list.data.filter(([name, ofport]) => name.startsWith('o') && typeof ofport === 'number' && ofport > 0).length;
    if (attached !== n) throw new Error(`${n} ports added in groups of ${group}: only ${attached} have an ofport`);
    const counters = Object.fromEntries(COUNTERS.map((c) => [c, (after[c] ?? 0) - (before[c] ?? 0)]));
    const round = (x: number): number => Math.round(x * 100) / 100;
    console.log(`  ${n} ports in groups of ${group}: ${round(seconds)} s, ovs-vswitchd CPU ${round(vswitchdCpuSeconds)} s; ${COUNTERS.map((c) => `${c} ${counters[c]}`).join(', ')}`);
    return { ports: n, group, seconds: round(seconds), vswitchdCpuSeconds: round(vswitchdCpuSeconds), coverage: counters };
  } finally {
    await ovs?.stop().catch(() => undefined);
    await netnsDelete([netns]);
  }
}
