// The standalone data plane end to end: 3 vhosts (each its own namespace, OVS on the userspace
// datapath and agent process) on an underlay bridge, registered with a coordinator over a unix
// socket; two VPCs (VNI 1001, 1002) with overlapping IPs; tunnels set through each agent's
// SetTunnels as a minimal control plane would. Every effect is checked from the VMs themselves
// (ping, neighbour tables, TCP) and with ip and ovs-vsctl.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials, status, type ServiceError } from '@grpc/grpc-js';
import { requireToken } from '@merak/agent';
import { agentV1, coordinatorV1 } from '@merak/proto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmulatedVhost, type LocalEmulation, startLocalEmulation } from '../../coordinator/index.js';
import { AgentRegistry } from '../../coordinator/registry/agent-registry.js';
import { ScenarioEngine } from '../../coordinator/engine/scenario-engine.js';
import { createCoordinatorService } from '../../coordinator/server/coordinator-service.js';
import { Store } from '../../coordinator/store/store.js';
import { httpGet, ipJson, requireRoot, sweepEmulation, uniquePrefix, vsctl, vsctlList } from '../fixtures/local-emulation.js';

const TOKEN = 'dataplane-test-token';
const A = 1001;
const B = 1002;

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

/** What a minimal control plane sends vhost `i`: every (other vhost, VNI) both have VMs in. */
function tunnelsFor(i: number, all: readonly Vm[] = vms): agentV1.Tunnel[] {
  const out: agentV1.Tunnel[] = [];
  for (const vni of [...new Set(all.filter((v) => v.host === i).map((v) => v.vni))].sort()) {
    for (const peer of [...new Set(all.filter((v) => v.vni === vni && v.host !== i).map((v) => v.host))].sort()) out.push({ remoteIp: host(peer).underlayIp, vni });
  }
  return out;
}

const setTunnels = (i: number, tunnels: agentV1.Tunnel[], type = agentV1.TunnelType.TUNNEL_TYPE_VXLAN): Promise<agentV1.SetTunnelsResponse> =>
  host(i).client.setTunnels({ tunnels, type });

