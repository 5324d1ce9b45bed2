// Conformance of the agent's GoalState server on a real vhost: a real agent process (--goalstate
// 0.0.0.0:50001 in its namespace, OVS on the userspace datapath) driven over TCP from this machine's
// address on the underlay, as Alcor's NCM drives a host, with hand-built messages covering every
// state type and operation: warm-up, a bind, malformed states, PENDING, deletes, v1, a restart.
// Checked: the replies, and OVS itself (ovs-vsctl for port tags and tunnel ports, ovs-ofctl on
// br-tun for the neighbor flows).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { alcor } from '@merak/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tunnelPortName } from '../../agent/overlay/index.js';
import { type LocalEmulation, startLocalEmulation } from '../../lab/local/emulation.js';
import { namespacesWithPrefix, requireRoot, sweepEmulation, uniquePrefix } from '../fixtures/local-emulation.js';
import { NcmLikeClient } from './client.js';
import { dhcpState, emptyV2, neighborState, portState, routerState, securityGroupState, statusesOf, subnetState, vpcState } from './messages.js';

const { OperationType: Op } = alcor;
const VPC = 'c0ffee00-0000-4000-8000-000000000001';
const SUBNET = 'c0ffee00-0000-4000-8000-000000000002';
const VNI = 4711;
const FAR_HOST = '192.0.2.77';
const portId = (n: number): string => `${String(n).padStart(8, '0')}-0a0b-4000-8000-000000000000`;
const tap = (id: string): string => `tap${id.slice(0, 11)}`;
const mac = (n: number): string => `fa:16:3e:00:00:${n.toString(16).padStart(2, '0')}`;

requireRoot();
const prefix = uniquePrefix('gc');
const dir = mkdtempSync(join(tmpdir(), 'merak-goalstate-conformance-'));
let emulation: LocalEmulation;
let client: NcmLikeClient;
let self = '';
let peer = '';

