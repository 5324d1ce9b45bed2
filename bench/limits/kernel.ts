// What a VM namespace costs the kernel as their number grows: namespaces created one after
// another, bare and with the sysctls the agent writes into every VM. Each /proc/sys lookup
// compares against the entries of every namespace on the machine, so a sysctl write gets slower
// with every VM already there; a bare namespace does not.
import { netnsCreate, netnsDelete } from '@merak/native';
import type { StopOnSignals } from '../common/lifecycle.js';

/** The sysctls the agent writes into every VM (agent/vm/kernel-stages.ts, VM_SYSCTLS). */
const VM_SYSCTLS: Record<string, Array<[string, string]>> = {
  none: [],
  'disable_ipv6': [['net.ipv6.conf.all.disable_ipv6', '1']],
  // The agent's one sysctl: IPv6 is kept off eth0 by a link message (no address), not by a sysctl.
  'tcp_mtu_probing (as the agent)': [['net.ipv4.tcp_mtu_probing', '2']],
  'both (as the agent wrote them before)': [['net.ipv6.conf.all.disable_ipv6', '1'], ['net.ipv4.tcp_mtu_probing', '2']],
};

export interface KernelFigure {
  readonly sysctls: string;
  readonly seconds: number;
  /** Mean ms per namespace in each consecutive slice of the run (growth shows the O(n) cost). */
  readonly msPerNamespaceBySlice: number[];
}

export async function measureNamespaces(prefix: string, n: number, slices: number, stop: StopOnSignals): Promise<KernelFigure[]> {
  const out: KernelFigure[] = [];
  for (const [label, sysctls] of Object.entries(VM_SYSCTLS)) {
    const names = Array.from({ length: n }, (_, i) => `${prefix}-k${i}`);
    const made: string[] = [];
    const perSlice: number[] = [];
    const slice = Math.ceil(n / slices);
    try {
      const t0 = process.hrtime.bigint();
      let ts = t0;
      for (let i = 0; i < n; i++) {
        stop.throwIfStopped();
        await netnsCreate(names[i]!, { sysctls });
        made.push(names[i]!);
        if ((i + 1) % slice === 0 || i === n - 1) {
          const t = process.hrtime.bigint();
          perSlice.push(Math.round((Number(t - ts) / 1e6 / ((i % slice) + 1)) * 100) / 100);
          ts = t;
        }
      }
      const seconds = Math.round((Number(process.hrtime.bigint() - t0) / 1e9) * 100) / 100;
      out.push({ sysctls: label, seconds, msPerNamespaceBySlice: perSlice });
      console.log(`  ${n} namespaces, sysctls ${label}: ${seconds} s; ms per namespace by slice of ${slice}: ${perSlice.join(', ')}`);
    } finally {
      await netnsDelete(made);
    }
  }
  return out;
}
