// The OVN provider against a real OVN central (NB, SB, northd; no ovn-controller): what it writes
// is checked from outside with ovn-nbctl/ovn-sbctl, as a user would.
import { agentV1 } from '@merak/proto';
import { OvsdbError } from '@merak/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlaneError, type ControlPlane, type ScenarioContext } from '../../coordinator/providers/provider.js';
import { ovnControlPlane } from '../../coordinator/providers/provider-ovn.js';
import type { PlannedVm } from '../../coordinator/plan/index.js';
import { shortId } from '../../coordinator/ovn/names.js';
import { Store } from '../../coordinator/store/store.js';
import { type OvnCentral, startOvnCentral } from '../fixtures/ovn-central.js';
import { contextOf, lines, logger, nbRowsOf, rowsOfScenario, sbRowsOf, switchPorts, waitUntil } from './helpers.js';

let central: OvnCentral;
let store: Store;
const providers: ControlPlane[] = [];

beforeAll(async () => {
  central = await startOvnCentral({ tempPrefix: 'merak-ovnp-' });
  store = new Store(':memory:');
});

afterAll(async () => {
  for (const p of providers) p.close?.();
  store?.close();
  await central?.stop();
});

const provider = (opts: { sb?: boolean; nb?: string } = {}): ControlPlane => {
  const p = ovnControlPlane({ defaultNb: opts.nb ?? central.nb, defaultSb: opts.sb === false ? undefined : central.sb, store, logger, settleMs: 10_000 })({
    liveVnis: () => new Map(), liveNeighbors: () => new Map(), liveHosts: () => new Set(),
  });
  providers.push(p);
  return p;
};

/** The plan's VMs, per host, in chunks of `size` (as the fan-out cuts them). */
function chunks(ctx: ScenarioContext, size: number): PlannedVm[][] {
  const out: PlannedVm[][] = [];
  for (const indexes of ctx.plan.byHost().values()) {
    for (let i = 0; i < indexes.length; i += size) out.push([...indexes.subarray(i, i + size)].map((k) => ctx.plan.vm(k)));
  }
  return out;
}

const writes = (cp: ControlPlane, id: string): number => cp.latency?.(id)?.find((e) => e.endpoint === 'NB write (VM ports of a chunk)')?.count ?? 0;

const spec = (ctx: ScenarioContext, cp: ControlPlane, vm: PlannedVm): agentV1.VmSpec => {
  const s = agentV1.VmSpec.fromPartial({ id: vm.id, name: vm.name, ip: vm.ip, mac: vm.mac, mtu: ctx.scenario.vm.mtu, vni: 99 });
  cp.decorate(ctx, vm, s);
  return s;
};

const ONE_SWITCH = `
name: flat
provider: ovn
hosts: { count: 2 }
vpcs:
  - { name: vpc1, cidr: 10.1.0.0/16, subnets: [{ name: a, cidr: 10.1.0.0/24, vms: 5 }, { name: b, cidr: 10.1.1.0/24, vms: 4 }] }
  - { name: vpc2, cidr: 10.1.0.0/16, subnets: [{ name: a, cidr: 10.1.0.0/24, vms: 2 }] }
`;