const sh = (cmd: string, ...args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const vsctl = (...args: string[]): string => sh('ovs-vsctl', `--db=unix:${emulation.vhosts[0]!.dbSocket}`, ...args);
const tagOf = (port: string): string => vsctl('get', 'Port', port, 'tag').trim();
const idsOf = (port: string): string => vsctl('get', 'Port', port, 'external_ids').trim();
const tunnels = (): string[] => vsctl('list-ports', 'br-tun').split('\n').filter((n) => n !== '' && n !== 'patch-int').sort();
/** br-tun's flows that name `text` (e.g. a neighbor's MAC or IP), as ovs-ofctl dumps them. */
const flowsWith = (text: string): string[] =>
  sh('ovs-ofctl', '-O', 'OpenFlow13', '--no-stats', 'dump-flows', `unix:${join(dirname(emulation.vhosts[0]!.dbSocket), 'br-tun.mgmt')}`)
    .split('\n').filter((l) => l.includes(text));
const addTap = (name: string): void => void vsctl('add-port', 'br-int', name, '--', 'set', 'Interface', name, 'type=internal');

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What Alcor's NCM sends the binding host for port `n`, plus neighbors: one here, one on the peer vhost, one far away. */
function bind(n: number): alcor.GoalStateV2 {
  const m = emptyV2();
  m.hostResources[self] = { resources: [{ type: alcor.ResourceType.PORT, id: portId(n) }] };
  m.vpcStates[VPC] = vpcState(VPC);
  m.subnetStates[SUBNET] = subnetState({ id: SUBNET, vpcId: VPC, cidr: '10.9.0.0/16', vni: VNI, gatewayIp: '10.9.0.1' });
  m.portStates[portId(n)] = portState({ id: portId(n), vpcId: VPC, subnetId: SUBNET, ip: `10.9.0.${n}`, mac: mac(n) });
  m.dhcpStates[`dhcp-${n}`] = dhcpState(`dhcp-${n}`, SUBNET, mac(n), `10.9.0.${n}`);
  m.securityGroupStates['sg-web'] = securityGroupState('sg-web');
  m.routerStates['router-1'] = routerState('router-1', [SUBNET]);
  m.neighborStates[`L2/${portId(n)}`] = neighborState({ id: portId(n), vpcId: VPC, subnetId: SUBNET, ip: `10.9.0.${n}`, mac: mac(n), hostIp: self });
  m.neighborStates[`L2/${portId(100)}`] = neighborState({ id: portId(100), vpcId: VPC, subnetId: SUBNET, ip: '10.9.0.100', mac: mac(100), hostIp: peer });
  m.neighborStates[`L2/${portId(101)}`] = neighborState({ id: portId(101), vpcId: VPC, subnetId: SUBNET, ip: '10.9.0.101', mac: mac(101), hostIp: FAR_HOST });
  return m;
}

beforeAll(async () => {
  emulation = await startLocalEmulation({ prefix, hosts: 2, stateDir: join(dir, 'emulation'), hostAccess: true, goalState: true });
  self = emulation.vhosts[0]!.underlayIp;
  peer = emulation.vhosts[1]!.underlayIp;
  client = new NcmLikeClient(`${self}:50001`);
}, 120_000);

afterAll(async () => {
  client?.close();
  await emulation?.stop().catch(() => undefined);
  await sweepEmulation(join(dir, 'emulation'), prefix);
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('GoalState conformance on a real vhost', () => {
  it('answers warm-up calls that are never half-closed, one reply each, and ends them OK', async () => {
    const calls = await Promise.all([1, 2, 3].map(() => client.push(emptyV2(), { halfClose: false })));
    for (const c of calls) {
      expect(c.code).toBe(status.OK);
      expect(c.replies).toHaveLength(1);
      expect(c.replies[0]!.operationStatuses).toEqual([]);
    }
  });

  it('programs a bind: the tap on its VNI\'s VLAN, tunnels and flows for remote neighbors only, statuses for PORT, DHCP, ROUTER', async () => {
    addTap(tap(portId(1)));
    const { replies, code } = await client.push(bind(1));
    expect(code).toBe(status.OK);
    expect(statusesOf(replies[0]!)).toEqual([
      { id: 'dhcp-1', type: 'DHCP', op: 'CREATE', status: 'SUCCESS' },
      { id: portId(1), type: 'PORT', op: 'CREATE', status: 'SUCCESS' },
      { id: 'router-1', type: 'ROUTER', op: 'INFO', status: 'SUCCESS' },
    ]);
    expect(Number(tagOf(tap(portId(1))))).toBeGreaterThan(0);
    expect(idsOf(tap(portId(1)))).toContain(`merak-vni="${VNI}"`);
    // One VXLAN port per remote host for this VNI; none for the neighbor on this host.
    expect(tunnels()).toEqual([tunnelPortName('vxlan', peer, VNI), tunnelPortName('vxlan', FAR_HOST, VNI)].sort());
    expect(flowsWith(mac(100)).length).toBeGreaterThan(0);
    expect(flowsWith('10.9.0.100').length).toBeGreaterThan(0);
    expect(flowsWith(mac(101)).length).toBeGreaterThan(0);
    expect(flowsWith(mac(1))).toEqual([]);
  });

  it('fails malformed states alone (INVALID_ARG, or FAILURE as Alcor\'s agent does) and changes nothing for them', async () => {
    for (const n of [2, 3, 4, 5]) addTap(tap(portId(n)));
    const m = emptyV2();
    m.subnetStates[SUBNET] = subnetState({ id: SUBNET, vpcId: VPC, cidr: '10.9.0.0/16', vni: VNI });
    m.subnetStates['bad-subnet'] = subnetState({ id: 'bad-subnet', vpcId: VPC, cidr: '10.8.0.0', vni: 0 });
    const p = (n: number, c: Parameters<typeof portState>[1] = {}, op?: alcor.OperationType) =>
      portState({ id: portId(n), vpcId: VPC, subnetId: SUBNET, ip: `10.9.0.${n}`, mac: mac(n), ...(op !== undefined ? { op } : {}) }, c);
    m.portStates.a = p(2, { macAddress: 'zz:zz' });
    m.portStates.b = p(3, { fixedIps: [{ subnetId: 'bad-subnet', ipAddress: '10.8.0.3' }] });
    m.portStates.c = p(4, {}, Op.GET);
    m.portStates.d = p(5, { updateType: alcor.UpdateType.DELTA });
    m.portStates.e = p(6, { id: '' });
    m.neighborStates.x = neighborState({ id: portId(102), vpcId: VPC, subnetId: SUBNET, ip: '10.9.0.102', mac: mac(102), hostIp: 'not-an-ip' });
    m.neighborStates.y = neighborState({ id: portId(103), vpcId: VPC, subnetId: SUBNET, ip: '10.9.0.103', mac: mac(103), hostIp: '' });
    m.dhcpStates.z = dhcpState('dhcp-z', SUBNET, 'nope', '10.9.0.9');
    const before = tunnels();
    const { replies } = await client.push(m);
    expect(statusesOf(replies[0]!).map((s) => `${s.type} ${s.id} ${s.op} ${s.status}`)).toEqual([
      'DHCP dhcp-z CREATE INVALID_ARG',
      `NEIGHBOR ${portId(102)} CREATE INVALID_ARG`,
      `NEIGHBOR ${portId(103)} CREATE INVALID_ARG`,
      'PORT  CREATE INVALID_ARG',
      `PORT ${portId(2)} CREATE INVALID_ARG`,
      `PORT ${portId(3)} CREATE INVALID_ARG`,
      `PORT ${portId(4)} GET FAILURE`,
      `PORT ${portId(5)} CREATE INVALID_ARG`,
    ]);
    for (const n of [2, 3, 4, 5]) expect(tagOf(tap(portId(n)))).toBe('[]');
    expect(tunnels()).toEqual(before);
    expect(flowsWith(mac(102))).toEqual([]);
  });

  it('answers PENDING for a tap OVS does not have yet and programs it once it appears', async () => {
    const { replies } = await client.push(bind(7));
    expect(statusesOf(replies[0]!).find((s) => s.type === 'PORT')).toEqual({ id: portId(7), type: 'PORT', op: 'CREATE', status: 'PENDING' });
    addTap(tap(portId(7)));
    await until('the PENDING tap tagged', () => tagOf(tap(portId(7))) !== '[]');
    expect(tagOf(tap(portId(7)))).toBe(tagOf(tap(portId(1))));
  });

  it('undoes with DELETE: the port untagged, the neighbor\'s flows gone, its tunnel gone once no neighbor needs it', async () => {
    const m = emptyV2();
    m.subnetStates[SUBNET] = subnetState({ id: SUBNET, vpcId: VPC, cidr: '10.9.0.0/16', vni: VNI });
    m.portStates[portId(7)] = portState({ id: portId(7), vpcId: VPC, subnetId: SUBNET, ip: '10.9.0.7', mac: mac(7), op: Op.DELETE });
    m.dhcpStates['dhcp-7'] = dhcpState('dhcp-7', SUBNET, mac(7), '10.9.0.7', Op.DELETE);
    m.neighborStates[`L2/${portId(101)}`] = neighborState({ id: portId(101), vpcId: VPC, subnetId: SUBNET, ip: '10.9.0.101', mac: mac(101), hostIp: FAR_HOST, op: Op.DELETE });
    const { replies } = await client.push(m);
    expect(statusesOf(replies[0]!).map((s) => `${s.type} ${s.op} ${s.status}`)).toEqual(['DHCP DELETE SUCCESS', 'PORT DELETE SUCCESS']);
    expect(tagOf(tap(portId(7)))).toBe('[]');
    expect(flowsWith(mac(101))).toEqual([]);
    expect(tunnels()).toEqual([tunnelPortName('vxlan', peer, VNI)]);
    expect(tagOf(tap(portId(1)))).not.toBe('[]');
  });

  it('takes the v1 unary push, with a status per neighbor', async () => {
    addTap(tap(portId(8)));
    const v2 = bind(8);
    const reply = await client.pushV1({
      formatVersion: 101, vpcStates: Object.values(v2.vpcStates), subnetStates: Object.values(v2.subnetStates), portStates: Object.values(v2.portStates),
      neighborStates: Object.values(v2.neighborStates).slice(0, 2), securityGroupStates: [], dhcpStates: [], routerStates: [], gatewayStates: [],
    });
    expect(statusesOf(reply).map((s) => `${s.type} ${s.id} ${s.status}`)).toEqual([`NEIGHBOR ${portId(8)} SUCCESS`, `NEIGHBOR ${portId(100)} SUCCESS`, `PORT ${portId(8)} SUCCESS`]);
    expect(tagOf(tap(portId(8)))).toBe(tagOf(tap(portId(1))));
  });

  it('keeps what it applied across a crash of the agent, and a DELETE after it still undoes it', async () => {
    const v = emulation.vhosts[0]!;
    const before = { tunnels: tunnels(), flows: flowsWith(mac(100)), tag: tagOf(tap(portId(1))) };
    await v.killAgent();
    await v.restartAgent();
    // The restarted agent serves again (it connects to OVS, reads back, then listens).
    await until('the GoalState server back', () => {
      try {
        return sh('ip', 'netns', 'exec', v.name, 'ss', '-Hltn', 'sport = :50001').trim() !== '';
      } catch {
        return false;
      }
    });
    expect({ tunnels: tunnels(), flows: flowsWith(mac(100)), tag: tagOf(tap(portId(1))) }).toEqual(before);
    const m = emptyV2();
    m.subnetStates[SUBNET] = subnetState({ id: SUBNET, vpcId: VPC, cidr: '10.9.0.0/16', vni: VNI });
    m.neighborStates[`L2/${portId(100)}`] = neighborState({ id: portId(100), vpcId: VPC, subnetId: SUBNET, ip: '10.9.0.100', mac: mac(100), hostIp: peer, op: Op.DELETE });
    const { code } = await client.push(m);
    expect(code).toBe(status.OK);
    expect(flowsWith(mac(100))).toEqual([]);
    expect(tunnels()).toEqual([]);
  }, 60_000);

  it('leaves nothing behind when the emulation goes', async () => {
    client.close();
    expect((await emulation.stop()).failed).toEqual([]);
    expect(namespacesWithPrefix(prefix)).toEqual([]);
  }, 60_000);
});