/** The tunnel ports on a vhost's br-int, as ovs-vsctl shows them. */
function tunnelPorts(i: number): Array<{ uuid: string; name: string; tag: unknown; protected: unknown; ids: Record<string, string>; type: string; options: Record<string, string> }> {
  const ifaces = new Map(vsctlList(host(i).dbSocket, 'Interface', ['name', 'type', 'options']).map((r) => [r.name as string, r]));
  return vsctlList(host(i).dbSocket, 'Port', ['_uuid', 'name', 'tag', 'protected', 'external_ids'])
    .filter((p) => (p.external_ids as Record<string, string>)['merak-role'] === 'tunnel')
    .map((p) => ({
      uuid: p._uuid as string, name: p.name as string, tag: p.tag, protected: p.protected, ids: p.external_ids as Record<string, string>,
      type: ifaces.get(p.name as string)!.type as string, options: ifaces.get(p.name as string)!.options as Record<string, string>,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Port.tag of a VM's port, as ovs-vsctl shows it. */
const tagOf = (v: Vm, portName: string): number => Number(vsctl(host(v.host).dbSocket, 'get', 'Port', portName, 'tag').trim());

/** Pings from each source to its targets, from inside the VMs; one result per (source, target). */
async function ping(pairs: Array<[Vm, string]>, count: number, timeoutMs: number): Promise<Map<string, agentV1.PingResult>> {
  const out = new Map<string, agentV1.PingResult>();
  for (const i of [0, 1, 2]) {
    const bySource = new Map<string, string[]>();
    for (const [s, t] of pairs) if (s.host === i) bySource.set(s.spec.name, [...(bySource.get(s.spec.name) ?? []), t]);
    if (bySource.size === 0) continue;
    const res = await host(i).client.ping({ sources: [...bySource].map(([v, targets]) => ({ vm: v, targets })), count, intervalMs: 100, timeoutMs });
    for (const r of res.results) out.set(`${r.vm}>${r.target}`, r);
  }
  return out;
}

/**
 * Same-VPC pairs must answer every echo. The first packet towards a new VTEP is lost while OVS
 * resolves the underlay neighbour (docs/data-plane.md §2), so one unchecked echo goes first.
 */
async function expectReachable(pairs: Array<[Vm, Vm]>): Promise<void> {
  const targets = pairs.map(([s, t]): [Vm, string] => [s, t.ip]);
  await ping(targets, 1, 1500);
  const res = await ping(targets, 3, 2000);
  for (const [s, t] of pairs) {
    expect(res.get(`${s.spec.name}>${t.ip}`), `${s.key} -> ${t.key} (${t.ip})`).toMatchObject({ sent: 3, received: 3, error: '' });
  }
}

const neighbours = (v: Vm): Array<{ dst: string; lladdr?: string }> => ipJson(v.spec.name, 'neigh', 'show', 'dev', 'eth0');

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
  while (registry.connected().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  vms = layout.map(([key, h, vni, ip], n) => makeVm(key, h, vni, ip, n));
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
    expect(em.vhosts.map((v) => v.underlayIp)).toEqual(['198.51.100.1', '198.51.100.2', '198.51.100.3']);
    expect(registry.connected().map((a) => [a.name, a.underlayIp, a.address])).toEqual(em.vhosts.map((v) => [v.name, v.underlayIp, v.grpcAddress]));
    for (const v of em.vhosts) {
      expect((await v.client.info()).underlayIp).toBe(v.underlayIp);
      // The address moved from eth0 to br-phy, and eth0 is br-phy's port.
      expect(ipJson<Array<{ addr_info: Array<{ local: string; prefixlen: number; family: string }> }>>(v.name, 'addr', 'show', 'dev', 'br-phy')[0]!.addr_info)
        .toEqual([expect.objectContaining({ family: 'inet', local: v.underlayIp, prefixlen: 24 })]);
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

  it('creates VMs of two VPCs with overlapping IPs, each VPC on its own local VLAN per vhost', async () => {
    // On vhost 1 VPC B comes first, so there B has VLAN 1 and A VLAN 2 (elsewhere A has 1).
    const order = [...vms.filter((v) => v.host !== 1 || v.vni === B), ...vms.filter((v) => v.host === 1 && v.vni === A)];
    const ports = new Map<string, string>();
    for (const v of order) {
      const [r] = await apply(v.host, [create(v.spec)]);
      expect(r!.error?.message ?? '', v.key).toBe('');
      expect(r!.status).toBe(agentV1.VmStatus.VM_STATUS_READY);
      ports.set(v.key, r!.portName);
    }
    const expected = (v: Vm): number => (v.host === 1 ? (v.vni === B ? 1 : 2) : v.vni === A ? 1 : 2);
    for (const v of vms) expect(tagOf(v, ports.get(v.key)!), v.key).toBe(expected(v));
    expect(vsctl(host(0).dbSocket, 'get', 'Interface', ports.get('b1')!, 'type').trim()).toBe('internal');
    for (const i of [0, 1, 2]) {
      const listed = (await host(i).client.listVms()).vms.map((s) => [s.name, s.vni, s.complete]).sort();
      expect(listed).toEqual(vms.filter((v) => v.host === i).map((v) => [v.spec.name, v.vni, true]).sort());
    }
    expect(ipJson<Array<{ mtu: number }>>(vm('a0').spec.name, 'link', 'show', 'dev', 'eth0')[0]!.mtu).toBe(1450);
  });

  it('sets the tunnels a minimal control plane sends: protected access ports, one per (peer, VNI)', async () => {
    for (const i of [0, 1, 2]) {
      const want = tunnelsFor(i);
      expect(want).toHaveLength(4);
      expect(await setTunnels(i, want)).toEqual({ tunnels: 4, added: 4, removed: 0 });
      // The same set again changes nothing.
      expect(await setTunnels(i, want)).toEqual({ tunnels: 4, added: 0, removed: 0 });
      const vlan = (vni: number): number => (i === 1 ? (vni === B ? 1 : 2) : vni === A ? 1 : 2);
      expect(tunnelPorts(i).map((p) => ({ ...p, uuid: undefined, name: undefined }))).toEqual(
        want.map((t) => ({
          uuid: undefined, name: undefined, tag: vlan(t.vni), protected: true, type: 'vxlan', options: { key: String(t.vni), remote_ip: t.remoteIp },
          ids: { 'merak-vhost': host(i).name, 'merak-role': 'tunnel', 'merak-vni': String(t.vni), 'merak-remote-ip': t.remoteIp, 'merak-tunnel-type': 'vxlan' },
        })).sort((a, b) => `${a.options.remote_ip}/${a.options.key}`.localeCompare(`${b.options.remote_ip}/${b.options.key}`)),
      );
    }
  });

  it('lets every same-VPC pair ping, across and within vhosts, and answers with the right MAC', async () => {
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
    const res = await ping(probes, 2, 1000);
    for (const [s, ip] of probes) expect(res.get(`${s.spec.name}>${ip}`), `${s.key} -> ${ip}`).toMatchObject({ sent: 2, received: 0 });
    for (const s of vms) {
      const others = new Set(vms.filter((v) => v.vni !== s.vni).map((v) => v.spec.mac));
      expect(neighbours(s).filter((n) => n.lladdr !== undefined && others.has(n.lladdr)), s.key).toEqual([]);
    }
  });

  it('carries TCP across vhosts, each VPC to its own VM at the same address', async () => {
    // 10.1.0.2 is a2 (vhost 1) in VPC A and b3 (vhost 2) in VPC B.
    const payload = 256 * 1024;
    const digest = createHash('sha256').update(Buffer.alloc(payload, 'merak')).digest('hex');
    expect(await tcpExchange(vm('a0'), vm('a2'), payload)).toBe(`a2 ${payload} ${digest}`);
    expect(await tcpExchange(vm('b0'), vm('b3'), payload)).toBe(`b3 ${payload} ${digest}`);
  }, 60_000);

  it('removes exactly the tunnels a smaller set leaves out, and adds them back', async () => {
    const before = tunnelPorts(0);
    const smaller = tunnelsFor(0).filter((t) => !(t.vni === B && t.remoteIp === host(2).underlayIp));
    expect(await setTunnels(0, smaller)).toEqual({ tunnels: 3, added: 0, removed: 1 });
    const after = tunnelPorts(0);
    const gone = before.filter((p) => !after.some((q) => q.uuid === p.uuid));
    expect(gone.map((p) => [p.ids['merak-remote-ip'], p.ids['merak-vni']])).toEqual([[host(2).underlayIp, String(B)]]);
    // The others are the very same rows.
    expect(after).toEqual(before.filter((p) => p !== gone[0]));
    const res = await ping([[vm('b0'), vm('b4').ip]], 2, 1000);
    expect(res.get(`${vm('b0').spec.name}>${vm('b4').ip}`)).toMatchObject({ received: 0 });
    expect(await setTunnels(0, tunnelsFor(0))).toEqual({ tunnels: 4, added: 1, removed: 0 });
    await expectReachable([[vm('b0'), vm('b4')]]);
  });

  it('keeps the VNI to VLAN map and the underlay after SIGKILL and restart of an agent', async () => {
    const h = host(1);
    const addrBefore = ipJson<unknown[]>(h.name, 'addr', 'show', 'dev', 'br-phy');
    const oldPid = h.agentPid;
    await h.killAgent();
    await h.restartAgent();
    expect(h.agentPid).not.toBe(oldPid);
    expect(ipJson<unknown[]>(h.name, 'addr', 'show', 'dev', 'br-phy')).toEqual(addrBefore);
    expect((await h.client.info()).underlayIp).toBe(h.underlayIp);
    const log = readFileSync(join(h.dir, 'agent.log'), 'utf8').trim().split('\n');
    const lastStart = log.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; changes?: string[] }).filter((l) => l.msg.startsWith('underlay')).pop();
    expect(lastStart).toMatchObject({ msg: 'underlay already in place', changes: [] });
    // A new VM of VPC A on vhost 1 gets A's VLAN there (2; the lowest free would be 3).
    const a4 = makeVm('a4', 1, A, '10.1.0.7', 20);
    const [r] = await apply(1, [create(a4.spec)]);
    expect(r!.status).toBe(agentV1.VmStatus.VM_STATUS_READY);
    expect(tagOf(a4, r!.portName)).toBe(2);
    vms = [...vms, a4];
    await expectReachable(vms.filter((v) => v.vni === A && v !== a4).flatMap((t): Array<[Vm, Vm]> => [[a4, t], [t, a4]]));
    const deadline = Date.now() + 10_000;
    while (!registry.get(h.name)?.connected && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    expect(registry.get(h.name)).toMatchObject({ connected: true, underlayIp: h.underlayIp });
  });

  it('rejects bad SetTunnels input naming the field, and changes nothing', async () => {
    const before = tunnelPorts(2);
    const good = tunnelsFor(2);
    const bad: Array<[agentV1.SetTunnelsRequest, string]> = [
      [{ tunnels: [...good, { remoteIp: '198.51.100.300', vni: A }], type: 0 }, 'tunnels[4].remote_ip'],
      [{ tunnels: [{ remoteIp: '127.0.0.1', vni: A }], type: 0 }, 'tunnels[0].remote_ip'],
      [{ tunnels: [{ remoteIp: host(0).underlayIp, vni: 0 }], type: 0 }, 'tunnels[0].vni'],
      [{ tunnels: [{ remoteIp: host(0).underlayIp, vni: 1 << 24 }], type: 0 }, 'tunnels[0].vni'],
      [{ tunnels: [...good, good[1]!], type: 0 }, 'tunnels[4]'],
      [{ tunnels: good, type: 7 as agentV1.TunnelType }, 'type'],
      // A tunnel to itself: only the agent knows its own address.
      [{ tunnels: [...good, { remoteIp: host(2).underlayIp, vni: A }], type: 0 }, 'tunnels[4].remote_ip'],
    ];
    for (const [req, field] of bad) {
      const err = (await host(2).client.setTunnels(req).catch((e: ServiceError) => e)) as ServiceError;
      expect(err.code, field).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toContain(`${field}:`);
    }
    expect(tunnelPorts(2)).toEqual(before);
  });

  it('fails a VM cleanly when all 4094 VLANs are taken, and a tunnel set that needs one more', async () => {
    const h = host(2);
    // VPCs A and B hold VLANs 1 and 2 on vhost 2; tunnels of 4092 more VNIs (to an address no
    // vhost has) take the rest.
    const extra: agentV1.Tunnel[] = [];
    for (let vni = 1; extra.length < 4092; vni++) if (vni !== A && vni !== B) extra.push({ remoteIp: '198.51.100.250', vni });
    const full = [...tunnelsFor(2), ...extra];
    expect(await setTunnels(2, full)).toEqual({ tunnels: 4096, added: 4092, removed: 0 });
    const portsBefore = vsctl(h.dbSocket, 'list-ports', 'br-int');
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

    const tooMany = (await setTunnels(2, [...full, { remoteIp: '198.51.100.250', vni: 9000 }]).catch((e: ServiceError) => e)) as ServiceError;
    expect(tooMany.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(tooMany.details).toMatch(/no local VLAN left for VNI 9000/);
    expect(vsctl(h.dbSocket, 'list-ports', 'br-int')).toBe(portsBefore);

    // Back to the real set: the 4092 go, their VLANs are free again, and the VM fits.
    expect(await setTunnels(2, tunnelsFor(2))).toEqual({ tunnels: 4, added: 0, removed: 4092 });
    const [again] = await apply(2, [create(c5.spec)]);
    expect(again!.status).toBe(agentV1.VmStatus.VM_STATUS_READY);
    expect(tagOf(c5, again!.portName)).toBe(3);
    expect((await apply(2, [del(c5.spec)]))[0]!.status).toBe(agentV1.VmStatus.VM_STATUS_DELETED);
  }, 180_000);

  it('switches every tunnel to Geneve and still connects both VPCs', async () => {
    for (const i of [0, 1, 2]) expect(await setTunnels(i, tunnelsFor(i), agentV1.TunnelType.TUNNEL_TYPE_GENEVE)).toEqual({ tunnels: 4, added: 4, removed: 4 });
    expect(tunnelPorts(0).map((p) => [p.type, p.name[0]])).toEqual(Array.from({ length: 4 }, () => ['geneve', 'g']));
    await expectReachable([[vm('a0'), vm('a3')], [vm('b0'), vm('b3')], [vm('b2'), vm('b1')]]);
  });
});
