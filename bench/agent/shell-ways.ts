// The baselines: VMs built by running programs, as the tools before us do, on the same kind of
// vhost and with the same VM at the end (namespace, internal port as its interface, address, MAC,
// default route, no IPv6 address, tcp_mtu_probing=2). The VM's port makes no IPv6 address, as the
// agent's does (the original Merak did not): without that, 3,000 VMs' router solicitations flood
// the bridge and the baseline would be slowed by traffic, not by its way of working.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { forEachBounded } from '@merak/common';
import type { StopOnSignals } from '../common/lifecycle.js';
import type { BenchVhost } from './vhost.js';
import { type BenchVm, GATEWAY, PREFIX_LENGTH } from './vms.js';
import type { WayRun } from './way.js';

const exec = promisify(execFile);

export type ShellWayName = 'merak' | 'ovn-heater';

/** Inside the VM: every step its own `ip netns exec` process, in Merak's order. */
function insideSteps(v: BenchVm): string[][] {
  const inVm = (...args: string[]): string[] => ['ip', 'netns', 'exec', v.name, ...args];
  return [
    inVm('ip', 'link', 'set', 'dev', v.port, 'addrgenmode', 'none'),
    inVm('ip', 'addr', 'add', `${v.ip}/${PREFIX_LENGTH}`, 'dev', v.port),
    inVm('ip', 'link', 'set', 'dev', 'lo', 'up'),
    inVm('ip', 'link', 'set', 'dev', v.port, 'address', v.mac),
    inVm('ip', 'link', 'set', 'dev', v.port, 'up'),
    inVm('ip', 'route', 'add', 'default', 'via', GATEWAY),
    inVm('sysctl', '-qw', 'net.ipv4.tcp_mtu_probing=2'),
  ];
}

/**
 * merak: the original's Alcor-mode agent. One bulk `ovs-vsctl` adds every internal port of the
 * host in one transaction (its BulkPortAdd), then each VM's steps run as `bash -c "<command>"`
 * (its BashExecute), the host's VMs concurrently (Temporal local activities, CONCURRENCY).
 * ovn-heater: one `ovs-vsctl add-port` transaction per port, then an `ip netns exec` per step.
 * Both wait for ovs-vswitchd on adds (ovs-vsctl's default, as the agent waits for an ofport) and
 * not on deletes (`--no-wait`, as the agent's removals do not wait).
 */
export async function runShellWay(way: ShellWayName, vhost: BenchVhost, vms: readonly BenchVm[], concurrency: number, stop: StopOnSignals): Promise<WayRun> {
  const db = `--db=unix:${vhost.ovs.dbSocket}`;
  const step = (argv: readonly string[]): Promise<unknown> => {
    stop.throwIfStopped();
    // Merak ran every command through bash; ovn-heater runs the programs themselves.
    return way === 'merak' ? exec('bash', ['-c', argv.join(' ')]) : exec(argv[0]!, argv.slice(1));
  };
  const intoVm = (v: BenchVm): string[] => ['nsenter', `--net=/run/netns/${vhost.netns}`, '--', 'ip', 'link', 'set', v.port, 'netns', v.name];
  const addPort = (v: BenchVm): string[] => ['--', 'add-port', 'br-int', v.port, '--', 'set', 'Interface', v.port, 'type=internal'];
  const opts = { signal: stop.signal };

  const t0 = process.hrtime.bigint();
  if (way === 'merak') {
    await step(['ovs-vsctl', db, ...vms.flatMap(addPort)]);
    await forEachBounded(vms, concurrency, async (v) => {
      await step(['ip', 'netns', 'add', v.name]);
      await step(intoVm(v));
      for (const s of insideSteps(v)) await step(s);
    }, opts);
  } else {
    await forEachBounded(vms, concurrency, async (v) => {
      await step(['ip', 'netns', 'add', v.name]);
      await step(['ovs-vsctl', db, ...addPort(v)]);
      await step(intoVm(v));
      for (const s of insideSteps(v)) await step(s);
    }, opts);
  }
  const createSec = Number(process.hrtime.bigint() - t0) / 1e9;

  const remove = async (): Promise<number> => {
    const t1 = process.hrtime.bigint();
    await forEachBounded(vms, concurrency, async (v) => {
      // Merak moved the port back to the host first; deleting the namespace is enough otherwise.
      if (way === 'merak') await step(['ip', 'netns', 'exec', v.name, 'ip', 'link', 'set', v.port, 'netns', vhost.netns]);
      await step(['ip', 'netns', 'delete', v.name]);
      await step(['ovs-vsctl', '--no-wait', db, 'del-port', 'br-int', v.port]);
    }, opts);
    return Number(process.hrtime.bigint() - t1) / 1e9;
  };
  return { createSec, ports: vms.map((v) => v.port), remove, close: async () => undefined };
}
