// Memory (and idle CPU) of one vhost: ovsdb-server + ovs-vswitchd + agent, as a vhost pod runs them,
// idle and with VMs created through the agent, plus the kernel memory the VMs cost (namespaces,
// veths, sockets), which a pod's memory cgroup is charged for too. The figures size the vhost's
// requests and limits in deploy/ (docs/deployment.md). A measurement, not a timed test.
//
// Usage: npm run bench:memory -- [--vms 100,1000] [--settle-ms 5000]
// The last line of output is one JSON object with the figures.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { agentV1 } from '@merak/proto';
import { startLocalVhost } from '@merak/lab';
import { errorMessage } from '@merak/common';
import { removeFolderAndCheck } from './common/host-state.js';
import { type ProcessMemory, processMemory } from './common/process-memory.js';
import { StopOnSignals, runBenchMain } from './common/lifecycle.js';

/** The run's folder, said on a hard exit (a second signal). */
let liveDir: string | undefined;
// SIGINT/SIGTERM end the wait or batch in flight; the `finally` stops the vhost (VMs, agent, OVS,
// namespace) and removes the folder.
const stop = new StopOnSignals(() => {
  if (liveDir) console.error(`bench: exiting; what is left names ${liveDir} (its vhost namespace too)`);
});

const mib = (k: number): number => Math.round((k / 1024) * 10) / 10;
const round1 = (x: number): number => Math.round(x * 10) / 10;

/** The process's memory, rounded; a process that is gone fails the reading. */
function memoryOf(pid: number): ProcessMemory {
  const m = processMemory(pid);
  if (!m) throw new Error(`process ${pid} is gone: the reading would leave it out`);
  return { rssMiB: round1(m.rssMiB), pssMiB: round1(m.pssMiB), anonMiB: round1(m.anonMiB) };
}

/** CPU seconds (user + system) a process has used. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Kernel memory charged to this process's memory cgroup (v1 kmem, or v2 kernel), in KiB; NaN if unreadable. */
function cgroupKernelKiB(): number {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  try {
    const v1 = lines.find((l) => /^\d+:memory:/.test(l));
    if (v1) return Number(readFileSync(`/sys/fs/cgroup/memory${v1.split(':')[2]}/memory.kmem.usage_in_bytes`, 'utf8')) / 1024;
    const v2 = lines.find((l) => l.startsWith('0::'));
    const bytes = v2 && /^kernel (\d+)$/m.exec(readFileSync(`/sys/fs/cgroup${v2.slice(3)}/memory.stat`, 'utf8'))?.[1];
    if (bytes) return Number(bytes) / 1024;
  } catch {
    // not readable here
  }
  return NaN;
}

const sleep = (ms: number): Promise<void> => stop.sleep(ms);

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { vms: { type: 'string', default: '100,1000' }, 'settle-ms': { type: 'string', default: '5000' } } });
  const steps = values.vms!.split(',').map(Number);
  const settle = Number(values['settle-ms']);
  const prefix = `mtmem${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), `merak-${prefix}-`));
  liveDir = dir;
  console.log(`bench: prefix ${prefix}, folder ${dir}`);
  const results: Array<Record<string, unknown>> = [];
  let vhost: Awaited<ReturnType<typeof startLocalVhost>> | undefined;
  try {
    vhost = await startLocalVhost({ name: `${prefix}-vh`, dir });
    stop.throwIfStopped();
    const pid = {
      'ovsdb-server': Number(readFileSync(join(dir, 'ovs', 'ovsdb-server.pid'), 'utf8')),
      'ovs-vswitchd': Number(readFileSync(join(dir, 'ovs', 'ovs-vswitchd.pid'), 'utf8')),
      agent: vhost.agent.pid,
    };
    const sample = (vms: number, kernelBase: number, cpuWindow?: Record<string, number>): Record<string, unknown> => {
      const per = Object.fromEntries(Object.entries(pid).map(([n, p]) => [n, memoryOf(p)]));
      const total = Object.values(per).reduce((a, m) => ({ rssMiB: a.rssMiB + m.rssMiB, pssMiB: a.pssMiB + m.pssMiB, anonMiB: a.anonMiB + m.anonMiB }), { rssMiB: 0, pssMiB: 0, anonMiB: 0 });
      const row = { vms, ...Object.fromEntries(Object.entries(per).map(([n, m]) => [n, m])), totalRssMiB: Math.round(total.rssMiB * 10) / 10, totalPssMiB: Math.round(total.pssMiB * 10) / 10, totalAnonMiB: Math.round(total.anonMiB * 10) / 10, kernelMiB: mib(cgroupKernelKiB() - kernelBase), ...(cpuWindow ? { idleCpuMillicores: cpuWindow } : {}) };
      results.push(row);
      console.log(`${String(vms).padStart(5)} VMs: rss ${row.totalRssMiB} MiB (ovsdb-server ${per['ovsdb-server']!.rssMiB}, ovs-vswitchd ${per['ovs-vswitchd']!.rssMiB}, agent ${per.agent!.rssMiB}), pss ${row.totalPssMiB} MiB, kernel +${row.kernelMiB} MiB`);
      return row;
    };
    await sleep(settle);
    const kernelBase = cgroupKernelKiB();
    const cpu0 = Object.fromEntries(Object.entries(pid).map(([n, p]) => [n, cpuSeconds(p)]));
    await sleep(10_000);
    const idleCpu = Object.fromEntries(Object.entries(pid).map(([n, p]) => [n, Math.round(((cpuSeconds(p) - cpu0[n]!) / 10) * 1000)]));
    sample(0, kernelBase, idleCpu);
    let made = 0;
    for (const target of steps) {
      const operations: agentV1.VmOperation[] = [];
      for (let i = made; i < target; i++) {
        const host = i + 2;
        operations.push({
          op: { $case: 'create', value: agentV1.VmSpec.fromPartial({ id: `${prefix}-v${i}`, name: `${prefix}-v${i}`, ip: `10.201.${host >> 8}.${host & 255}`, prefixLength: 16, gateway: '10.201.0.1', mac: `02:00:00:01:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}` }) },
          startOffsetMs: 0,
        });
      }
      const created = await stop.race(vhost.client.applyAll({ operations, concurrency: 0, startAtUnixMs: 0 }));
      const failed = created.filter((r) => r.status !== agentV1.VmStatus.VM_STATUS_READY);
      if (failed.length > 0) throw new Error(`${failed.length} VMs failed, first: ${failed[0]!.error?.message}`);
      made = target;
      await sleep(settle);
      sample(made, kernelBase);
    }
  } finally {
    await vhost?.stop().catch((e: unknown) => console.error(`bench: stopping the vhost: ${errorMessage(e)}`));
    await removeFolderAndCheck(prefix, dir);
    liveDir = undefined;
  }
  console.log(JSON.stringify({ bench: 'vhost-memory', results }));
}

runBenchMain(main);
