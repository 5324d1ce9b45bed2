// GoalState's kernel data plane against real OVS (userspace datapath): two vhosts, each its own
// namespace and ovsdb-server/ovs-vswitchd, linked by a veth underlay; the agent's data plane built
// in this process on each (Overlay, tunnel program, FlowSync, KernelGoalStateDataPlane), as the
// agent builds it. Checked with independent witnesses (ovs-vsctl, ovs-ofctl on br-tun's management
// socket) and, end to end, with a ping between VMs on the two vhosts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsCreate, netnsDelete } from '@merak/native';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OvsInstance, startOvsInstance } from '../../lab/local/ovs-instance.js';
import type { GoalStateNeighbor } from '../../agent/goalstate/contracts.js';
import { KernelGoalStateDataPlane, interfaceAddresses } from '../../agent/goalstate/kernel-data-plane.js';
import { NetnsHandle } from '../../agent/netns/index.js';
import { type OverlayStack, ensureUnderlay, openOverlay, tunnelPortName } from '../../agent/overlay/index.js';
import { ownerMark } from '../../agent/vm/ownership.js';
import { Vswitch } from '../../agent/vswitch/vswitch.js';
import { namespacesWithPrefix, requireRoot, uniquePrefix } from '../fixtures/local-vhost.js';

const logger = pino({ level: 'silent' });
const UNDERLAY = ['198.51.100.1', '198.51.100.2'] as const;
/** Remote hosts that exist only as tunnel endpoints (nothing answers there). */
const FAR = ['198.51.100.20', '198.51.100.21'] as const;
const COOKIE_NEIGHBOR = '0x4d524b0000000003';

interface Vhost {
  readonly ns: string;
  readonly ovs: OvsInstance;
  readonly underlayIp: string;
  readonly underlayMac: string;
  host: NetnsHandle;
  vs: Vswitch;
  stack: OverlayStack;
  dp: KernelGoalStateDataPlane;
}

let prefix = '';
let work = '';
const vhosts: Vhost[] = [];

