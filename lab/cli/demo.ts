// `merak demo`, the main job on its embedded default: a local emulation of 5 vhosts, Merak's own
// end-to-end scenario on it (1 VPC, 1 subnet, 50 VMs), the ping test from inside the VMs, the
// report (table, report.json, report.html), and how to look around and tear down. With
// --provider alcor, the same with Alcor as the control plane (demo-alcor.ts); with --provider ovn,
// with OVN as the control plane (demo-ovn.ts).
import { join } from 'node:path';
import { Plan } from '@merak/coordinator';
import { demoScenarioYaml, parseScenario } from '@merak/coordinator';
import { connect } from './connect.js';
import { alcorDemo } from './demo-alcor.js';
import { ovnDemo } from './demo-ovn.js';
import { localDown, localUp } from './local.js';
import { runScenario } from './run-scenario.js';

/** The demo's control planes, as `--provider` names them. */
export const DEMO_PROVIDERS = ['standalone', 'alcor', 'ovn'] as const;
export type DemoProvider = (typeof DEMO_PROVIDERS)[number];

export function isDemoProvider(p: string): p is DemoProvider {
  return (DEMO_PROVIDERS as readonly string[]).includes(p);
}

export interface DemoOptions {
  /**
   * The control plane: none of its own (standalone), Alcor (the Alcor-compatible server, run
   * here), or OVN (central and a chassis per vhost, run by the emulation).
   */
  readonly provider: DemoProvider;
  readonly dir: string;
  readonly hosts: number;
  readonly vms: number;
  readonly out: string;
  /** Tear the emulation down at the end (default: leave it up to look at). */
  readonly down: boolean;
  readonly prefix: string;
}

export async function demo(o: DemoOptions): Promise<boolean> {
  switch (o.provider) {
    case 'alcor': return alcorDemo(o);
    case 'ovn': return ovnDemo(o);
    case 'standalone': return standaloneDemo(o);
  }
}

async function standaloneDemo(o: DemoOptions): Promise<boolean> {
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const text = demoScenarioYaml({ hosts: o.hosts, vms: o.vms });
  const scenario = parseScenario(text);
  const t0 = Date.now();
  log(`[1/3] local emulation: ${o.hosts} vhosts on this machine`);
  await localUp({ dir: o.dir, hosts: o.hosts, prefix: o.prefix, log: (l) => log(`      ${l}`) });
  log(`      up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  let ok = false;
  try {
    log(`[2/3] scenario ${scenario.name}: ${o.vms} VMs in VPC 10.1.0.0/16, then a ping between every pair, from inside the VMs`);
    const client = connect({ localDir: o.dir });
    try {
      ok = (await runScenario(client, text, { out: o.out, format: 'yaml', log: (l) => log(`      ${l}`.trimEnd()), replaces: scenario.name })).ok;
    } finally {
      client.close();
    }
  } finally {
    if (o.down) {
      log('[3/3] tearing down');
      await localDown(o.dir, (l) => log(`      ${l}`));
    } else {
      log('[3/3] the emulation stays up; look around:');
      for (const line of inspectHints(o, scenario)) log(`      ${line}`);
    }
  }
  return ok;
}

/** Commands a user can paste, naming real VMs of this run (the plan is deterministic). */
function inspectHints(o: DemoOptions, scenario: ReturnType<typeof parseScenario>): string[] {
  const hosts = Array.from({ length: o.hosts }, (_, i) => `${o.prefix}-vhost-${i}`);
  const plan = new Plan(scenario, hosts, '1');
  const a = plan.vm(0);
  const b = plan.total > 1 ? plan.vm(1) : a;
  return [
    `ip netns list | grep ${scenario.name}                 # the VMs (network namespaces)`,
    `ip netns exec ${a.name} ip addr show eth0    # a VM on ${a.host}`,
    `ip netns exec ${a.name} ping -c 3 ${b.ip}       # to ${b.name} on ${b.host}, over VXLAN`,
    `ovs-vsctl --db=unix:${join(o.dir, 'emulation', hosts[0]!, 'ovs', 'db.sock')} show`,
    `npm run merak -- agents; npm run merak -- list; npm run merak -- local status`,
    `open ${join(o.out, 'report.html')}`,
    'tear it all down:  npm run merak -- local down',
  ];
}
