// The standalone data plane end to end: 3 vhosts (each its own namespace, OVS on the userspace
// datapath and agent process) on an underlay bridge, registered with a coordinator over a unix
// socket; two VPCs (VNI 1001, 1002) with overlapping IPs; tunnels (SetTunnels) and neighbor tables
// (UpdateNeighbors) sent through each agent's client as a minimal control plane would. Every
// effect is checked from the VMs themselves (ping, neighbour tables, TCP) and with independent
// witnesses: ip, ovs-vsctl, ovs-ofctl on br-tun's management socket, ovs-appctl tnl/neigh/show.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Server, ServerCredentials, status, type ServiceError } from '@grpc/grpc-js';
import { requireToken } from '@merak/common';
import { agentV1, coordinatorV1 } from '@merak/proto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmulatedVhost, type LocalEmulation, readState, startLocalEmulation } from '../../lab/index.js';
import { AgentRegistry } from '../../coordinator/registry/agent-registry.js';
import { ScenarioEngine } from '../../coordinator/engine/scenario-engine.js';
import { createCoordinatorService } from '../../coordinator/server/coordinator-service.js';
import { Store } from '../../coordinator/store/store.js';
import { httpGet, ipJson, requireRoot, sweepEmulation, uniquePrefix, vsctl, vsctlList } from '../fixtures/local-emulation.js';

const TOKEN = 'dataplane-test-token';
const A = 1001;
const B = 1002;
const VXLAN = agentV1.TunnelType.TUNNEL_TYPE_VXLAN;
const GENEVE = agentV1.TunnelType.TUNNEL_TYPE_GENEVE;

interface Vm {
  readonly key: string;
  readonly host: number;
  readonly vni: number;
  readonly ip: string;
  readonly spec: agentV1.VmSpec;
}

let prefix = '';
let work = '';
let stateDir = '';
let em: LocalEmulation;
let registry: AgentRegistry;
let store: Store;
let server: Server;
/** Each vhost's underlay MAC (its br-phy's), as its agent reports it in Info. */
let underlayMacs: string[] = [];
/** Each VM's port on br-int, by key. */
const portOf = new Map<string, string>();

// Two VPCs over 10.1.0.0/16. The same IP in both: 10.1.0.1 on vhost 0 (same host), 10.1.0.2 and
// 10.1.0.3 across hosts. Some IPs exist in one VPC only, for the isolation probes. b1 is on an
// OVS internal port moved into its namespace, the others on veths.
const layout: Array<[string, number, number, string]> = [
  ['a0', 0, A, '10.1.0.1'], ['a1', 0, A, '10.1.0.4'], ['a2', 1, A, '10.1.0.2'], ['a3', 2, A, '10.1.0.3'],
  ['b0', 0, B, '10.1.0.1'], ['b1', 0, B, '10.1.0.5'], ['b2', 1, B, '10.1.0.3'], ['b3', 2, B, '10.1.0.2'], ['b4', 2, B, '10.1.0.6'],
];
let vms: Vm[] = [];
const vm = (key: string): Vm => vms.find((v) => v.key === key)!;

function makeVm(key: string, host: number, vni: number, ip: string, n: number): Vm {
  const spec = agentV1.VmSpec.fromPartial({
    id: `${prefix}-${key}`, name: `${prefix}-${key}`, ip, prefixLength: 16, mtu: 1450, vni,
    mac: `02:${vni === A ? '0a' : '0b'}:00:00:00:${n.toString(16).padStart(2, '0')}`,
    portKind: key === 'b1' ? agentV1.PortKind.PORT_KIND_INTERNAL : agentV1.PortKind.PORT_KIND_VETH,
  });
  return { key, host, vni, ip, spec };
}

const create = (s: agentV1.VmSpec): agentV1.VmOperation => ({ op: { $case: 'create', value: s }, startOffsetMs: 0 });
const del = (s: { id: string; name: string }): agentV1.VmOperation => ({ op: { $case: 'delete', value: { id: s.id, name: s.name } }, startOffsetMs: 0 });
const host = (i: number): EmulatedVhost => em.vhosts[i]!;
const apply = (i: number, ops: agentV1.VmOperation[]): Promise<agentV1.VmResult[]> => host(i).client.applyAll({ operations: ops, concurrency: 8, startAtUnixMs: 0 });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The local VLAN of a VNI on vhost i: on vhost 1 VPC B's VMs were made first (see the VM test). */
const vlanOf = (i: number, vni: number): number => (i === 1 ? (vni === B ? 1 : 2) : vni === A ? 1 : 2);

/** What a minimal control plane sends vhost `i`: every (other vhost, VNI) both have VMs in, with the peer's MAC. */
function tunnelsFor(i: number, all: readonly Vm[] = vms): agentV1.Tunnel[] {
  const out: agentV1.Tunnel[] = [];
  for (const vni of [...new Set(all.filter((v) => v.host === i).map((v) => v.vni))].sort()) {
    for (const peer of [...new Set(all.filter((v) => v.vni === vni && v.host !== i).map((v) => v.host))].sort()) {
      out.push({ remoteIp: host(peer).underlayIp, vni, remoteMac: underlayMacs[peer]! });
    }
  }
  return out;
}

/** Vhost i's neighbor table: every VM of the VNIs it hosts, with the underlay address of the VM's vhost. */
function neighborsFor(i: number, all: readonly Vm[] = vms): agentV1.Neighbor[] {
  const vnis = new Set(all.filter((v) => v.host === i).map((v) => v.vni));
  return all.filter((v) => vnis.has(v.vni)).map((v) => neighbor(v));
}

const neighbor = (v: Vm): agentV1.Neighbor => ({ vni: v.vni, ip: v.ip, mac: v.spec.mac, hostIp: host(v.host).underlayIp });

const setTunnels = (i: number, tunnels: agentV1.Tunnel[], type = VXLAN): Promise<agentV1.SetTunnelsResponse> =>
  host(i).client.setTunnels({ tunnels, type, flood: false });

const updateTunnels = (i: number, req: Partial<agentV1.UpdateTunnelsRequest>): Promise<agentV1.UpdateTunnelsResponse> =>
  host(i).client.updateTunnels({ upsert: [], remove: [], type: VXLAN, flood: false, ...req });

const updateNeighbors = (i: number, req: Partial<agentV1.UpdateNeighborsRequest>): Promise<agentV1.UpdateNeighborsResponse> =>
  host(i).client.updateNeighbors({ upsert: [], remove: [], replace: false, ...req });

interface TunnelPortRow {
  uuid: string;
  name: string;
  bridge: string | undefined;
  tag: unknown;
  protected: unknown;
  ids: Record<string, string>;
  type: string;
  options: Record<string, string>;
}

