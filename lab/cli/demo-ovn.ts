// `merak demo --provider ovn`: the same end-to-end run with OVN as the control plane. The local
// emulation also runs OVN central (NB, SB, northd) in its own namespace and an ovn-controller per
// vhost; its coordinator is OVN's CMS: it writes the scenario into the northbound database (one
// transaction per chunk of VM ports), northd compiles it, each vhost's ovn-controller binds and
// installs its ports, and an agent calls a VM ready once its port is ovn-installed. The ping test
// then runs on the data plane OVN made. Every process is the emulation's, recorded: `merak local
// down` (or --down) stops them all.
import { join } from 'node:path';
import type { LocalOvn } from '../local/emulation.js';
import { ovnNames } from '@merak/coordinator';
import { Plan, type PlannedVm } from '@merak/coordinator';
import { ovnDemoScenarioYaml, parseScenario } from '@merak/coordinator';
import { connect } from './connect.js';
import type { DemoOptions } from './demo.js';
import { localDown, localUp } from './local.js';
import { runScenario } from './run-scenario.js';

export async function ovnDemo(o: DemoOptions): Promise<boolean> {
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const indent = (l: string): void => log(`      ${l}`.trimEnd());
  const text = ovnDemoScenarioYaml({ hosts: o.hosts, vms: o.vms });
  const scenario = parseScenario(text);
  const t0 = Date.now();
  log(`[1/3] local emulation with OVN: ${o.hosts} vhosts, each an OVN chassis (ovn-controller beside its OVS), and OVN central (NB, SB, ovn-northd) in its own namespace`);
  const up = await localUp({ dir: o.dir, hosts: o.hosts, prefix: o.prefix, log: indent, ovn: true });
  log(`      up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  let ok = false;
  let scenarioId: string | undefined;
  try {
    log(`[2/3] scenario ${scenario.name}: ${o.vms} VMs in VPC 10.1.0.0/16 (gateway 10.1.0.1, security group web: ICMP and TCP 80 in, router1); `
      + 'the coordinator writes each chunk\'s logical switch ports in one NB transaction, ovn-northd compiles them, each vhost\'s ovn-controller binds and installs its ports; '
      + 'a VM is ready once its port is ovn-installed; then a ping between every pair');
    const client = connect({ localDir: o.dir });
    try {
      const outcome = await runScenario(client, text, { out: o.out, format: 'yaml', log: indent, replaces: scenario.name });
      ok = outcome.ok;
      scenarioId = outcome.scenario.id;
    } finally {
      client.close();
    }
  } finally {
    if (o.down) {
      log('[3/3] tearing down (VMs, ovn-controllers, OVN central, vhosts)');
      await localDown(o.dir, indent);
    } else {
      log('[3/3] the emulation stays up with the VMs as OVN wired them; look around:');
      const ovn = up.emulation.ovn!;
      for (const line of inspectHints(o, scenario, ovn, scenarioId)) indent(line);
    }
  }
  return ok;
}

/** Commands a user can paste, with this run's sockets and real names (the plan is deterministic). */
function inspectHints(o: DemoOptions, scenario: ReturnType<typeof parseScenario>, db: LocalOvn, scenarioId: string | undefined): string[] {
  const hosts = Array.from({ length: o.hosts }, (_, i) => `${o.prefix}-vhost-${i}`);
  const plan = new Plan(scenario, hosts, '1');
  const a = plan.vm(0);
  const b: PlannedVm = plan.total > 1 ? plan.vm(1) : a;
  const vhostOvs = join(o.dir, 'emulation', hosts[0]!, 'ovs');
  const lines = [
    `ovn-nbctl --db=${db.nb} show          # logical switch and router, the VMs' ports`,
    `ovn-sbctl --db=${db.sb} show          # a chassis per vhost (Geneve), the ports bound on it`,
    `ovn-appctl -t ${db.northdCtl} status   # ovn-northd: active`,
    `ovs-vsctl --db=unix:${join(vhostOvs, 'db.sock')} show   # br-ovn: Geneve tunnels, the VMs' ports`,
    `ovn-appctl -t $(ls ${vhostOvs}/ovn-controller.*.ctl) connection-status`,
    `ip netns exec ${a.name} ping -c 3 ${b.ip}   # ${a.host} -> ${b.name} on ${b.host}, over Geneve`,
  ];
  if (scenarioId) {
    const names = ovnNames(scenarioId);
    // A VPC whose subnets a router joins has a switch per subnet, else one switch.
    const sw = scenario.routers.some((r) => r.vpc === a.vpc) ? names.switch(a.vpc, a.subnet) : names.switch(a.vpc);
    for (const sg of scenario.securityGroups) lines.push(`ovn-nbctl --db=${db.nb} acl-list ${names.portGroup(sg.name)}   # security group ${sg.name} as ACLs: allow-related what its rules let in, all out, drop other IPv4`);
    lines.push(`ovn-trace --db=${db.sb} ${sw} 'inport == "${names.vmPort(a.id)}" && eth.src == ${a.mac} && eth.dst == ${b.mac} && ip4.src == ${a.ip} && ip4.dst == ${b.ip} && ip.ttl == 64 && icmp4.type == 8'   # that ping through OVN's logical pipeline`);
    lines.push(`npm run merak -- delete ${scenarioId}   # the VMs, then every NB row of the scenario`);
  }
  lines.push(
    `ip netns exec ${o.prefix}-vhost-0 ovn-nbctl --db=${db.nbTcp} show   # NB over the underlay, as a remote CMS would reach it`,
    `open ${join(o.out, 'report.html')}   # NB write -> bound -> up -> ovn-installed -> first ping, per VM`,
    'tear it all down:  npm run merak -- local down',
  );
  return lines;
}
