// OVN mode end to end on the local emulation with real OVN (`local up --ovn`: NB, SB, northd and an
// ovn-controller per vhost): Merak's e2e (5 vhosts x 10 VMs, one subnet) pings between every pair
// across vhosts, every VM's Port_Binding is on its vhost's chassis as ovn-sbctl shows it, the
// report carries the OVN split; two subnets joined by a logical router ping across it. After each
// delete NB and SB hold nothing of the scenario and no VM port or namespace is left; after
// `local down` nothing of the emulation is.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ovnNames } from '../../coordinator/ovn/names.js';
import { demoScenarioYaml } from '../../coordinator/scenario/index.js';
import { ipJson } from '../fixtures/local-emulation.js';
import { OvnE2e, expectAllReady, measured } from './ovn-harness.js';

const e2e = new OvnE2e('oe');

describe('OVN mode on the local emulation: e2e and a router', () => {
  it("runs Merak's e2e (5 vhosts x 10 VMs, one subnet): every pair pings across vhosts, every port bound on its vhost's chassis", async () => {
    // Before any VM: every vhost's vswitchd knows each other vhost's br-phy MAC for its Geneve
    // packets (resolved by `local up`; a cold entry would drop the first packets to that peer).
    expect(e2e.tunnelNeighborsRight()).toEqual([]);
    const name = `${e2e.prefix}-e2e`;
    const yaml = demoScenarioYaml().replace('name: merak-e2e', `name: ${name}\nprovider: ovn`);
    const run = await e2e.run(yaml);
    expectAllReady(run, 50);
    expect(run.report.ping).toMatchObject({ pairsPassed: 50 * 49, pairsFailed: 0, crossHostPairs: 50 * 40 });
    // The OVN split: NB write, NB commit -> bound and -> up (SB monitor), port -> ovn-installed (agent).
    const ovn = run.report.ovn!;
    expect(ovn.vms).toBe(50);
    for (const q of [ovn.nbWriteMs, ovn.boundMs, ovn.upMs, ovn.installedMs]) measured(q, 50);
    console.log(`OVN 5x10: ${JSON.stringify({ ...ovn, firstReplyMs: run.report.ping.firstReplyMs })}`);

    // From outside: each VM's logical port (its OVS interface's iface-id) is bound, in the SB, on
    // the chassis named after the vhost whose agent made the VM; 10 per vhost.
    const vms = await e2e.vmsOf(name);
    expect(vms).toHaveLength(50);
    const bindings = e2e.bindings();
    const names = ovnNames(run.id);
    const wrong = vms.filter(({ host, vm }) => vm.ifaceId !== names.vmPort(vm.id) || bindings.get(vm.ifaceId) !== host)
      .map(({ host, vm }) => `${vm.name} on ${host}: iface-id ${vm.ifaceId} bound on '${bindings.get(vm.ifaceId) ?? 'no Port_Binding'}'`);
    expect(wrong).toEqual([]);
    for (const v of e2e.vhosts) expect(vms.filter((x) => x.host === v.name)).toHaveLength(10);
    // Each VM's port is on its vhost's OVN bridge, and the VM's MTU leaves room for Geneve's 58 bytes.
    const { host, vm } = vms[0]!;
    const vhost = e2e.vhosts.find((v) => v.name === host)!;
    expect(execFileSync('ovs-vsctl', [`--db=unix:${vhost.dbSocket}`, 'port-to-br', vm.portName], { encoding: 'utf8' }).trim()).toBe('br-ovn');
    expect(ipJson<Array<{ mtu: number }>>(vm.name, 'link', 'show', 'dev', 'eth0')[0]!.mtu).toBe(1442);
    // A user's own ping from one VM to another on a different vhost.
    const other = vms.find((x) => x.host !== host)!;
    expect(e2e.pingFrom(vm.name, other.vm.ip)).toBe(3);

    await e2e.deleteAndCheckGone(run);
  }, 600_000);

  it('two subnets joined by a logical router: every VM reaches every other, across the router', async () => {
    const name = `${e2e.prefix}-rt`;
    const run = await e2e.run(`
name: ${name}
provider: ovn
hosts: { count: 5 }
vpcs:
  - name: vpc1
    cidr: 10.2.0.0/16
    subnets:
      - { name: a, cidr: 10.2.1.0/24, vms: 6 }
      - { name: b, cidr: 10.2.2.0/24, vms: 6 }
routers: [{ name: r1, vpc: vpc1, subnets: [a, b] }]
placement: { type: uniform }
test: { type: ping }
`);
    expectAllReady(run, 12);
    // Every ordered pair: 6 x 5 inside each subnet and 2 x 6 x 6 across the router.
    expect(run.report.ping).toMatchObject({ pairsPassed: 12 * 11, pairsFailed: 0 });
    // NB as ovn-nbctl shows it: a switch per subnet, the router with a port on each (the gateways).
    const names = ovnNames(run.id);
    expect(e2e.nbctl('--bare', '--columns=networks', 'find', 'Logical_Router_Port', `external_ids:merak-scenario=${run.id}`).split('\n').filter(Boolean).sort())
      .toEqual(['10.2.1.1/24', '10.2.2.1/24']);
    expect(e2e.nbctl('lr-list')).toContain(names.router('r1'));
    for (const s of ['a', 'b']) expect(e2e.nbctl('ls-list')).toContain(names.switch('vpc1', s));

    // From outside: a VM of a reaches a VM of b through its gateway, one routed hop (TTL 63).
    const vms = await e2e.vmsOf(name);
    const inA = vms.filter((x) => x.vm.ip.startsWith('10.2.1.'));
    const inB = vms.filter((x) => x.vm.ip.startsWith('10.2.2.'));
    expect([inA.length, inB.length]).toEqual([6, 6]);
    const src = inA[0]!.vm;
    const dst = inB.find((x) => x.host !== inA[0]!.host)!.vm;
    expect(execFileSync('ip', ['-n', src.name, 'route', 'get', dst.ip], { encoding: 'utf8' })).toContain(`via 10.2.1.1 dev eth0`);
    expect(execFileSync('ip', ['netns', 'exec', src.name, 'ping', '-c', '2', '-i', '0.2', '-W', '2', dst.ip], { encoding: 'utf8' })).toMatch(/ttl=63[^]*2 received/);
    // The router's port answers its own address on each side.
    expect(e2e.pingFrom(src.name, '10.2.2.1')).toBe(3);

    await e2e.deleteAndCheckGone(run);
  }, 600_000);

  it('local down leaves nothing of the emulation: namespaces, links, processes, files', async () => {
    await e2e.downAndCheckGone();
  }, 180_000);
});