describe('OVN provider (real NB/SB/northd)', () => {
  it('writes one switch per VPC, each chunk of VM ports in one transaction, resends without duplicates, and tears everything down', async () => {
    const cp = provider();
    const ctx = contextOf(store, ONE_SWITCH, ['h0', 'h1']);
    const short = shortId(ctx.id);
    await cp.setUp(ctx);
    expect(rowsOfScenario(central, 'Logical_Switch', ctx.id).sort()).toEqual([`merak.${short}.ls.vpc1`, `merak.${short}.ls.vpc2`]);
    expect(store.controlPlaneObjects(ctx.seq, 'ovn-switch').map((o) => o.name).sort()).toEqual([`merak.${short}.ls.vpc1`, `merak.${short}.ls.vpc2`]);

    const parts = chunks(ctx, 3);
    expect(parts.length).toBe(4); // h0: 6 VMs, h1: 5 VMs, in chunks of 3
    for (const c of parts) await cp.prepareChunk!(ctx, c, 0);
    expect(writes(cp, ctx.id)).toBe(parts.length);

    // Every VM's port on its VPC's switch with "MAC IP" as addresses and port security.
    const vms = Array.from({ length: ctx.plan.total }, (_, i) => ctx.plan.vm(i));
    for (const vpc of ['vpc1', 'vpc2']) {
      expect(switchPorts(central, `merak.${short}.ls.${vpc}`)).toEqual(vms.filter((v) => v.vpc === vpc).map((v) => `merak.${short}.vm.${v.id}`).sort());
    }
    for (const v of vms) {
      const lsp = `merak.${short}.vm.${v.id}`;
      expect(central.nbctl('lsp-get-addresses', lsp).trim()).toBe(`${v.mac} ${v.ip}`);
      expect(central.nbctl('lsp-get-port-security', lsp).trim()).toBe(`${v.mac} ${v.ip}`);
      expect(central.nbctl('get', 'Logical_Switch_Port', lsp, 'external_ids:merak-host').trim()).toBe(v.host);
    }

    // The agent is told the port's name, no VNI, MTU 1442, the VPC's CIDR on-link and how long to wait.
    const s0 = spec(ctx, cp, vms[0]!);
    expect(s0).toMatchObject({ ifaceId: `merak.${short}.vm.${vms[0]!.id}`, vni: 0, mtu: 1442, routes: [{ destination: '10.1.0.0/16', via: '' }], ovn: { timeoutMs: 60_000 } });

    // A resend of a chunk (its first try's answer lost): it looks, finds them, writes nothing.
    await cp.prepareChunk!(ctx, parts[0]!, 1);
    expect(writes(cp, ctx.id)).toBe(parts.length);
    expect(rowsOfScenario(central, 'Logical_Switch_Port', ctx.id)).toHaveLength(ctx.plan.total);

    // A restarted coordinator (a new provider, the run resumed): set-up finds the network, a resent
    // chunk with one port deleted meanwhile gets that one back and nothing twice.
    const again = provider();
    const resumed = contextOf(store, ONE_SWITCH, ['h0', 'h1'], { id: ctx.id, resumed: true });
    await again.setUp(resumed);
    expect(rowsOfScenario(central, 'Logical_Switch', ctx.id)).toHaveLength(2);
    const gone = `merak.${short}.vm.${parts[1]![0]!.id}`;
    central.nbctl('lsp-del', gone);
    await again.prepareChunk!(resumed, parts[1]!, 0);
    expect(writes(again, ctx.id)).toBe(1);
    expect(rowsOfScenario(central, 'Logical_Switch_Port', ctx.id).sort()).toEqual(vms.map((v) => `merak.${short}.vm.${v.id}`).sort());

    // northd made a datapath per switch and a binding per port; teardown leaves nothing in NB or SB.
    await waitUntil(() => sbRowsOf(central, `merak.${short}.`).length === 2 + ctx.plan.total, 'SB datapaths and port bindings of the scenario');
    await again.tearDown(resumed);
    expect(nbRowsOf(central, ctx.id)).toEqual([]);
    await waitUntil(() => sbRowsOf(central, `merak.${short}.`).length === 0, 'SB without the scenario');
    expect(store.controlPlaneObjects(ctx.seq)).toEqual([]);
  });

  it('makes routers with a port per subnet, security groups as port groups with allow-list ACLs, and times bound/up from the SB', async () => {
    const cp = provider();
    const ctx = contextOf(store, `
name: routed
provider: ovn
hosts: { count: 2 }
security_groups:
  - name: web
    rules:
      - { direction: ingress, protocol: tcp, port_range_min: 80, remote_ip_prefix: 0.0.0.0/0 }
      - { direction: ingress, protocol: icmp, remote_ip_prefix: 10.2.1.0/24 }
vpcs:
  - name: vpc1
    cidr: 10.2.0.0/16
    subnets:
      - { name: front, cidr: 10.2.0.0/24, gateway: 10.2.0.1, vms: 3, security_groups: [web] }
      - { name: back, cidr: 10.2.1.0/24, gateway: 10.2.1.254, vms: 2 }
routers: [{ name: r1, vpc: vpc1, subnets: [front, back] }]
vm: { mtu: 1400 }
ovn: { timeout_ms: 5000 }
`, ['h0', 'h1']);
    const short = shortId(ctx.id);
    const p = `merak.${short}.`;
    await cp.setUp(ctx);
    // A switch per subnet, the router's port on each with the gateway, and the switch's router-type port facing it.
    expect(rowsOfScenario(central, 'Logical_Switch', ctx.id).sort()).toEqual([`${p}ls.vpc1.back`, `${p}ls.vpc1.front`]);
    expect(rowsOfScenario(central, 'Logical_Router', ctx.id)).toEqual([`${p}lr.r1`]);
    expect(lines(central.nbctl('lrp-list', `${p}lr.r1`)).map((l) => /\((.*)\)$/.exec(l)![1]).sort()).toEqual([`${p}lrp.r1.back`, `${p}lrp.r1.front`]);
    expect(central.nbctl('get', 'Logical_Router_Port', `${p}lrp.r1.back`, 'networks').trim()).toBe('["10.2.1.254/24"]');
    expect(central.nbctl('get', 'Logical_Router_Port', `${p}lrp.r1.front`, 'mac').trim()).toMatch(/^"02:[0-9a-f]{2}(:[0-9a-f]{2}){4}"$/);
    for (const sn of ['front', 'back']) {
      expect(switchPorts(central, `${p}ls.vpc1.${sn}`)).toEqual([`${p}rsp.r1.${sn}`]);
      expect(central.nbctl('lsp-get-type', `${p}rsp.r1.${sn}`).trim()).toBe('router');
      expect(central.nbctl('lsp-get-options', `${p}rsp.r1.${sn}`).trim()).toBe(`router-port=${p}lrp.r1.${sn}`);
    }
    // The group's ACLs: a rule each above the drops, egress allowed as Neutron does; ARP is never matched.
    const pg = `merak_${short}_web`;
    expect(rowsOfScenario(central, 'Port_Group', ctx.id)).toEqual([pg]);
    const acls = lines(central.nbctl('acl-list', pg)).sort();
    expect(acls).toEqual([
      `from-lport  1001 (inport == @${pg} && ip4) drop`,
      `from-lport  1002 (inport == @${pg} && ip4) allow-related`,
      `from-lport  1002 (inport == @${pg} && ip6) allow-related`,
      `to-lport  1001 (outport == @${pg} && ip4) drop`,
      `to-lport  1002 (outport == @${pg} && ip4 && ip4.src == 10.2.1.0/24 && icmp4) allow-related`,
      `to-lport  1002 (outport == @${pg} && ip4 && tcp && tcp.dst == 80) allow-related`,
    ].sort());
    expect(acls.some((a) => a.includes('arp'))).toBe(false);

    // One chunk per host; the group gets exactly the front subnet's ports.
    const parts = chunks(ctx, 100);
    for (const c of parts) await cp.prepareChunk!(ctx, c, 0);
    expect(writes(cp, ctx.id)).toBe(2);
    const vms = Array.from({ length: ctx.plan.total }, (_, i) => ctx.plan.vm(i));
    const members = lines(central.nbctl('--bare', '--columns=ports', 'list', 'Port_Group', pg)).flatMap((l) => l.split(/\s+/))
      .map((u) => central.nbctl('get', 'Logical_Switch_Port', u, 'name').trim().replace(/"/g, '')).sort();
    expect(members).toEqual(vms.filter((v) => v.subnet === 'front').map((v) => `${p}vm.${v.id}`).sort());
    // Routed subnets: the default route via the gateway (no on-link route); the scenario's MTU kept.
    expect(spec(ctx, cp, vms[0]!)).toMatchObject({ vni: 0, mtu: 1400, routes: [], ovn: { timeoutMs: 5000 } });

    // A chassis claims two ports (as ovn-controller would), one goes up: the SB monitor times both.
    // (ovn-sbctl lsp-bind sets up=true as well; a plain set of chassis does not.)
    await waitUntil(() => sbRowsOf(central, p).filter((l) => l.startsWith(`${p}vm.`)).length === vms.length, 'port bindings of the VMs');
    const chassis = `merak-test-${short}`;
    central.sbctl('chassis-add', chassis, 'geneve', '127.0.0.1');
    try {
      const [v0, v1] = [vms[0]!, vms[1]!];
      const pb1 = central.sbctl('--bare', '--columns=_uuid', 'find', 'Port_Binding', `logical_port=${p}vm.${v1.id}`).trim();
      const ch = central.sbctl('--bare', '--columns=_uuid', 'find', 'Chassis', `name=${chassis}`).trim();
      central.sbctl('set', 'Port_Binding', pb1, `chassis=${ch}`);
      central.sbctl('lsp-bind', `${p}vm.${v0.id}`, chassis);
      cp.observe?.(ctx, agentV1.VmResult.fromPartial({ id: v0.id, status: agentV1.VmStatus.VM_STATUS_READY }));
      const steps = await cp.vmSteps!(ctx);
      expect(steps.size).toBe(vms.length);
      const names = (i: number): string[] => steps.get(i)!.map((s) => s.step);
      expect(names(v0.index)).toEqual(['nb-write', 'bound', 'up']);
      expect(names(v1.index)).toEqual(['nb-write', 'bound']);
      expect(names(vms[2]!.index)).toEqual(['nb-write']);
      const lat = cp.latency!(ctx.id)!;
      expect(lat.find((e) => e.endpoint === 'NB all transactions')!.count).toBeGreaterThanOrEqual(4);
      expect(lat.every((e) => e.errors === 0)).toBe(true);
    } finally {
      central.sbctl('chassis-del', chassis);
    }
    await cp.tearDown(ctx);
    expect(nbRowsOf(central, ctx.id)).toEqual([]);
    await waitUntil(() => sbRowsOf(central, p).length === 0, 'SB without the scenario');
  });

  it('tears down after part of it was deleted by hand, and lists what it cannot remove', async () => {
    const cp = provider({ sb: false });
    const ctx = contextOf(store, `
name: partial
provider: ovn
hosts: { count: 1 }
security_groups: [{ name: ssh, rules: [{ direction: ingress, protocol: tcp, port_range_min: 22 }] }]
vpcs: [{ name: v, cidr: 10.3.0.0/24, subnets: [{ name: s, cidr: 10.3.0.0/24, vms: 3, security_groups: [ssh] }] }]
routers: [{ name: r, vpc: v, subnets: [s] }]
`, ['h0']);
    const short = shortId(ctx.id);
    await cp.setUp(ctx);
    for (const c of chunks(ctx, 2)) await cp.prepareChunk!(ctx, c, 0);
    central.nbctl('ls-del', `merak.${short}.ls.v.s`);
    central.nbctl('pg-del', `merak_${short}_ssh`);
    // A port of the scenario someone moved to a switch of their own: the teardown cannot know that switch.
    const foreign = `merak-test-foreign-${short}`;
    central.nbctl('ls-add', foreign);
    try {
      central.nbctl('lsp-add', foreign, `stray-${short}`, '--', 'set', 'Logical_Switch_Port', `stray-${short}`, `external_ids:merak-scenario=${ctx.id}`);
      const err = await cp.tearDown(ctx).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ControlPlaneError);
      expect((err as ControlPlaneError).leftovers).toEqual([`Logical_Switch_Port stray-${short}`]);
    } finally {
      central.nbctl('ls-del', foreign);
    }
    await cp.tearDown(ctx);
    expect(nbRowsOf(central, ctx.id)).toEqual([]);
  });

  it('refuses a scenario without a northbound database, and says which field; an unreachable one fails set-up with an OVSDB error', async () => {
    const none = ovnControlPlane({ defaultNb: undefined, defaultSb: undefined, store, logger })({ liveVnis: () => new Map(), liveNeighbors: () => new Map(), liveHosts: () => new Set() });
    const ctx = contextOf(store, 'name: nonb\nprovider: ovn\nhosts: { count: 1 }\nvpcs: [{ name: v, cidr: 10.4.0.0/24, subnets: [{ name: s, cidr: 10.4.0.0/24, vms: 1 }] }]\n', ['h0']);
    expect(none.check!(ctx.scenario)).toEqual([{ path: 'ovn.nb', message: expect.stringContaining('--ovn-nb') as unknown }]);
    expect(provider().check!(ctx.scenario)).toEqual([]);
    const unreachable = provider({ nb: `unix:${central.dir}/no-such.sock`, sb: false });
    await expect(unreachable.setUp(ctx)).rejects.toBeInstanceOf(OvsdbError);
  });
});