/** The tunnel ports of a vhost (ports marked merak-role=tunnel) and the bridge each is on, as ovs-vsctl shows them. */
function tunnelPorts(i: number): TunnelPortRow[] {
  const db = host(i).dbSocket;
  const bridgeOf = new Map<string, string>();
  for (const b of vsctlList(db, 'Bridge', ['name', 'ports'])) {
    // A set of one is shown as the bare UUID.
    for (const p of Array.isArray(b.ports) ? (b.ports as string[]) : [b.ports as string]) bridgeOf.set(p, b.name as string);
  }
  const ifaces = new Map(vsctlList(db, 'Interface', ['name', 'type', 'options']).map((r) => [r.name as string, r]));
  return vsctlList(db, 'Port', ['_uuid', 'name', 'tag', 'protected', 'external_ids'])
    .filter((p) => (p.external_ids as Record<string, string>)['merak-role'] === 'tunnel')
    .map((p) => ({
      uuid: p._uuid as string, name: p.name as string, bridge: bridgeOf.get(p._uuid as string), tag: p.tag, protected: p.protected,
      ids: p.external_ids as Record<string, string>,
      type: ifaces.get(p.name as string)!.type as string, options: ifaces.get(p.name as string)!.options as Record<string, string>,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Port.tag of a VM's port, as ovs-vsctl shows it. */
const tagOf = (v: Vm, portName: string): number => Number(vsctl(host(v.host).dbSocket, 'get', 'Port', portName, 'tag').trim());

const brTun = (i: number): string => `unix:${join(host(i).dir, 'ovs', 'br-tun.mgmt')}`;
const ofctl = (...args: string[]): string => execFileSync('ovs-ofctl', ['-O', 'OpenFlow13', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** br-tun's flows as ovs-ofctl dumps them (statistics left out, ports by name), sorted. */
function flows(i: number): string[] {
  return ofctl('--names', '--no-stats', 'dump-flows', brTun(i)).split('\n').map((l) => l.trim()).filter((l) => l.startsWith('cookie=')).sort();
}

/** The same, or [] while br-tun's management socket does not answer (vswitchd restarting). */
function flowsIfUp(i: number): string[] {
  try {
    return flows(i);
  } catch {
    return [];
  }
}

/** n_packets of br-tun's table 1 drop flow (what nothing else matched coming from br-int). */
function table1Drops(i: number): number {
  const line = ofctl('dump-flows', brTun(i), 'table=1').split('\n').find((l) => l.includes(' priority=0 actions=drop'));
  return Number(/n_packets=(\d+)/.exec(line ?? '')![1]);
}

/** tx_packets of vhost i's tunnel ports (`names`) as vswitchd counts them now: OpenFlow port stats, by name. */
function liveTunnelTx(i: number, names: ReadonlySet<string> = new Set(tunnelPorts(i).map((p) => p.name))): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of ofctl('--names', 'dump-ports', brTun(i)).matchAll(/port +"?([\w-]+)"?: rx pkts=[^\n]*\n\s+tx pkts=(\d+)/g)) if (names.has(m[1]!)) out[m[1]!] = Number(m[2]);
  expect(Object.keys(out).sort(), `vhost ${i}: every tunnel port has OpenFlow stats`).toEqual([...names].sort());
  return out;
}

/**
 * Waits until vswitchd on vhost i has credited every packet its datapath already forwarded to its
 * ports' counters. It does so as its revalidators dump the datapath flows (every 500 ms, later on a
 * busy machine), and a flow counts the packets of everything it matched: the previous test's TCP
 * ACKs ride the same megaflow as a later echo reply and could be added after a baseline was read.
 * `revalidator/wait` answers after a round ends; the second starts after the call, so it covers all.
 */
function creditDatapathStats(i: number): void {
  for (let round = 0; round < 2; round++) execFileSync('ovs-appctl', ['-t', join(host(i).dir, 'ovs', 'ovs-vswitchd.ctl'), 'revalidator/wait'], { timeout: 30_000 });
}

/** Packets a VM's eth0 sent, from inside it. */
const eth0Tx = (v: Vm): number => ipJson<Array<{ stats64: { tx: { packets: number } } }>>(v.spec.name, '-s', 'link', 'show', 'dev', 'eth0')[0]!.stats64.tx.packets;

const COOKIE = { fixed: '0x4d524b0000000001', ingress: '0x4d524b0000000002', neighbor: '0x4d524b0000000003' } as const;

/**
 * The flows br-tun must hold, in ovs-ofctl's words, from the test's own lists: the fixed ones; per
 * VNI in use (in the table or the tunnels) the ingress flow that tags it with its VLAN; per remote
 * neighbor whose tunnel exists the ARP responder and the unicast flow to that tunnel (named by
 * OVSDB's row with that remote_ip and key); nothing for a neighbor on vhost i itself.
 */
function expectedFlows(i: number, tunnels: readonly agentV1.Tunnel[] = tunnelsFor(i), table: readonly agentV1.Neighbor[] = neighborsFor(i)): string[] {
  const portTo = new Map(tunnelPorts(i).map((p) => [`${p.options.remote_ip}/${p.options.key}`, p.name]));
  const out = [
    `cookie=${COOKIE.fixed}, priority=100,in_port="patch-int" actions=goto_table:1`,
    `cookie=${COOKIE.fixed}, priority=0 actions=drop`,
    `cookie=${COOKIE.fixed}, table=1, priority=0 actions=drop`,
  ];
  for (const vni of new Set([...table.map((n) => n.vni), ...tunnels.map((t) => t.vni)])) {
    // vlan_vid 4096 + VID: the "VLAN present" bit of OpenFlow 1.3.
    out.push(`cookie=${COOKIE.ingress}, priority=50,tun_id=0x${vni.toString(16)} actions=push_vlan:0x8100,set_field:${4096 + vlanOf(i, vni)}->vlan_vid,output:"patch-int"`);
  }
  for (const n of table) {
    if (n.hostIp === host(i).underlayIp || !tunnels.some((t) => t.remoteIp === n.hostIp && t.vni === n.vni)) continue;
    const vlan = vlanOf(i, n.vni);
    const port = portTo.get(`${n.hostIp}/${n.vni}`);
    expect(port, `vhost ${i} has a tunnel port to ${n.hostIp} for VNI ${n.vni}`).toBeDefined();
    out.push(
      `cookie=${COOKIE.neighbor}, table=1, priority=100,arp,dl_vlan=${vlan},arp_tpa=${n.ip},arp_op=1 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],` +
        `set_field:${n.mac}->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],` +
        `set_field:${n.mac}->arp_sha,set_field:${n.ip}->arp_spa,IN_PORT`,
      `cookie=${COOKIE.neighbor}, table=1, priority=50,dl_vlan=${vlan},dl_dst=${n.mac} actions=pop_vlan,output:${port}`,
    );
  }
  return out.sort();
}

/** How many of vhost i's neighbors are remote (each costs 2 flows). */
const remoteCount = (i: number, table: readonly agentV1.Neighbor[] = neighborsFor(i)): number => table.filter((n) => n.hostIp !== host(i).underlayIp).length;

/** vswitchd's tunnel neighbours on vhost i (`ovs-appctl tnl/neigh/show`), by IP. */
function tunnelNeighbours(i: number): Array<{ ip: string; mac: string; bridge: string }> {
  const text = execFileSync('ovs-appctl', ['-t', join(host(i).dir, 'ovs', 'ovs-vswitchd.ctl'), 'tnl/neigh/show'], { encoding: 'utf8' });
  return text.split('\n').slice(2).filter((l) => l.trim() !== '')
    .map((l) => {
      const [ip, mac, bridge] = l.trim().split(/\s+/);
      return { ip: ip!, mac: mac!, bridge: bridge! };
    })
    .sort((a, b) => a.ip.localeCompare(b.ip));
}

/** The static tunnel neighbours vhost i must have: one per peer it has a tunnel to, with the peer's br-phy MAC. */
const peersOf = (tunnels: readonly agentV1.Tunnel[]): Array<{ ip: string; mac: string; bridge: string }> =>
  [...new Map(tunnels.map((t) => [t.remoteIp, t.remoteMac]))].map(([ip, mac]) => ({ ip, mac, bridge: 'br-phy' })).sort((a, b) => a.ip.localeCompare(b.ip));

/** Pings from each source to its targets, from inside the VMs; one result per (source, target). */
async function ping(pairs: Array<[Vm, string]>, count: number, timeoutMs: number): Promise<Map<string, agentV1.PingResult>> {
  const out = new Map<string, agentV1.PingResult>();
  for (const i of [0, 1, 2]) {
    const bySource = new Map<string, string[]>();
    for (const [s, t] of pairs) if (s.host === i) bySource.set(s.spec.name, [...(bySource.get(s.spec.name) ?? []), t]);
    if (bySource.size === 0) continue;
    const res = await host(i).client.ping({ sources: [...bySource].map(([v, targets]) => ({ vm: v, targets })), count, intervalMs: 100, timeoutMs, convergeMs: 0 });
    for (const r of res.results) out.set(`${r.vm}>${r.target}`, r);
  }
  return out;
}

/**
 * Same-VPC pairs answer every echo, the first one included: ARP is answered on the asking VM's
 * vhost and vswitchd knows every peer's underlay MAC, so nothing is lost on a cold path.
 */
async function expectReachable(pairs: Array<[Vm, Vm]>): Promise<void> {
  const res = await ping(pairs.map(([s, t]): [Vm, string] => [s, t.ip]), 3, 2000);
  for (const [s, t] of pairs) {
    expect(res.get(`${s.spec.name}>${t.ip}`), `${s.key} -> ${t.key} (${t.ip})`).toMatchObject({ sent: 3, received: 3, error: '' });
  }
}

async function expectUnreachable(pairs: Array<[Vm, string]>): Promise<void> {
  const res = await ping(pairs, 2, 1000);
  for (const [s, ip] of pairs) expect(res.get(`${s.spec.name}>${ip}`), `${s.key} -> ${ip}`).toMatchObject({ sent: 2, received: 0 });
}

const neighbours = (v: Vm): Array<{ dst: string; lladdr?: string; state?: string[] }> => ipJson(v.spec.name, 'neigh', 'show', 'dev', 'eth0');

/** Polls `read` until it equals `want` (bounded), then asserts it (the failure shows the last value). */
async function eventually<T>(read: () => T, want: T, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let got = read();
  while (!isDeepStrictEqual(got, want) && Date.now() < deadline) {
    await sleep(200);
    got = read();
  }
  expect(got, what).toEqual(want);
}

/** A TCP exchange from inside `client` to `server` (a node process in each VM's namespace). */
async function tcpExchange(client: Vm, server: Vm, bytes: number): Promise<string> {
  const serverCode = `
    const net = require('node:net'); const crypto = require('node:crypto');
    const s = net.createServer((c) => { const h = crypto.createHash('sha256'); let n = 0;
      c.on('data', (d) => { h.update(d); n += d.length; });
      c.on('end', () => { c.end(process.argv[1] + ' ' + n + ' ' + h.digest('hex')); s.close(); }); });
    s.listen(5001, process.argv[2], () => console.log('listening'));`;
  const srv: ChildProcess = spawn('nsenter', [`--net=/run/netns/${server.spec.name}`, '--', process.execPath, '-e', serverCode, server.key, server.ip], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      srv.stdout!.once('data', () => resolve());
      srv.once('exit', (c) => reject(new Error(`TCP server in ${server.key} exited (${c})`)));
    });
    const clientCode = `
      const net = require('node:net');
      const c = net.connect(5001, process.argv[1], () => { c.end(Buffer.alloc(Number(process.argv[2]), 'merak')); });
      let reply = ''; c.on('data', (d) => (reply += d)); c.on('end', () => console.log(reply));
      c.setTimeout(10000, () => { console.error('timeout'); process.exit(1); });`;
    return await new Promise<string>((resolve, reject) =>
      execFile('nsenter', [`--net=/run/netns/${client.spec.name}`, '--', process.execPath, '-e', clientCode, server.ip, String(bytes)], { timeout: 20_000 }, (e, out) =>
        e ? reject(e) : resolve(out.trim())));
  } finally {
    srv.kill();
  }
}

beforeAll(async () => {
  requireRoot();
  prefix = uniquePrefix('dp');
  work = mkdtempSync(join(tmpdir(), `merak-${prefix}-`));
  stateDir = join(work, 'emulation');
  writeFileSync(join(work, 'token'), TOKEN);
  // The coordinator side that agents register with: the registry behind the real gRPC service.
  registry = new AgentRegistry({ minHeartbeatMs: 200 });
  store = new Store(join(work, 'coordinator.db'));
  // No scenarios here (the test is the control plane): the engine is only what the service is built on.
  const engine = new ScenarioEngine({ store, registry, logger: pino({ level: 'silent' }), agents: { clientFor: () => undefined }, controlPlanes: {} });
  server = new Server();
  server.addService(coordinatorV1.CoordinatorService, requireToken(createCoordinatorService(engine, registry), TOKEN));
  const sock = join(work, 'coordinator.sock');
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${sock}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  em = await startLocalEmulation({ prefix, hosts: 3, stateDir, coordinator: `unix:${sock}`, tokenFile: join(work, 'token') });
  const deadline = Date.now() + 10_000;
  while (registry.connected().length < 3 && Date.now() < deadline) await sleep(50);
  vms = layout.map(([key, h, vni, ip], n) => makeVm(key, h, vni, ip, n));
  underlayMacs = await Promise.all(em.vhosts.map(async (v) => (await v.client.info()).underlayMac));
}, 120_000);

afterAll(async () => {
  try {
    if (em) {
      const report = await em.stop();
      expect(report.failed).toEqual([]);
    }
  } finally {
    await sweepEmulation(stateDir, prefix);
    server?.forceShutdown();
    registry?.close();
    store?.close();
    rmSync(work, { recursive: true, force: true });
  }
}, 120_000);

describe('local emulation: 3 vhosts, underlay, registration', () => {
  it('gives each agent its underlay on br-phy and registers it with its endpoint', async () => {
    expect(em.vhosts.map((v) => v.name)).toEqual([0, 1, 2].map((i) => `${prefix}-vhost-${i}`));
    // The default underlay: the first TEST-NET /24 free on this machine (another test's emulation may hold one).
    const range = em.underlayCidr.split('/')[0]!.split('.').slice(0, 3).join('.');
    expect(em.vhosts.map((v) => v.underlayIp)).toEqual([`${range}.1`, `${range}.2`, `${range}.3`]);
    expect(registry.connected().map((a) => [a.name, a.underlayIp, a.address])).toEqual(em.vhosts.map((v) => [v.name, v.underlayIp, v.grpcAddress]));
    for (const [i, v] of em.vhosts.entries()) {
      expect((await v.client.info()).underlayIp).toBe(v.underlayIp);
      // The address moved from eth0 to br-phy, and eth0 is br-phy's port.
      const phy = ipJson<Array<{ address: string; addr_info: Array<{ local: string; prefixlen: number; family: string }> }>>(v.name, 'addr', 'show', 'dev', 'br-phy')[0]!;
      expect(phy.addr_info).toEqual([expect.objectContaining({ family: 'inet', local: v.underlayIp, prefixlen: 24 })]);
      // The MAC peers are given as this vhost's tunnel neighbour is br-phy's own.
      expect(underlayMacs[i]).toBe(phy.address);
      expect(ipJson<Array<{ addr_info: unknown[] }>>(v.name, 'addr', 'show', 'dev', 'eth0')[0]!.addr_info).toEqual([]);
      expect(vsctl(v.dbSocket, 'port-to-br', 'eth0').trim()).toBe('br-phy');
      expect(vsctl(v.dbSocket, 'get', 'Bridge', 'br-phy', 'datapath_type').trim()).toBe('netdev');
      const ready = await httpGet(v.httpSocket, '/readyz');
      expect(ready).toMatchObject({ code: 200, body: expect.stringMatching(/underlay: ok/) });
    }
    // The underlay bridge has no address, and the root namespace has no route of this emulation
    // (other tests running meanwhile may add routes of their own: only ours are looked for).
    expect(ipJson<Array<{ addr_info: unknown[] }>>(undefined, 'addr', 'show', 'dev', em.bridge)[0]!.addr_info).toEqual([]);
    const net = em.underlayCidr.split('/')[0]!.split('.').slice(0, 3).join('.');
    const ours = ['-4', '-6'].flatMap((family) => ipJson<Array<{ dev?: string; dst?: string }>>(undefined, family, 'route', 'show', 'table', 'all'))
      .filter((r) => r.dev?.startsWith(prefix) || r.dst?.startsWith(net));
    expect(ours).toEqual([]);
  });

  it('links br-int to a secure br-tun by a patch pair, and leaves br-tun without flows until told', () => {
    for (const v of em.vhosts) {
      expect(vsctl(v.dbSocket, 'get', 'Bridge', 'br-tun', 'datapath_type').trim()).toBe('netdev');
      expect(vsctl(v.dbSocket, 'get', 'Bridge', 'br-tun', 'fail_mode').trim()).toBe('secure');
      expect(vsctl(v.dbSocket, 'list-ports', 'br-tun').trim().split('\n')).toEqual(['patch-int']);
      expect(vsctl(v.dbSocket, 'port-to-br', 'patch-tun').trim()).toBe('br-int');
      const patch = new Map(vsctlList(v.dbSocket, 'Interface', ['name', 'type', 'options']).map((r) => [r.name as string, r]));
      expect(patch.get('patch-tun')).toMatchObject({ type: 'patch', options: { peer: 'patch-int' } });
      expect(patch.get('patch-int')).toMatchObject({ type: 'patch', options: { peer: 'patch-tun' } });
      // patch-tun is a trunk: every VNI's VLAN crosses it.
      expect(vsctl(v.dbSocket, 'get', 'Port', 'patch-tun', 'tag').trim()).toBe('[]');
      expect(vsctl(v.dbSocket, 'get', 'Port', 'patch-tun', 'trunks').trim()).toBe('[]');
    }
    // Secure and empty: nothing crosses br-tun before the control plane has said what may.
    for (const i of [0, 1, 2]) expect(flows(i)).toEqual([]);
  });

  it('creates VMs of two VPCs with overlapping IPs, each VPC on its own local VLAN per vhost', async () => {
    // On vhost 1 VPC B comes first, so there B has VLAN 1 and A VLAN 2 (elsewhere A has 1).
    const order = [...vms.filter((v) => v.host !== 1 || v.vni === B), ...vms.filter((v) => v.host === 1 && v.vni === A)];
    for (const v of order) {
      const [r] = await apply(v.host, [create(v.spec)]);
      expect(r!.error?.message ?? '', v.key).toBe('');
      expect(r!.status).toBe(agentV1.VmStatus.VM_STATUS_READY);
      portOf.set(v.key, r!.portName);
    }
    for (const v of vms) {
      expect(tagOf(v, portOf.get(v.key)!), v.key).toBe(vlanOf(v.host, v.vni));
      expect(vsctl(host(v.host).dbSocket, 'port-to-br', portOf.get(v.key)!).trim(), v.key).toBe('br-int');
    }
    expect(vsctl(host(0).dbSocket, 'get', 'Interface', portOf.get('b1')!, 'type').trim()).toBe('internal');
    for (const i of [0, 1, 2]) {
      const listed = (await host(i).client.listVms()).vms.map((s) => [s.name, s.vni, s.complete]).sort();
      expect(listed).toEqual(vms.filter((v) => v.host === i).map((v) => [v.spec.name, v.vni, true]).sort());
    }
    expect(ipJson<Array<{ mtu: number }>>(vm('a0').spec.name, 'link', 'show', 'dev', 'eth0')[0]!.mtu).toBe(1450);
  });

  it('sets the tunnels a minimal control plane sends on br-tun: one port per (peer, VNI), and each peer’s MAC as vswitchd’s tunnel neighbour', async () => {
    for (const i of [0, 1, 2]) {
      const want = tunnelsFor(i);
      expect(want).toHaveLength(4);
      expect(await setTunnels(i, want)).toEqual({ tunnels: 4, added: 4, removed: 0 });
      // The same set again changes nothing.
      expect(await setTunnels(i, want)).toEqual({ tunnels: 4, added: 0, removed: 0 });
      expect(tunnelPorts(i).map((p) => ({ ...p, uuid: undefined, name: undefined }))).toEqual(
        want.map((t) => ({
          uuid: undefined, name: undefined, bridge: 'br-tun', tag: vlanOf(i, t.vni), protected: true, type: 'vxlan', options: { key: String(t.vni), remote_ip: t.remoteIp },
          ids: { 'merak-vhost': host(i).name, 'merak-role': 'tunnel', 'merak-vni': String(t.vni), 'merak-remote-ip': t.remoteIp, 'merak-tunnel-type': 'vxlan' },
        })).sort((a, b) => `${a.options.remote_ip}/${a.options.key}`.localeCompare(`${b.options.remote_ip}/${b.options.key}`)),
      );
      expect(vsctl(host(i).dbSocket, 'list-ports', 'br-int')).not.toMatch(/^[vg][0-9a-f]{14}$/m);
      expect(tunnelNeighbours(i)).toEqual(peersOf(want));
      // No neighbor yet: the fixed flows and one ingress flow per VNI of the tunnels, nothing else.
      expect(flows(i)).toEqual(expectedFlows(i, want, []));
    }
  });

  it('programs br-tun exactly from the neighbor tables: 2 flows per remote VM, none per local one', async () => {
    for (const i of [0, 1, 2]) {
      const table = neighborsFor(i);
      // Every VM of both VPCs: each vhost hosts both.
      expect(table).toHaveLength(9);
      const res = await updateNeighbors(i, { upsert: table });
      const want = expectedFlows(i);
      expect(want).toHaveLength(3 + 2 + 2 * remoteCount(i));
      expect(flows(i)).toEqual(want);
      // The ingress flows came with the tunnels: this call added the neighbors' flows only.
      expect(res).toMatchObject({ neighbors: 9, flows: want.length, flowsAdded: 2 * remoteCount(i), flowsRemoved: 0 });
      // The same table again sends nothing.
      expect(await updateNeighbors(i, { upsert: table })).toMatchObject({ neighbors: 9, flows: want.length, flowsAdded: 0, flowsRemoved: 0 });
      expect(flows(i)).toEqual(want);
    }
    expect([0, 1, 2].map((i) => remoteCount(i))).toEqual([5, 7, 6]);
  });

  it('lets every same-VPC pair ping from the first echo, across and within vhosts, and answers with the right MAC', async () => {
    const pairs: Array<[Vm, Vm]> = [];
    for (const s of vms) for (const t of vms) if (s !== t && s.vni === t.vni) pairs.push([s, t]);
    expect(pairs).toHaveLength(4 * 3 + 5 * 4);
    await expectReachable(pairs);
    for (const [s, t] of pairs) {
      expect(neighbours(s).find((n) => n.dst === t.ip)?.lladdr, `${s.key} sees ${t.ip} as ${t.key}`).toBe(t.spec.mac);
    }
  });

  it('keeps the VPCs apart: no cross-VPC ping answers, no VM learns the other VPC’s MACs', async () => {
    const probes: Array<[Vm, string]> = [];
    for (const s of vms) for (const ip of s.vni === A ? ['10.1.0.5', '10.1.0.6'] : ['10.1.0.4']) probes.push([s, ip]);
    await expectUnreachable(probes);
    for (const s of vms) {
      const others = new Set(vms.filter((v) => v.vni !== s.vni).map((v) => v.spec.mac));
      expect(neighbours(s).filter((n) => n.lladdr !== undefined && others.has(n.lladdr)), s.key).toEqual([]);
    }
    // The same address answers with its own VPC's MAC on every vhost's br-tun (10.1.0.2 is a2 in A, b3 in B).
    for (const i of [0, 1]) {
      const responders = flows(i).filter((f) => f.includes('arp_tpa=10.1.0.2,'));
      expect(responders.map((f) => [/dl_vlan=(\d+)/.exec(f)![1], /set_field:([0-9a-f:]{17})->arp_sha/.exec(f)![1]]).sort())
        .toEqual([[String(vlanOf(i, A)), vm('a2').spec.mac], [String(vlanOf(i, B)), vm('b3').spec.mac]].filter(([, mac]) => i !== 1 || mac !== vm('a2').spec.mac).sort());
    }
  });

  it('carries TCP across vhosts, each VPC to its own VM at the same address', async () => {
    // 10.1.0.2 is a2 (vhost 1) in VPC A and b3 (vhost 2) in VPC B.
    const payload = 256 * 1024;
    const digest = createHash('sha256').update(Buffer.alloc(payload, 'merak')).digest('hex');
    expect(await tcpExchange(vm('a0'), vm('a2'), payload)).toBe(`a2 ${payload} ${digest}`);
    expect(await tcpExchange(vm('b0'), vm('b3'), payload)).toBe(`b3 ${payload} ${digest}`);
  }, 60_000);

  it('neither answers nor floods across tunnels an ARP for an address nobody has', async () => {
    const prober = vm('a0');
    const unused = '10.1.0.99';
    const tunnels = [0, 1, 2].map((i) => new Set(tunnelPorts(i).map((p) => p.name)));
    // Each tunnel port's tx_packets, as OVSDB records it (refreshed every 5 s) and as vswitchd counts it now.
    const recorded = (i: number): Record<string, number> => Object.fromEntries(vsctlList(host(i).dbSocket, 'Interface', ['name', 'statistics'])
      .filter((r) => tunnels[i]!.has(r.name as string)).map((r) => [r.name as string, (r.statistics as Record<string, number>).tx_packets!]));
    const live = (i: number): Record<string, number> => liveTunnelTx(i, tunnels[i]!);
    const allRecorded = (): Array<Record<string, number>> => [0, 1, 2].map(recorded);
    const allLive = (): Array<Record<string, number>> => [0, 1, 2].map(live);
    const proberTx = (): number => eth0Tx(prober);
    const proberPortRx = (): number => Number(vsctl(host(0).dbSocket, 'get', 'Interface', portOf.get(prober.key)!, 'statistics:rx_packets').trim());

    // The counters count: 3 echoes to a2 leave by vhost 0's tunnel to vhost 1 for VPC A, and 3
    // replies by vhost 1's tunnel back; OVS 3.1's userspace datapath adds 2 to a tunnel port's
    // tx_packets per packet (its rx_packets count 1). Both VMs resolve each other afresh (answered
    // on their own vhost), so no stale entry of theirs sends a unicast probe across a tunnel later,
    // while the counters are watched. vswitchd adds a datapath flow's packets to its ports'
    // counters when it revalidates the flow (within a second or so), hence the polling, and the
    // baseline read once all the earlier traffic is counted.
    for (const v of [prober, vm('a2')]) execFileSync('ip', ['-n', v.spec.name, 'neigh', 'flush', 'dev', 'eth0']);
    const tunnelTo = (i: number, peer: number): string => tunnelPorts(i).find((p) => p.options.remote_ip === host(peer).underlayIp && p.options.key === String(A))!.name;
    const [out, back] = [tunnelTo(0, 1), tunnelTo(1, 0)];
    for (const i of [0, 1, 2]) creditDatapathStats(i);
    const [outBefore, backBefore] = [live(0)[out]!, live(1)[back]!];
    await expectReachable([[prober, vm('a2')]]);
    await eventually(() => [live(0)[out]! - outBefore, live(1)[back]! - backBefore], [6, 6], 'echoes and replies counted on the tunnel ports');
    // The baseline, once OVSDB's statistics (refreshed every 5 s) agree with the live counters.
    const tx = allLive();
    await eventually(allRecorded, tx, 'OVSDB statistics catch up with the live counters');
    const drops = table1Drops(0);
    const sentBefore = proberTx();
    const rxBefore = proberPortRx();

    const res = await ping([[prober, unused]], 3, 3000);
    expect(res.get(`${prober.spec.name}>${unused}`)).toMatchObject({ sent: 3, received: 0 });
    expect(neighbours(prober).find((n) => n.dst === unused)?.state?.[0]).toMatch(/^(FAILED|INCOMPLETE)$/);
    // Only ARP requests left the VM (the echoes waited for an answer that never came), and br-tun's
    // table 1 dropped each of them.
    const arps = proberTx() - sentBefore;
    expect(arps).toBeGreaterThan(0);
    await eventually(() => table1Drops(0) - drops, arps, 'ARP requests dropped by br-tun table 1');
    // No tunnel of any vhost sent a packet more: not in vswitchd's counters, which now cover the
    // requests (the drop flow counted them all), and not in OVSDB once its statistics cover the
    // probe (the VM's own port on br-int has counted the requests).
    expect(allLive()).toEqual(tx);
    const until = Date.now() + 20_000;
    while (proberPortRx() < rxBefore + arps && Date.now() < until) await sleep(250);
    expect(proberPortRx()).toBeGreaterThanOrEqual(rxBefore + arps);
    expect(allRecorded()).toEqual(tx);
  }, 90_000);

  it('keeps the flood-and-learn baseline on request: one NORMAL flow, an unknown ARP through every tunnel of its VPC; and comes back', async () => {
    const flood = (i: number, on: boolean): Promise<agentV1.SetTunnelsResponse> => host(i).client.setTunnels({ tunnels: tunnelsFor(i), type: VXLAN, flood: on });
    for (const i of [0, 1, 2]) {
      expect(await flood(i, true)).toEqual({ tunnels: 4, added: 0, removed: 0 });
      expect(flows(i)).toEqual([`cookie=${COOKIE.fixed}, priority=0 actions=NORMAL`]);
      expect(tunnelNeighbours(i)).toEqual(peersOf(tunnelsFor(i)));
    }
    // The witness of the test above sees a flood: each request leaves by both of vhost 0's VPC A
    // tunnels (2 in tx_packets per packet, as above), none by VPC B's.
    const prober = vm('a0');
    const unused = '10.1.0.98';
    creditDatapathStats(0);
    const before = liveTunnelTx(0);
    const sent = eth0Tx(prober);
    expect((await ping([[prober, unused]], 3, 3000)).get(`${prober.spec.name}>${unused}`)).toMatchObject({ sent: 3, received: 0 });
    const arps = eth0Tx(prober) - sent;
    expect(arps).toBeGreaterThan(0);
    const want = Object.fromEntries(tunnelPorts(0).map((p) => [p.name, before[p.name]! + (p.options.key === String(A) ? 2 * arps : 0)]));
    await eventually(() => liveTunnelTx(0), want, 'flooded ARP requests on vhost 0’s tunnel ports');
    await expectReachable([[vm('a0'), vm('a3')], [vm('b3'), vm('b0')]]);

    // Back to the neighbor tables' flows, which were kept meanwhile.
    for (const i of [0, 1, 2]) {
      expect(await flood(i, false)).toEqual({ tunnels: 4, added: 0, removed: 0 });
      expect(flows(i)).toEqual(expectedFlows(i));
    }
    await expectReachable([[vm('a0'), vm('a3')], [vm('b3'), vm('b0')]]);
  });

  it('removes exactly the tunnels a smaller set leaves out with their flows, and a peer’s tunnel neighbour with its last tunnel', async () => {
    const before = tunnelPorts(0);
    const far = host(2).underlayIp;
    const smaller = tunnelsFor(0).filter((t) => !(t.vni === B && t.remoteIp === far));
    expect(await setTunnels(0, smaller)).toEqual({ tunnels: 3, added: 0, removed: 1 });
    const after = tunnelPorts(0);
    const gone = before.filter((p) => !after.some((q) => q.uuid === p.uuid));
    expect(gone.map((p) => [p.ids['merak-remote-ip'], p.ids['merak-vni']])).toEqual([[far, String(B)]]);
    // The others are the very same rows.
    expect(after).toEqual(before.filter((p) => p !== gone[0]));
    // VPC B's VMs on vhost 2 lost their flows on vhost 0; vhost 2 is still a peer (VPC A).
    expect(flows(0)).toEqual(expectedFlows(0, smaller));
    expect(tunnelNeighbours(0)).toEqual(peersOf(tunnelsFor(0)));
    await expectUnreachable([[vm('b0'), vm('b4').ip]]);

    // The last tunnel to vhost 2 goes: so does its tunnel neighbour, and vhost 1's stays.
    const without2 = tunnelsFor(0).filter((t) => t.remoteIp !== far);
    expect(await setTunnels(0, without2)).toEqual({ tunnels: 2, added: 0, removed: 1 });
    expect(tunnelNeighbours(0)).toEqual(peersOf(without2));
    expect(tunnelNeighbours(0).map((n) => n.ip)).toEqual([host(1).underlayIp]);
    expect(flows(0)).toEqual(expectedFlows(0, without2));
    await expectUnreachable([[vm('a0'), vm('a3').ip]]);

    expect(await setTunnels(0, tunnelsFor(0))).toEqual({ tunnels: 4, added: 2, removed: 0 });
    expect(tunnelNeighbours(0)).toEqual(peersOf(tunnelsFor(0)));
    expect(flows(0)).toEqual(expectedFlows(0));
    await expectReachable([[vm('b0'), vm('b4')], [vm('a0'), vm('a3')], [vm('b4'), vm('b1')], [vm('a3'), vm('a1')]]);
  });

  it('applies a tunnel delta (UpdateTunnels) to just the ports and flows it names, and refuses one that does not fit the set', async () => {
    const before = tunnelPorts(0);
    const far = host(2).underlayIp;
    const key = { remoteIp: far, vni: B };
    const smaller = tunnelsFor(0).filter((t) => !(t.vni === B && t.remoteIp === far));
    expect(await updateTunnels(0, { remove: [key] })).toEqual({ tunnels: 3, added: 0, removed: 1 });
    const after = tunnelPorts(0);
    expect(after).toEqual(before.filter((p) => !(p.ids['merak-remote-ip'] === far && p.ids['merak-vni'] === String(B))));
    expect(flows(0)).toEqual(expectedFlows(0, smaller));
    expect(tunnelNeighbours(0)).toEqual(peersOf(tunnelsFor(0)));
    await expectUnreachable([[vm('b0'), vm('b4').ip]]);
    // Another type or flood than the set's, or no set known: refused, nothing changes; the caller sends the whole set.
    for (const req of [{ type: GENEVE }, { flood: true }]) {
      const err = (await updateTunnels(0, { ...req, upsert: tunnelsFor(0) }).catch((e: ServiceError) => e)) as ServiceError;
      expect(err.code).toBe(status.FAILED_PRECONDITION);
      expect(err.details).toMatch(/send the whole set/);
    }
    const bad = (await updateTunnels(0, { upsert: [{ remoteIp: far, vni: B, remoteMac: '' }], remove: [key] }).catch((e: ServiceError) => e)) as ServiceError;
    expect([bad.code, bad.details]).toEqual([status.INVALID_ARGUMENT, expect.stringContaining('remove[0]:')]);
    expect(tunnelPorts(0)).toEqual(after);
    // Back: one port added, the others the very same rows, the flows of vhost 2's VPC B VMs again.
    expect(await updateTunnels(0, { upsert: tunnelsFor(0).filter((t) => t.remoteIp === far) })).toEqual({ tunnels: 4, added: 1, removed: 0 });
    expect(tunnelPorts(0).filter((p) => before.some((q) => q.uuid === p.uuid))).toHaveLength(3);
    expect(flows(0)).toEqual(expectedFlows(0));
    await expectReachable([[vm('b0'), vm('b4')], [vm('a0'), vm('a3')]]);
    // The same set in the packed form the coordinator sends (per VNI: every member's address and
    // MAC, this vhost's own among them, skipped): nothing changes.
    const groups = [A, B].map((vni): agentV1.TunnelGroup => {
      const ts = [...tunnelsFor(0).filter((t) => t.vni === vni), { remoteIp: host(0).underlayIp, vni, remoteMac: underlayMacs[0]! }];
      return { vni, remoteIpv4: Buffer.from(ts.flatMap((t) => t.remoteIp.split('.').map(Number))), remoteMac: Buffer.concat(ts.map((t) => Buffer.from(t.remoteMac.split(':').map((x) => parseInt(x, 16))))) };
    });
    const ports = tunnelPorts(0);
    expect(await host(0).client.setTunnels({ tunnels: [], groups, type: VXLAN, flood: false })).toEqual({ tunnels: 4, added: 0, removed: 0 });
    expect(tunnelPorts(0)).toEqual(ports);
    expect(tunnelNeighbours(0)).toEqual(peersOf(tunnelsFor(0)));
  });

  it('forgets a deleted VM on every vhost: no flow names it, and nothing answers for it', async () => {
    const gone = vm('b4');
    expect((await apply(gone.host, [del(gone.spec)]))[0]!.status).toBe(agentV1.VmStatus.VM_STATUS_DELETED);
    const key = { vni: gone.vni, ip: gone.ip };
    const rest = vms.filter((v) => v !== gone);
    for (const i of [0, 1, 2]) {
      const res = await updateNeighbors(i, { remove: [key] });
      const remote = gone.host !== i;
      expect(res, `vhost ${i}`).toMatchObject({ neighbors: 8, flows: expectedFlows(i, tunnelsFor(i), neighborsFor(i, rest)).length, flowsAdded: 0, flowsRemoved: remote ? 2 : 0 });
      // A key the table no longer holds is not an error, and changes nothing.
      expect(await updateNeighbors(i, { remove: [key] })).toMatchObject({ neighbors: 8, flowsAdded: 0, flowsRemoved: 0 });
    }
    vms = rest;
    for (const i of [0, 1, 2]) {
      const now = flows(i);
      expect(now.filter((f) => new RegExp(`${gone.ip.replaceAll('.', '\\.')}(?!\\d)|${gone.spec.mac}`).test(f)), `vhost ${i}`).toEqual([]);
      expect(now).toEqual(expectedFlows(i));
    }
    // Whether the asker still has its MAC in its ARP cache (b0, b1) or not (b2), nothing answers.
    await expectUnreachable([[vm('b0'), gone.ip], [vm('b1'), gone.ip], [vm('b2'), gone.ip], [vm('b3'), gone.ip]]);
  });

  it('rejects bad UpdateNeighbors input naming the field, and changes nothing', async () => {
    const before = flows(0);
    // A valid entry that would add 2 flows, beside each bad one: it must not be applied either.
    const good: agentV1.Neighbor = { vni: A, ip: '10.1.0.50', mac: '02:0a:00:00:00:50', hostIp: host(1).underlayIp };
    const second = { ...good, ip: '10.1.0.51' };
    const bad: Array<[Partial<agentV1.UpdateNeighborsRequest>, string]> = [
      [{ upsert: [{ ...good, mac: 'not-a-mac' }] }, 'upsert[0].mac'],
      [{ upsert: [{ ...good, mac: '01:00:5e:00:00:01' }] }, 'upsert[0].mac'],
      [{ upsert: [good, { ...second, hostIp: '198.51.100.300' }] }, 'upsert[1].host_ip'],
      [{ upsert: [good, { ...second, hostIp: '224.0.0.1' }] }, 'upsert[1].host_ip'],
      [{ upsert: [{ ...good, vni: 0 }] }, 'upsert[0].vni'],
      [{ upsert: [{ ...good, vni: 1 << 24 }] }, 'upsert[0].vni'],
      [{ upsert: [{ ...good, ip: '10.1.0' }] }, 'upsert[0].ip'],
      [{ upsert: [good, good] }, 'upsert[1]'],
      [{ upsert: [good], remove: [{ vni: 0, ip: vm('a2').ip }] }, 'remove[0].vni'],
      [{ upsert: [good], remove: [{ vni: A, ip: 'nowhere' }] }, 'remove[0].ip'],
      [{ upsert: [good], remove: [{ vni: A, ip: vm('a2').ip }], replace: true }, 'remove'],
    ];
    for (const [req, field] of bad) {
      const err = (await updateNeighbors(0, req).catch((e: ServiceError) => e)) as ServiceError;
      expect(err.code, field).toBe(status.INVALID_ARGUMENT);
      expect(err.details, field).toContain(`${field}:`);
    }
    expect(flows(0)).toEqual(before);
    // The table too: an empty change reports it as it was.
    expect(await updateNeighbors(0, {})).toMatchObject({ neighbors: neighborsFor(0).length, flows: before.length, flowsAdded: 0, flowsRemoved: 0 });
  });

  it('keeps the VNI to VLAN map, the underlay and br-tun’s flows through SIGKILL and restart of an agent, and takes the whole table again', async () => {
    const h = host(1);
    const addrBefore = ipJson<unknown[]>(h.name, 'addr', 'show', 'dev', 'br-phy');
    const flowsBefore = flows(1);
    expect(flowsBefore).toEqual(expectedFlows(1));
    const oldPid = h.agentPid;
    await h.killAgent();
    // The bridge keeps its flows while the agent is away, and the restarted agent, whose table is
    // empty, leaves them until the control plane speaks: traffic goes on meanwhile.
    expect(flows(1)).toEqual(flowsBefore);
    await h.restartAgent();
    expect(h.agentPid).not.toBe(oldPid);
    expect(flows(1)).toEqual(flowsBefore);
    await expectReachable([[vm('a2'), vm('a0')], [vm('b2'), vm('b3')]]);
    expect(ipJson<unknown[]>(h.name, 'addr', 'show', 'dev', 'br-phy')).toEqual(addrBefore);
    expect(await h.client.info()).toMatchObject({ underlayIp: h.underlayIp, underlayMac: underlayMacs[1] });
    const log = readFileSync(join(h.dir, 'agent.log'), 'utf8').trim().split('\n');
    const lastStart = log.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; changes?: string[] }).filter((l) => l.msg.startsWith('underlay')).pop();
    expect(lastStart).toMatchObject({ msg: 'underlay already in place', changes: [] });

    // What the coordinator does when an agent registers again: its tunnels, then its whole table.
    expect(await setTunnels(1, tunnelsFor(1))).toEqual({ tunnels: 4, added: 0, removed: 0 });
    expect(await updateNeighbors(1, { upsert: neighborsFor(1), replace: true })).toMatchObject({ neighbors: neighborsFor(1).length, flows: flowsBefore.length });
    expect(flows(1)).toEqual(flowsBefore);
    expect(tunnelNeighbours(1)).toEqual(peersOf(tunnelsFor(1)));

    // A new VM of VPC A on vhost 1 gets A's VLAN there (2; the lowest free would be 3), and every
    // vhost of VPC A is told of it.
    const a4 = makeVm('a4', 1, A, '10.1.0.7', 20);
    const [r] = await apply(1, [create(a4.spec)]);
    expect(r!.status).toBe(agentV1.VmStatus.VM_STATUS_READY);
    expect(tagOf(a4, r!.portName)).toBe(2);
    portOf.set(a4.key, r!.portName);
    vms = [...vms, a4];
    for (const i of [0, 1, 2]) {
      expect(await updateNeighbors(i, { upsert: [neighbor(a4)] })).toMatchObject({ neighbors: neighborsFor(i).length, flowsAdded: i === 1 ? 0 : 2, flowsRemoved: 0 });
      expect(flows(i)).toEqual(expectedFlows(i));
    }
    await expectReachable(vms.filter((v) => v.vni === A && v !== a4).flatMap((t): Array<[Vm, Vm]> => [[a4, t], [t, a4]]));
    const deadline = Date.now() + 10_000;
    while (!registry.get(h.name)?.connected && Date.now() < deadline) await sleep(50);
    expect(registry.get(h.name)).toMatchObject({ connected: true, underlayIp: h.underlayIp });
  });

  it('restores br-tun’s flows and the tunnel neighbours by itself after ovs-vswitchd restarts', async () => {
    // Vhost 2 has only veth VMs: an OVS internal port moved into a VM's namespace does not come
    // back with a userspace vswitchd (it makes a new tap in the vhost's namespace instead).
    const h = host(2);
    const flowsBefore = flows(2);
    expect(flowsBefore).toEqual(expectedFlows(2));
    const neighboursBefore = tunnelNeighbours(2);
    expect(neighboursBefore).toEqual(peersOf(tunnelsFor(2)));
    const oldPid = h.vswitchdPid;
    await h.restartVswitchd();
    expect(h.vswitchdPid).not.toBe(oldPid);
    // The record follows, so a teardown from any process stops the new vswitchd.
    expect(readState(stateDir)!.vhosts[2]!.processes.vswitchd?.pid).toBe(h.vswitchdPid);
    // No call from the control plane: the agent sees its OpenFlow connection close, reconnects,
    // and rewrites every flow from its table.
    await eventually(() => flowsIfUp(2), flowsBefore, 'br-tun flows after the restart');
    await eventually(() => tunnelNeighbours(2), neighboursBefore, 'tunnel neighbours after the restart');
    let ready = await httpGet(h.httpSocket, '/readyz');
    for (const until = Date.now() + 10_000; ready.code !== 200 && Date.now() < until; ready = await httpGet(h.httpSocket, '/readyz')) await sleep(100);
    expect(ready).toMatchObject({ code: 200, body: expect.stringMatching(/underlay: ok/) });
    expect(await h.client.info()).toMatchObject({ underlayMac: underlayMacs[2] });
    await expectReachable([[vm('a3'), vm('a0')], [vm('a2'), vm('a3')], [vm('b3'), vm('b0')], [vm('b2'), vm('b3')], [vm('a3'), vm('a4')]]);
  });

  it('rejects bad SetTunnels input naming the field, and changes nothing', async () => {
    const before = tunnelPorts(2);
    const flowsBefore = flows(2);
    const good = tunnelsFor(2);
    const group = (ips: number[], vni = A, macs = Buffer.alloc(0)): agentV1.TunnelGroup => ({ vni, remoteIpv4: Buffer.from(ips), remoteMac: macs });
    const bad: Array<[Omit<agentV1.SetTunnelsRequest, 'groups'> & { groups?: agentV1.TunnelGroup[] }, string]> = [
      // The packed form: whole addresses, a MAC each or none, and no tunnel twice across both forms.
      [{ tunnels: good, groups: [group([198, 51, 100, 7, 1])], type: 0, flood: false }, 'groups[0].remote_ipv4'],
      [{ tunnels: good, groups: [group([198, 51, 100, 7], A, Buffer.alloc(5))], type: 0, flood: false }, 'groups[0].remote_mac'],
      [{ tunnels: good, groups: [group([...host(0).underlayIp.split('.').map(Number)], good[0]!.vni)], type: 0, flood: false }, 'groups[0].remote_ipv4[0]'],
      [{ tunnels: [...good, { remoteIp: '198.51.100.300', vni: A, remoteMac: '' }], type: 0, flood: false }, 'tunnels[4].remote_ip'],
      [{ tunnels: [{ remoteIp: '127.0.0.1', vni: A, remoteMac: '' }], type: 0, flood: false }, 'tunnels[0].remote_ip'],
      [{ tunnels: [{ remoteIp: host(0).underlayIp, vni: 0, remoteMac: '' }], type: 0, flood: false }, 'tunnels[0].vni'],
      [{ tunnels: [{ remoteIp: host(0).underlayIp, vni: 1 << 24, remoteMac: '' }], type: 0, flood: false }, 'tunnels[0].vni'],
      [{ tunnels: [{ remoteIp: host(0).underlayIp, vni: A, remoteMac: 'ff:ff:ff:ff:ff:ff' }], type: 0, flood: false }, 'tunnels[0].remote_mac'],
      [{ tunnels: [...good.slice(0, 1), { ...good[1]!, remoteMac: '02:00:00:00:00' }], type: 0, flood: false }, 'tunnels[1].remote_mac'],
      [{ tunnels: [...good, good[1]!], type: 0, flood: false }, 'tunnels[4]'],
      [{ tunnels: good, type: 7 as agentV1.TunnelType, flood: false }, 'type'],
      // A tunnel to itself: only the agent knows its own address.
      [{ tunnels: [...good, { remoteIp: host(2).underlayIp, vni: A, remoteMac: '' }], type: 0, flood: false }, 'tunnels[4].remote_ip'],
    ];
    for (const [req, field] of bad) {
      const err = (await host(2).client.setTunnels(req).catch((e: ServiceError) => e)) as ServiceError;
      expect(err.code, field).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toContain(`${field}:`);
    }
    expect(tunnelPorts(2)).toEqual(before);
    expect(flows(2)).toEqual(flowsBefore);
    expect(tunnelNeighbours(2)).toEqual(peersOf(good));
  });

  it('fails a VM cleanly when all 4094 VLANs are taken, and a tunnel set that needs one more', async () => {
    const h = host(2);
    // VPCs A and B hold VLANs 1 and 2 on vhost 2; tunnels of 4092 more VNIs (to an address no
    // vhost has) take the rest.
    const extra: agentV1.Tunnel[] = [];
    for (let vni = 1; extra.length < 4092; vni++) if (vni !== A && vni !== B) extra.push({ remoteIp: '198.51.100.250', vni, remoteMac: '' });
    const full = [...tunnelsFor(2), ...extra];
    expect(await setTunnels(2, full)).toEqual({ tunnels: 4096, added: 4092, removed: 0 });
    const portsBefore = vsctl(h.dbSocket, 'list-ports', 'br-int');
    const tunBefore = vsctl(h.dbSocket, 'list-ports', 'br-tun');
    const linksBefore = ipJson<Array<{ ifname: string }>>(h.name, 'link', 'show').map((l) => l.ifname).sort();

    const c5 = makeVm('c5', 2, 5000, '10.5.0.2', 30);
    const [r] = await apply(2, [create(c5.spec)]);
    expect(r).toMatchObject({ status: agentV1.VmStatus.VM_STATUS_FAILED, error: { code: 'CAPACITY', step: 'attach' } });
    expect(r!.error!.message).toMatch(/no local VLAN left for VNI 5000: all 4094 VLANs/);
    // The port is queued at attach and waited for at ready (the VM is configured meanwhile); the refusal is reported as attach's.
    expect(r!.steps.map((s) => s.step)).toEqual(['namespace', 'port', 'attach', 'configure', 'ready', 'undo:attach', 'undo:port', 'undo:namespace']);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(c5.spec.name);
    expect(vsctl(h.dbSocket, 'list-ports', 'br-int')).toBe(portsBefore);
    const deadline = Date.now() + 5000;
    let links: string[] = [];
    do links = ipJson<Array<{ ifname: string }>>(h.name, 'link', 'show').map((l) => l.ifname).sort();
    while (links.length !== linksBefore.length && Date.now() < deadline);
    expect(links).toEqual(linksBefore);

    const tooMany = (await setTunnels(2, [...full, { remoteIp: '198.51.100.250', vni: 9000, remoteMac: '' }]).catch((e: ServiceError) => e)) as ServiceError;
    expect(tooMany.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(tooMany.details).toMatch(/no local VLAN left for VNI 9000/);
    expect(vsctl(h.dbSocket, 'list-ports', 'br-int')).toBe(portsBefore);
    expect(vsctl(h.dbSocket, 'list-ports', 'br-tun')).toBe(tunBefore);

    // Back to the real set: the 4092 go with their ingress flows, their VLANs are free again, and the VM fits.
    expect(await setTunnels(2, tunnelsFor(2))).toEqual({ tunnels: 4, added: 0, removed: 4092 });
    expect(flows(2)).toEqual(expectedFlows(2));
    const [again] = await apply(2, [create(c5.spec)]);
    expect(again!.status).toBe(agentV1.VmStatus.VM_STATUS_READY);
    expect(tagOf(c5, again!.portName)).toBe(3);
    expect((await apply(2, [del(c5.spec)]))[0]!.status).toBe(agentV1.VmStatus.VM_STATUS_DELETED);
  }, 180_000);

  it('switches every tunnel to Geneve, moves the flows to the new ports and still connects both VPCs', async () => {
    for (const i of [0, 1, 2]) expect(await setTunnels(i, tunnelsFor(i), GENEVE)).toEqual({ tunnels: 4, added: 4, removed: 4 });
    for (const i of [0, 1, 2]) {
      expect(tunnelPorts(i).map((p) => [p.type, p.name[0], p.bridge])).toEqual(Array.from({ length: 4 }, () => ['geneve', 'g', 'br-tun']));
      expect(flows(i)).toEqual(expectedFlows(i));
      expect(tunnelNeighbours(i)).toEqual(peersOf(tunnelsFor(i)));
    }
    await expectReachable([[vm('a0'), vm('a3')], [vm('b0'), vm('b3')], [vm('b2'), vm('b1')], [vm('a4'), vm('a1')]]);
  });
});