const sh = (cmd: string, ...args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
const vsctl = (v: Vhost, ...args: string[]): string => sh('ovs-vsctl', `--db=unix:${v.ovs.dbSocket}`, ...args);
const mgmt = (v: Vhost): string => `unix:${join(v.ovs.dir, 'br-tun.mgmt')}`;
/** br-tun's flows as ovs-ofctl dumps them (no statistics, ports by name), sorted. */
const flows = (v: Vhost): string[] =>
  sh('ovs-ofctl', '-O', 'OpenFlow13', '--names', '--no-stats', 'dump-flows', mgmt(v)).split('\n').map((l) => l.trim()).filter((l) => l.startsWith('cookie=')).sort();
const neighborFlows = (v: Vhost): string[] => flows(v).filter((l) => l.startsWith(`cookie=${COOKIE_NEIGHBOR}`));
/** The tunnel ports on br-tun (by name), as ovs-vsctl lists them. */
const tunnelPorts = (v: Vhost): string[] => sh('ovs-vsctl', `--db=unix:${v.ovs.dbSocket}`, 'list-ports', 'br-tun').split('\n').filter((n) => n !== '' && n !== 'patch-int').sort();
const portTag = (v: Vhost, port: string): string => vsctl(v, 'get', 'Port', port, 'tag').trim();
const portIds = (v: Vhost, port: string): string => vsctl(v, 'get', 'Port', port, 'external_ids').trim();
const vxlan = (ip: string, vni: number): string => tunnelPortName('vxlan', ip, vni);
const mac = (i: number): string => `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const neighbor = (vni: number, ip: string, m: string, hostIp: string, hostMac = ''): GoalStateNeighbor => ({ vni, ip, mac: m, hostIp, hostMac });

/** The data plane of vhost `v` as the agent builds it at start (after a restart: from what OVS holds). */
async function build(v: { ns: string; ovs: OvsInstance }, beforeRecover?: (stack: OverlayStack) => Promise<void>): Promise<Pick<Vhost, 'host' | 'vs' | 'stack' | 'dp' | 'underlayIp' | 'underlayMac'>> {
  const host = await NetnsHandle.open(`/run/netns/${v.ns}`);
  const vs = await Vswitch.connect(v.ovs.dbSocket, 'br-int', ownerMark(v.ns), logger);
  await vs.ensureBridge('netdev');
  const underlay = await ensureUnderlay(host, vs, { interface: 'eth0', datapathType: 'netdev', expectedIp: undefined }, logger);
  const stack = await openOverlay(vs, { vhost: v.ns, logger, datapathType: 'netdev', ovsRundir: v.ovs.dir, underlayIp: underlay.ip, hasUnderlay: true });
  await beforeRecover?.(stack);
  // As the agent does at start, before it serves anything: the data plane reads back what it had.
  const dp = new KernelGoalStateDataPlane({ overlay: stack.overlay, store: vs, logger, ownIps: [underlay.ip, ...(await interfaceAddresses(host))] });
  await dp.recover();
  return { host, vs, stack, dp, underlayIp: underlay.ip, underlayMac: underlay.mac };
}

function close(v: Vhost): void {
  v.stack.close();
  v.vs.close();
  v.host.close();
}

/** An OVS internal port on br-int, as the VM create path adds a GoalState port's tap (untagged). */
const addTap = (v: Vhost, tap: string): string => vsctl(v, 'add-port', 'br-int', tap, '--', 'set', 'Interface', tap, 'type=internal');

beforeAll(async () => {
  requireRoot();
  prefix = uniquePrefix('gs');
  work = mkdtempSync(join(tmpdir(), `merak-${prefix}-`));
  const names = [`${prefix}-h0`, `${prefix}-h1`];
  for (const ns of names) await netnsCreate(ns);
  // The underlay: one veth between the two vhosts, eth0 on each side.
  sh('ip', 'link', 'add', `${prefix}u0`, 'netns', names[0]!, 'type', 'veth', 'peer', 'name', `${prefix}u1`, 'netns', names[1]!);
  for (const [i, ns] of names.entries()) {
    sh('ip', '-n', ns, 'link', 'set', `${prefix}u${i}`, 'name', 'eth0');
    sh('ip', '-n', ns, 'addr', 'add', `${UNDERLAY[i]}/24`, 'dev', 'eth0');
    sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up');
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    const ovs = await startOvsInstance({ dir: join(work, `h${i}`), netnsName: ns });
    const built = await build({ ns, ovs });
    vhosts.push({ ns, ovs, ...built });
  }
}, 60_000);

afterAll(async () => {
  try {
    for (const v of vhosts) {
      try {
        close(v);
      } finally {
        await v.ovs.stop();
      }
    }
  } finally {
    await netnsDelete(namespacesWithPrefix(prefix));
    if (!process.env.MERAK_KEEP_OVS) rmSync(work, { recursive: true, force: true });
  }
});

describe('KernelGoalStateDataPlane on real OVS', () => {
  it('attaches an existing internal port to its VNI\'s VLAN, marked; a missing port is absent; two VNIs get two VLANs', async () => {
    const h0 = vhosts[0]!;
    expect(h0.dp.isLocal(h0.underlayIp)).toBe(true);
    expect(h0.dp.isLocal('127.0.0.1')).toBe(true);
    expect(h0.dp.isLocal(UNDERLAY[1])).toBe(false);
    addTap(h0, 'tapa0000001');
    addTap(h0, 'tapb0000001');
    expect(portTag(h0, 'tapa0000001')).toBe('[]');
    expect(await h0.dp.attachPort('tapa0000001', 5001)).toBe('attached');
    expect(await h0.dp.attachPort('tapb0000001', 5002)).toBe('attached');
    expect(await h0.dp.attachPort('tapmissing1', 5001)).toBe('absent');
    const vlanA = h0.stack.overlay.vlanMap().get(5001);
    const vlanB = h0.stack.overlay.vlanMap().get(5002);
    expect(vlanA).toBeDefined();
    expect(vlanB).toBeDefined();
    expect(vlanA).not.toBe(vlanB);
    expect(portTag(h0, 'tapa0000001')).toBe(String(vlanA));
    expect(portTag(h0, 'tapb0000001')).toBe(String(vlanB));
    expect(portIds(h0, 'tapa0000001')).toBe('{merak-goalstate="1", merak-vni="5001"}');
    // A VNI with a port has its ingress flow before any neighbor.
    expect(flows(h0).filter((l) => l.includes('tun_id=0x1389'))).toHaveLength(1);
    // Detach undoes it (and a port gone or never attached is no error).
    await h0.dp.detachPort('tapb0000001');
    expect(portTag(h0, 'tapb0000001')).toBe('[]');
    expect(portIds(h0, 'tapb0000001')).toBe('{}');
    expect(flows(h0).filter((l) => l.includes('tun_id=0x138a'))).toEqual([]);
    await h0.dp.detachPort('tapmissing1');
  });

  it('makes exactly the tunnels its neighbors need, with an ARP responder and a unicast flow each; a tunnel lasts while a neighbor needs it', async () => {
    const h0 = vhosts[0]!;
    const vlan = h0.stack.overlay.vlanMap().get(5001)!;
    await h0.dp.updateNeighbors([
      neighbor(5001, '10.50.0.20', mac(0x20), FAR[0], '02:aa:00:00:00:20'),
      neighbor(5001, '10.50.0.21', mac(0x21), FAR[0]),
      neighbor(5001, '10.50.0.30', mac(0x30), FAR[1]),
      // Local neighbors are nothing to program.
      neighbor(5001, '10.50.0.1', mac(0x01), h0.underlayIp),
    ], []);
    expect(tunnelPorts(h0)).toEqual([vxlan(FAR[0], 5001), vxlan(FAR[1], 5001)].sort());
    const t0 = vxlan(FAR[0], 5001);
    expect(vsctl(h0, 'get', 'Interface', t0, 'options').trim()).toBe(`{key="5001", remote_ip="${FAR[0]}"}`);
    expect(neighborFlows(h0)).toHaveLength(6);
    const n = neighborFlows(h0).join('\n');
    expect(n).toContain(`arp,dl_vlan=${vlan},arp_tpa=10.50.0.20,arp_op=1 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:${mac(0x20)}->eth_src`);
    expect(n).toContain(`priority=50,dl_vlan=${vlan},dl_dst=${mac(0x20)} actions=pop_vlan,output:${t0}`);
    expect(n).toContain(`priority=50,dl_vlan=${vlan},dl_dst=${mac(0x30)} actions=pop_vlan,output:${vxlan(FAR[1], 5001)}`);
    expect(n).not.toContain('10.50.0.1,');
    // The records: one external_id per remote neighbor on br-tun.
    expect(vsctl(h0, 'get', 'Bridge', 'br-tun', `external_ids:"merak-gs/5001/10.50.0.20"`).trim()).toBe(`"${mac(0x20)},${FAR[0]},02:aa:00:00:00:20"`);

    // One of two neighbors behind (FAR[0], 5001) goes: the tunnel stays; the last goes: it goes.
    await h0.dp.updateNeighbors([], [{ vni: 5001, ip: '10.50.0.21' }]);
    expect(tunnelPorts(h0)).toEqual([vxlan(FAR[0], 5001), vxlan(FAR[1], 5001)].sort());
    expect(neighborFlows(h0)).toHaveLength(4);
    await h0.dp.updateNeighbors([], [{ vni: 5001, ip: '10.50.0.20' }]);
    expect(tunnelPorts(h0)).toEqual([vxlan(FAR[1], 5001)]);
    expect(neighborFlows(h0)).toHaveLength(2);
    expect(neighborFlows(h0).join('\n')).toContain(`output:${vxlan(FAR[1], 5001)}`);
  });

  it('lives beside the coordinator: its SetTunnels([]) and UpdateNeighbors replace leave GoalState\'s tunnels and flows, and GoalState leaves the coordinator\'s', async () => {
    const h0 = vhosts[0]!;
    const { overlay } = h0.stack;
    const coordinatorTunnel = { remoteIp: FAR[0], vni: 7001, remoteMac: '' };
    await overlay.setTunnels({ type: 'vxlan', flood: false, tunnels: [coordinatorTunnel] });
    await overlay.updateNeighbors({ upsert: [{ vni: 7001, ip: '10.70.0.9', mac: mac(0x79), hostIp: FAR[0] }], remove: [], replace: true });
    expect(tunnelPorts(h0)).toEqual([vxlan(FAR[0], 7001), vxlan(FAR[1], 5001)].sort());
    expect(neighborFlows(h0)).toHaveLength(4);
    // A GoalState change does not touch the coordinator's tunnel or flows.
    await h0.dp.updateNeighbors([neighbor(5001, '10.50.0.40', mac(0x40), FAR[0])], []);
    expect(tunnelPorts(h0)).toEqual([vxlan(FAR[0], 5001), vxlan(FAR[0], 7001), vxlan(FAR[1], 5001)].sort());
    expect(neighborFlows(h0)).toHaveLength(6);
    // The coordinator's empty table and empty tunnel set remove only its own.
    await overlay.updateNeighbors({ upsert: [], remove: [], replace: true });
    await overlay.setTunnels({ type: 'vxlan', flood: false, tunnels: [] });
    expect(tunnelPorts(h0)).toEqual([vxlan(FAR[0], 5001), vxlan(FAR[1], 5001)].sort());
    expect(neighborFlows(h0)).toHaveLength(4);
    // Both want the same tunnel: it stays until neither does.
    await overlay.setTunnels({ type: 'vxlan', flood: false, tunnels: [{ remoteIp: FAR[1], vni: 5001, remoteMac: '' }] });
    expect(portIds(h0, vxlan(FAR[1], 5001))).toContain('merak-tunnel-for="coordinator,goalstate"');
    await overlay.setTunnels({ type: 'vxlan', flood: false, tunnels: [] });
    expect(tunnelPorts(h0)).toEqual([vxlan(FAR[0], 5001), vxlan(FAR[1], 5001)].sort());
    expect(portIds(h0, vxlan(FAR[1], 5001))).toContain('merak-tunnel-for=goalstate');
  });

  it('a restarted agent recovers its ports and neighbors from OVS alone and ends with the same flows', async () => {
    const h0 = vhosts[0]!;
    const before = flows(h0);
    const vlans = h0.stack.overlay.vlanMap();
    close(h0);
    Object.assign(h0, await build(h0));
    const got = await h0.dp.recover();
    expect(got.ports).toEqual([{ tap: 'tapa0000001', vni: 5001 }]);
    expect([...got.neighbors].sort((a, b) => a.ip.localeCompare(b.ip))).toEqual([
      neighbor(5001, '10.50.0.30', mac(0x30), FAR[1]),
      neighbor(5001, '10.50.0.40', mac(0x40), FAR[0]),
    ]);
    expect(h0.stack.overlay.vlanMap().get(5001)).toBe(vlans.get(5001));
    // The first change after the restart rewrites br-tun from the tables: the recovered ones are in it.
    await h0.dp.attachPort('tapa0000001', 5001);
    expect(flows(h0)).toEqual(before);
    // Restarted again, and the coordinator's SetTunnels([]) comes before GoalState's recovery (a
    // wiring that would be wrong): GoalState's tunnels stay, and its flows are back with the next change.
    close(h0);
    Object.assign(h0, await build(h0, async (stack) => {
      await stack.overlay.setTunnels({ type: 'vxlan', flood: false, tunnels: [] });
      expect(tunnelPorts(h0)).toEqual([vxlan(FAR[0], 5001), vxlan(FAR[1], 5001)].sort());
      expect(neighborFlows(h0)).toEqual([]);
    }));
    await h0.dp.detachPort('tapmissing1');
    await h0.dp.attachPort('tapa0000001', 5001);
    expect(flows(h0)).toEqual(before);
    await h0.dp.updateNeighbors([], [{ vni: 5001, ip: '10.50.0.30' }, { vni: 5001, ip: '10.50.0.40' }]);
    expect(tunnelPorts(h0)).toEqual([]);
    expect(neighborFlows(h0)).toEqual([]);
    expect(vsctl(h0, 'get', 'Bridge', 'br-tun', 'external_ids').trim()).not.toContain('merak-gs/');
  });

  it('carries a ping between VMs on two vhosts after attachPort and updateNeighbors on both sides', async () => {
    const vms = [
      { v: vhosts[0]!, tap: 'tapp0000000', ns: `${prefix}-vm0`, ip: '10.60.0.1', mac: '02:60:00:00:00:01' },
      { v: vhosts[1]!, tap: 'tapp0000001', ns: `${prefix}-vm1`, ip: '10.60.0.2', mac: '02:60:00:00:00:02' },
    ];
    for (const vm of vms) {
      addTap(vm.v, vm.tap);
      await netnsCreate(vm.ns);
      sh('ip', '-n', vm.v.ns, 'link', 'set', vm.tap, 'netns', vm.ns);
      sh('ip', '-n', vm.ns, 'link', 'set', vm.tap, 'address', vm.mac, 'mtu', '1450', 'up');
      sh('ip', '-n', vm.ns, 'addr', 'add', `${vm.ip}/24`, 'dev', vm.tap);
      expect(await vm.v.dp.attachPort(vm.tap, 6001)).toBe('attached');
    }
    for (const [i, vm] of vms.entries()) {
      const peer = vms[1 - i]!;
      await vm.v.dp.updateNeighbors([neighbor(6001, peer.ip, peer.mac, peer.v.underlayIp, peer.v.underlayMac)], []);
      expect(tunnelPorts(vm.v)).toEqual([vxlan(peer.v.underlayIp, 6001)]);
    }
    // The first echo may go while vswitchd settles the new ports; three tries.
    const out = sh('ip', 'netns', 'exec', vms[0]!.ns, 'ping', '-c', '3', '-i', '0.3', '-W', '2', vms[1]!.ip);
    expect(out).toMatch(/ [1-3] received/);
    // The ARP was answered on vhost 0's br-tun with the peer's MAC.
    expect(sh('ip', '-n', vms[0]!.ns, 'neigh', 'show', vms[1]!.ip)).toContain(vms[1]!.mac);
  }, 30_000);

  it('keeps 10,000 neighbors: records in one OVSDB row, tunnels per (host, VNI), recovered after a restart', async () => {
    const h1 = vhosts[1]!;
    const many = Array.from({ length: 10_000 }, (_, i) => neighbor(8001 + (i % 2), `10.${80 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, mac(0x100000 + i), FAR[i % 2]!));
    const t0 = performance.now();
    await h1.dp.updateNeighbors(many, []);
    const tAdd = performance.now() - t0;
    // Then one more, alone: it costs the change, not the table.
    const t1 = performance.now();
    await h1.dp.updateNeighbors([neighbor(8001, '10.99.0.1', mac(0x200000), FAR[0])], []);
    const tOne = performance.now() - t1;
    expect(tunnelPorts(h1)).toEqual([vxlan(FAR[0], 8001), vxlan(FAR[1], 8002), vxlan(vhosts[0]!.underlayIp, 6001)].sort());
    expect(neighborFlows(h1)).toHaveLength(2 * 10_002);
    close(h1);
    const t2 = performance.now();
    Object.assign(h1, await build(h1));
    const tOpen = performance.now() - t2;
    expect((await h1.dp.recover()).neighbors).toHaveLength(10_002);
    const t3 = performance.now();
    await h1.dp.updateNeighbors([], many.map((n) => ({ vni: n.vni, ip: n.ip })));
    const tRemove = performance.now() - t3;
    expect(neighborFlows(h1)).toHaveLength(4);
    console.info(`10,000 GoalState neighbors: added in ${tAdd.toFixed(0)} ms, one more in ${tOne.toFixed(0)} ms, recovered (open) in ${tOpen.toFixed(0)} ms, removed in ${tRemove.toFixed(0)} ms`);
  }, 120_000);
});
